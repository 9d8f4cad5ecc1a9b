"""NoneStory entry point: the shared sidebar (profile, sign-in), then the pages this role may
see. Teacher and admin pages are listed only for their role but routed for everyone, and check
the role themselves: a direct URL gets the page's sign-in prompt and nothing else."""
from __future__ import annotations

import streamlit as st

from core.auth import Role, role_allows
from core.i18n import _
from views.sidebar import sidebar


def restricted(role: Role, path: str, title: str, icon: str, url_path: str, needed: Role) -> st.Page:
    """A teacher/admin page: listed only for that role, yet always routed (hidden otherwise), so a
    direct URL reaches the page itself, which shows the sign-in prompt and nothing else, instead
    of Streamlit's "page not found"."""
    return st.Page(path, title=title, icon=icon, url_path=url_path,
                   visibility="visible" if role_allows(role, needed) else "hidden")


st.set_page_config(page_title="NoneStory", page_icon="📖", layout="wide")

with st.sidebar:
    role = sidebar()

pages = [
    st.Page("views/pages/reader.py", title=_("Reader"), icon="📖", default=True),  # served at /
    st.Page("views/pages/generate.py", title=_("Generate"), icon="✍️", url_path="generate"),
    st.Page("views/pages/library.py", title=_("Library"), icon="📚", url_path="library"),
    st.Page("views/pages/wordlists.py", title=_("Word lists"), icon="🗂️", url_path="wordlists"),
    st.Page("views/pages/study.py", title=_("Study"), icon="🔁", url_path="study"),
    restricted(role, "views/pages/review.py", _("Review"), "🧑‍🏫", "review", Role.TEACHER),
    restricted(role, "views/pages/training.py", _("Training"), "🏋️", "training", Role.ADMIN),
    restricted(role, "views/pages/checkpoints.py", _("Checkpoints"), "🏁", "checkpoints", Role.ADMIN),
]
st.navigation(pages).run()
