"""Training progress: your own committed answers, accuracy by topic and over time, cases due again."""

import datetime as dt

import streamlit as st

from myelo_cds.teaching import visible_attempts
from myelo_cds.ui.current_user import require
from myelo_cds.ui.records import store
from myelo_cds.ui.teaching import library, render_progress
from myelo_cds.ui.text import plain

st.title("Training progress")
user = require("train")
# The display name is typed by an administrator (or comes from the identity provider): shown as
# the characters typed, never as markdown (a link or image in a name stays text).
name = plain(user.display_name or user.user_id)
st.caption(f"Signed in as {name} ({user.role}). Only your own answers are shown here.")
render_progress(visible_attempts(store(), user, user.user_id), library(), dt.date.today())
