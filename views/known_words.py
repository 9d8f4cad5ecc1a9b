"""The Word lists page's "Words I know" part, for a student with an open profile: how many
words they know and are learning, "I know every word up to N3", and importing a list of known
words (plain text, CSV/TSV, or Anki's "Notes in Plain Text" export)."""
from __future__ import annotations

import streamlit as st

from core.analysis import headword
from core.store import known
from core.vocab import LEVELS, level_words
from core.wordlists import WordListError, known_words_file
from views.common import database, flash, profile

UP_TO = LEVELS[:-1]  # N5..N2: "every word up to N1" would be the whole list
_RESULT = "_known_result"  # ("success" | "error", message) left by a callback for the next run


def _mark_levels() -> None:
    chosen = st.session_state.get("known_up_to", "N3")
    levels = LEVELS[:LEVELS.index(chosen) + 1]
    words = [w for level in levels for w in level_words(level)]
    _save(words, "levels", f"every word up to {chosen}")


def _import_file() -> None:
    upload = st.session_state.get("known_file")
    if upload is None:
        st.session_state[_RESULT] = ("error", "Choose a file of words you know first.")
        return
    try:
        typed = known_words_file(upload.getvalue())
    except WordListError as exc:
        st.session_state[_RESULT] = ("error", str(exc))
        return
    # Stored as the analysis's headwords, so 促した in a file meets 促す in every story.
    _save([headword(w) or w for w in typed], "import", f"the {len(typed):,} words of {upload.name}")


def _save(words: list[str], how: str, what: str) -> None:
    db = database()
    if db is None:
        return
    changed = known.set_states(db, profile(), words, "known", how)
    unique = len(set(words))
    already = unique - changed
    st.session_state[_RESULT] = ("success", f"Marked {what} as known: {changed:,} newly known"
                                 + (f", {already:,} already were." if already else "."))


def known_words_panel() -> None:
    db = database()
    if db is None or not profile():
        return
    st.subheader("Words I know")
    counts = known.state_counts(db, profile())
    st.caption(f"Known: {counts['known']:,} · learning: {counts['learning']:,}. Words you know are "
               "kept under your profile with the date each changed.")
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    c1.selectbox("I already know every word up to", UP_TO, index=UP_TO.index("N3"), key="known_up_to")
    c2.button("Mark them as known", key="known_levels_go", on_click=_mark_levels)
    st.file_uploader("…or import words I know", type=["txt", "csv", "tsv"], key="known_file",
                     help="One word per line, a CSV/TSV with the word in the first column, or Anki's "
                          "File → Export → \"Notes in Plain Text\".")
    st.button("Import as known", key="known_import_go", on_click=_import_file)
    flash(_RESULT)
