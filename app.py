"""NoneStory entry point: builds the page list and the shared sidebar, then runs the page."""
from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="NoneStory", page_icon="📖", layout="wide")

with st.sidebar:
    st.text_input("Profile name", key="profile", placeholder="e.g. hana",
                  help="Students pick any name; your stories and words are kept under it.")

pages = [
    st.Page("views/reader.py", title="Reader", icon="📖", default=True),  # served at /
    st.Page("views/wordlists.py", title="Word lists", icon="🗂️", url_path="wordlists"),
]
st.navigation(pages).run()
