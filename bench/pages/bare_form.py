"""Benchmark baseline: the consult form's widgets alone, echoing one value (no engine, no result panel)."""

import streamlit as st

from myelo_cds.ui.consult_form import render_form

st.title("Bare form")
values = render_form()
st.success(f"le_motor = {values.get('mjoa.le_motor')}")
