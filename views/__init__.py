"""The Streamlit pages and their parts. Importing any of them registers where messages find
their language: the language the browser session chose (views.sidebar keeps it in the session
state under LANGUAGE), read afresh for every message of that session's script run, widget
callbacks and fragments included. Outside a script run (a job's worker thread) English."""
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import i18n

LANGUAGE = "ui_language"  # the session-state key of the interface language


def _session_language() -> str | None:
    if get_script_run_ctx(suppress_warning=True) is None:  # not a session's script run
        return None
    return st.session_state.get(LANGUAGE)


i18n.use_resolver(_session_language)
