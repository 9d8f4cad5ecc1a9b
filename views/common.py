"""Helpers every page shares: cached resources, the one-line error box, options shown in words."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd
import streamlit as st

from core import settings, store
from core.analysis import Analysis, analyze, headword
from core.i18n import _


@st.cache_resource(show_spinner=False)
def _database(path: str) -> store.Database:
    return store.Database(path)


def database() -> store.Database | None:
    """The app's database, or None after showing why it cannot be opened."""
    try:
        return _database(str(settings.paths().db))
    except store.StoreError as exc:
        st.error(str(exc))
        return None


@st.cache_resource(show_spinner=False)
def _job_manager(path: str):
    from core.jobs import JobManager  # one queue and worker set per process, shared by all sessions

    return JobManager(_database(path))


def job_manager():
    return _job_manager(str(settings.paths().db))


@st.cache_resource(max_entries=32, show_spinner=False)
def cached_analyze(text: str, lists: tuple = (), targets: tuple[str, ...] = ()) -> Analysis:
    """analyze() for pages, so a rerun (any widget touched) does not analyse the same text again.
    `lists` is ((name, (ListWord, ...)), ...): hashable, unlike the dict analyze() takes."""
    return analyze(text, lists=dict(lists), targets=targets)


@st.cache_resource(max_entries=256, show_spinner=False)
def cached_headword(word: str) -> str | None:
    """core.analysis.headword for a filter box, so typing in another widget costs nothing."""
    return headword(word)


def flash(key: str) -> None:
    """Shows, once, the ("success" | "error", message) a form's callback left under `key`
    (a callback runs before the page, so it cannot draw the message itself)."""
    kind, message = st.session_state.pop(key, (None, None))
    if kind:
        getattr(st, kind)(message)


def in_words(options: Iterable[str]) -> Callable[[str], str]:
    """A widget's format_func for options whose values are English messages (marked with N_),
    which the code compares and tests set: each shown in the language of this run. Translated
    now rather than `format_func=_`: Streamlit's AppTest formats a widget's value again outside
    the script run, where the language in use is the default one, and would find no option."""
    shown = {option: _(option) for option in options}
    return lambda option: shown.get(option, option)


def profile() -> str:
    """The open student profile ('' when none): set only by the sidebar once the profile's
    passphrase (if it has one) was given, or by a live reopen token; never a widget's value."""
    return (st.session_state.get("profile") or "").strip()


def for_display(table: pd.DataFrame, formats: dict[str, str] | None = None) -> pd.DataFrame:
    """A table as a page shows it: the columns in `formats` as formatted text, and a dash in
    every cell with no value, which a browser would otherwise draw as "None". (Pages sort their
    tables with their own controls, so these columns need not sort as numbers.)"""
    formats = formats or {}
    out = table.copy()
    for col in out.columns:
        fmt = formats.get(col)
        missing = out[col].isna()
        if fmt is None and not missing.any():
            continue
        out[col] = [("–" if miss else fmt.format(v) if fmt else v) for v, miss in zip(out[col], missing)]
        if fmt is None:
            out[col] = out[col].astype(str)
    return out
