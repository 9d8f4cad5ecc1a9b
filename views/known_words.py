"""The Word lists page's "Words I know" part, for a student with an open profile: how many
words they know and are learning, "I know every word up to N3", and importing a list of known
words (plain text, CSV/TSV, or Anki's "Notes in Plain Text" export)."""
from __future__ import annotations

import streamlit as st

from core import i18n
from core.analysis import headword
from core.i18n import _, ngettext
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
    saved = _save(words, "levels")
    if saved:
        changed, already = saved
        message = (_("Marked every word up to {level} as known: {count} newly known, {already} already were.")
                   if already else _("Marked every word up to {level} as known: {count} newly known."))
        st.session_state[_RESULT] = ("success", message.format(
            level=chosen, count=i18n.number(changed), already=i18n.number(already)))


def _import_file() -> None:
    upload = st.session_state.get("known_file")
    if upload is None:
        st.session_state[_RESULT] = ("error", _("Choose a file of words you know first."))
        return
    try:
        typed = known_words_file(upload.getvalue())
    except WordListError as exc:
        st.session_state[_RESULT] = ("error", str(exc))
        return
    # Stored as the analysis's headwords, so 促した in a file meets 促す in every story.
    saved = _save([headword(w) or w for w in typed], "import")
    if saved:
        changed, already = saved
        if already:
            message = ngettext("Marked the {total} word of {file} as known: {count} newly known, "
                               "{already} already were.",
                               "Marked the {total} words of {file} as known: {count} newly known, "
                               "{already} already were.", len(typed))
        else:
            message = ngettext("Marked the {total} word of {file} as known: {count} newly known.",
                               "Marked the {total} words of {file} as known: {count} newly known.", len(typed))
        st.session_state[_RESULT] = ("success", message.format(
            total=i18n.number(len(typed)), file=upload.name, count=i18n.number(changed),
            already=i18n.number(already)))


def _save(words: list[str], how: str) -> tuple[int, int] | None:
    """Marks `words` known: (how many became known, how many already were); None without a database."""
    db = database()
    if db is None:
        return None
    changed = known.set_states(db, profile(), words, "known", how)
    return changed, len(set(words)) - changed


def known_words_panel() -> None:
    db = database()
    if db is None or not profile():
        return
    st.subheader(_("Words I know"))
    counts = known.state_counts(db, profile())
    st.caption(_("Known: {known} · learning: {learning}. Words you know are kept under your profile with "
                 "the date each changed.").format(known=i18n.number(counts["known"]),
                                                  learning=i18n.number(counts["learning"])))
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    c1.selectbox(_("I already know every word up to"), UP_TO, index=UP_TO.index("N3"), key="known_up_to")
    c2.button(_("Mark them as known"), key="known_levels_go", on_click=_mark_levels)
    st.file_uploader(_("…or import words I know"), type=["txt", "csv", "tsv"], key="known_file",
                     help=_("One word per line, a CSV/TSV with the word in the first column, or Anki's "
                            "File → Export → \"Notes in Plain Text\"."))
    st.button(_("Import as known"), key="known_import_go", on_click=_import_file)
    flash(_RESULT)
