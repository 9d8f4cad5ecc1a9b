"""NoneStory entry point: the shared sidebar (profile, sign-in), then the pages this role may
see. Teacher and admin pages also check the role themselves, so a direct URL gets nothing."""
from __future__ import annotations

import streamlit as st

from core.auth import Role, role_allows
from views.sidebar import sidebar

st.set_page_config(page_title="NoneStory", page_icon="📖", layout="wide")

with st.sidebar:
    role = sidebar()

pages = [
    st.Page("views/reader.py", title="Reader", icon="📖", default=True),  # served at /
    st.Page("views/generate.py", title="Generate", icon="✍️", url_path="generate"),
    st.Page("views/library.py", title="Library", icon="📚", url_path="library"),
    st.Page("views/wordlists.py", title="Word lists", icon="🗂️", url_path="wordlists"),
]
if role_allows(role, Role.TEACHER):
    pages.append(st.Page("views/review.py", title="Review", icon="🧑‍🏫", url_path="review"))
if role_allows(role, Role.ADMIN):
    pages.append(st.Page("views/training.py", title="Training", icon="🏋️", url_path="training"))
    pages.append(st.Page("views/checkpoints.py", title="Checkpoints", icon="🏁", url_path="checkpoints"))
st.navigation(pages).run()
