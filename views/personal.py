"""The signed-in student's part of a text's panel: their personal coverage of it, and marking the
text's words as learning, known or new from the word table."""
from __future__ import annotations

import streamlit as st

from core.analysis import Analysis
from core.coverage import ADVICE, NO_KNOWN_WORDS, personal
from core.store import known
from views.common import database, flash, profile

STATE_LABELS = {"new": "New", "learning": "Learning", "known": "Known"}


def coverage_block(a: Analysis) -> None:
    """Known share, token miss rate, new words and the 95/98% band for the open profile."""
    db, name = database(), profile()
    if db is None or not name:
        return
    words = known.known_words(db, name)
    if not words:
        st.caption(NO_KNOWN_WORDS)
        return
    c = personal(a, words)
    st.markdown(f"**For {name}** · known running words {100 * (1 - c.miss_rate):.1f}% — "
                f"{c.band}: {ADVICE[c.band]}",
                help="Lexical coverage: known running words ÷ running words (function words count as known, "
                     "names and symbols are left out). 95% is the floor for reading without help (Laufer), 98% "
                     "for comfortable reading (Hu & Nation).")
    c1, c2 = st.columns(2)  # three in a row cut the labels short in the score card's width
    c3, _ = st.columns(2)
    c1.metric("Known content words", f"{100 * c.known_share:.1f}%",
              help="Known running content words ÷ running content words (each occurrence counts).")
    c2.metric("Token miss rate", f"{100 * c.miss_rate:.1f}%",
              help="Unknown running words ÷ running words: the share of the text's words you do not know yet.")
    c3.metric("New words", len(c.new_words), help="Different words in this text that you have not marked known.")
    if c.new_words:
        with st.expander(f"The {len(c.new_words)} new words"):
            st.write("、".join(c.new_words))


def _mark(key: str, state: str) -> None:
    db, name = database(), profile()
    words = st.session_state.get(f"{key}_mark_words") or []
    if db is None or not name or not words:
        st.session_state[f"_{key}_mark_result"] = ("error", "Choose words from the table first.")
        return
    changed = known.set_states(db, name, words, state, "reader")
    st.session_state[f"{key}_mark_words"] = []
    st.session_state[f"_{key}_mark_result"] = (
        "success", f"{changed} word{'s' if changed != 1 else ''} now {STATE_LABELS[state].lower()}"
        + (f" ({len(words) - changed} already were)." if changed < len(words) else "."))


def state_column(words: list[str]) -> list[str] | None:
    """Each word's state for the open profile, for the word table; None without a profile."""
    db, name = database(), profile()
    if db is None or not name:
        return None
    states = known.word_states(db, name)
    return [states.get(w, "new") for w in words]


def mark_words(words: list[str], key: str) -> None:
    """Choose words of this text and mark them learning (they enter Study), known or new."""
    if not profile() or not words:
        return
    st.multiselect("Mark words", list(dict.fromkeys(words)), key=f"{key}_mark_words",
                   placeholder="Choose words from the table or the text",
                   help="Learning words are scheduled for review on the Study page; known words count "
                        "towards your coverage.")
    c1, c2 = st.columns(2)  # three in a row cut the labels short in the score card's width
    c3, _ = st.columns(2)
    c1.button("Learning", key=f"{key}_mark_learning", on_click=_mark, args=(key, "learning"),
              width="stretch")
    c2.button("Known", key=f"{key}_mark_known", on_click=_mark, args=(key, "known"),
              width="stretch")
    c3.button("New", key=f"{key}_mark_new", on_click=_mark, args=(key, "new"),
              width="stretch")
    flash(f"_{key}_mark_result")
