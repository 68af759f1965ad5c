"""Streamlit helpers shared by the pages (the only Streamlit-aware part of myelo_cds)."""
