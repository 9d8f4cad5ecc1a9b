"""The signed-in student's part of a text's panel: their personal coverage of it, and marking the
text's words as learning, known or new from the word table."""
from __future__ import annotations

import streamlit as st

from core import i18n
from core.analysis import Analysis
from core.coverage import ADVICE, NO_KNOWN_WORDS, personal
from core.i18n import N_, _, ngettext
from core.store import known
from views.common import database, flash, profile

# A word's state as the word table's "mine" column shows it (the states themselves stay English).
STATE_NAMES = {"new": N_("new"), "learning": N_("learning"), "known": N_("known")}


def coverage_block(a: Analysis) -> None:
    """Known share, token miss rate, new words and the 95/98% band for the open profile."""
    db, name = database(), profile()
    if db is None or not name:
        return
    words = known.known_words(db, name)
    if not words:
        st.caption(_(NO_KNOWN_WORDS))
        return
    c = personal(a, words)
    st.markdown(_("**For {name}** · known running words {percent} — {band}: {advice}").format(
                    name=name, percent=i18n.percent(1 - c.miss_rate), band=_(c.band), advice=_(ADVICE[c.band])),
                help=_("Lexical coverage: known running words ÷ running words (function words count as known, "
                       "names and symbols are left out). 95%: the floor for reading without help (Laufer); "
                       "98%: comfortable reading (Hu & Nation)."))
    c1, c2 = st.columns(2)  # three in a row cut the labels short in the score card's width
    c3, __ = st.columns(2)
    c1.metric(_("Known content words"), i18n.percent(c.known_share),
              help=_("Known running content words ÷ running content words (each occurrence counts)."))
    c2.metric(_("Token miss rate"), i18n.percent(c.miss_rate),
              help=_("Unknown running words ÷ running words: the share of the text's words you do not know yet."))
    c3.metric(_("New words"), len(c.new_words), help=_("Different words in this text that you have not marked known."))
    if c.new_words:
        with st.expander(ngettext("The {count} new word", "The {count} new words", len(c.new_words)).format(
                count=i18n.number(len(c.new_words)))):
            st.write("、".join(c.new_words))


def _mark(key: str, state: str) -> None:
    db, name = database(), profile()
    words = st.session_state.get(f"{key}_mark_words") or []
    if db is None or not name or not words:
        st.session_state[f"_{key}_mark_result"] = ("error", _("Choose words from the table first."))
        return
    changed = known.set_states(db, name, words, state, "reader")
    st.session_state[f"{key}_mark_words"] = []
    st.session_state[f"_{key}_mark_result"] = ("success", _marked(state, changed, len(words) - changed))


def _marked(state: str, changed: int, already: int) -> str:
    """What marking did, one whole sentence per state (a translation cannot be built from parts)."""
    if state == "learning":
        message = ngettext("{count} word now learning ({already} already were).",
                           "{count} words now learning ({already} already were).", changed) if already else \
            ngettext("{count} word now learning.", "{count} words now learning.", changed)
    elif state == "known":
        message = ngettext("{count} word now known ({already} already were).",
                           "{count} words now known ({already} already were).", changed) if already else \
            ngettext("{count} word now known.", "{count} words now known.", changed)
    else:
        message = ngettext("{count} word now new ({already} already were).",
                           "{count} words now new ({already} already were).", changed) if already else \
            ngettext("{count} word now new.", "{count} words now new.", changed)
    return message.format(count=i18n.number(changed), already=i18n.number(already))


def state_column(words: list[str]) -> list[str] | None:
    """Each word's state for the open profile, for the word table; None without a profile."""
    db, name = database(), profile()
    if db is None or not name:
        return None
    states = known.word_states(db, name)
    return [_(STATE_NAMES.get(state, state)) for state in (states.get(w, "new") for w in words)]


def mark_words(words: list[str], key: str) -> None:
    """Choose words of this text and mark them learning (they enter Study), known or new."""
    if not profile() or not words:
        return
    st.multiselect(_("Mark words"), list(dict.fromkeys(words)), key=f"{key}_mark_words",
                   placeholder=_("Choose words from the table or the text"),
                   help=_("Learning words are scheduled for review on the Study page; known words count "
                          "towards your coverage."))
    c1, c2 = st.columns(2)  # three in a row cut the labels short in the score card's width
    c3, __ = st.columns(2)
    c1.button(_("Learning"), key=f"{key}_mark_learning", on_click=_mark, args=(key, "learning"),
              width="stretch")
    c2.button(_("Known"), key=f"{key}_mark_known", on_click=_mark, args=(key, "known"),
              width="stretch")
    c3.button(_("New"), key=f"{key}_mark_new", on_click=_mark, args=(key, "new"),
              width="stretch")
    flash(f"_{key}_mark_result")
