"""Opening a page of the whole app (app.py, so the sidebar and role checks run) in Streamlit's
AppTest, as a student with a profile open or as a signed-in teacher or admin."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page(page: str, profile: str | None = "hana", role: str | None = None) -> AppTest:
    """`page` is its file under views/pages (e.g. "study.py"); the first run must not fail."""
    at = AppTest.from_file(APP, default_timeout=60)
    if profile:
        at.session_state["profile"] = profile
    if role:
        at.session_state["role"], at.session_state["user"] = role, role
    at.run()
    at.switch_page(f"views/pages/{page}").run()
    assert not at.exception, at.exception
    return at
