"""Shared page parts: a text's highlighted view, its score card and word table."""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from core import i18n, store
from core.analysis import Analysis, Match
from core.i18n import N_, _
from core.meanings import Meaning, Meanings
from core.render import STYLE, label, legend, render_text, shown
from core.score import FORMULAS
from core.vocab import LEVELS
from views.common import database, profile
from views.personal import coverage_block, mark_words, state_column

# Marking up megabytes of text makes a browser crawl; the score still covers all of it.
RENDER_LIMIT = 100_000
# The score's count of content words on no JLPT list, under its key "outside".
OUTSIDE = N_("outside")


def show_analysis(a: Analysis, levels: list[str], furigana: bool | str, key: str = "reader") -> None:
    """Highlighted text on the left, score card and word table on the right (stacked on phones)."""
    left, right = st.columns([3, 2])
    with left:
        shown = a if len(a.text) <= RENDER_LIMIT else Analysis(
            a.text[:RENDER_LIMIT], tuple(m for m in a.matches if m.end <= RENDER_LIMIT), a.score)
        if shown is not a:
            st.warning(_("Showing the first {shown} of {total} characters; the score and word table cover "
                         "the whole text.").format(shown=i18n.number(RENDER_LIMIT), total=i18n.number(len(a.text))))
        meaning = reader_meaning()
        st.html(STYLE + legend(levels, a) + render_text(shown, levels=levels, furigana=furigana, meaning=meaning))
    with right:
        score_card(a)
        coverage_block(a)
        table = word_table(a, levels, meaning)
        states = state_column(list(table["word"]))
        if states is not None:
            table.insert(3, "mine", states)
        # The columns keep their English names (code and tests read them); only the headers are translated.
        st.dataframe(table, hide_index=True, key=f"{key}_words", column_config={
            "word": st.column_config.TextColumn(_("word")),
            "reading": st.column_config.TextColumn(_("reading")),
            "level": st.column_config.TextColumn(_("level")),
            "mine": st.column_config.TextColumn(_("mine"), width="small"),
            "meanings": st.column_config.TextColumn(_("meanings"), width="large"),
            "meaning source": st.column_config.TextColumn(_("meaning source")),
            "count": st.column_config.NumberColumn(_("count"))})
        # Any content word can be marked, not only the listed ones in the table: the new words
        # of the coverage card include words on no list (学園, 名門) that a student may know.
        mark_words(list(dict.fromkeys([*table["word"], *sorted(a.heads, key=lambda w: -a.heads[w])])), key)


def score_card(a: Analysis) -> None:
    s = a.score
    c1, c2 = st.columns(2)
    # FORMULAS (core.score) and the readability band are translated where shown, like every
    # constant marked for the catalogue where it is defined.
    c1.metric(_("N1 density"), i18n.percent(s.n1_density / 100), help=_(FORMULAS["N1 density"]))
    c2.metric(_("Unique N1 words"), s.unique_n1, help=_(FORMULAS["Unique N1"]))
    c3, c4 = st.columns(2)
    c3.metric(_("N1 / 1,000 chars"), i18n.number(s.n1_per_1000_chars, 1), help=_(FORMULAS["N1 per 1,000 chars"]))
    c4.metric(_("Readability"), "–" if s.readability is None else i18n.number(s.readability, 2),
              help=_(FORMULAS["jReadability"]))
    st.caption(_("jReadability band: {band} · {chars} characters · {words} content words").format(
        band=_(s.readability_band), chars=i18n.number(s.chars), words=i18n.number(s.content_words)))
    counts = " · ".join(f"{_(OUTSIDE) if k == OUTSIDE else k} {i18n.number(v)}" for k, v in s.level_counts.items())
    st.markdown(_("**Per level** {counts}").format(counts=counts), help=_(FORMULAS["Per level"]))
    if s.target_coverage is not None:
        st.markdown(_("**Target coverage** {used}/{given} — used: {used_words}; missed: {missed_words}").format(
            used=i18n.number(len(s.targets_used)), given=i18n.number(len(s.targets_used) + len(s.targets_missed)),
            used_words=", ".join(s.targets_used) or "–", missed_words=", ".join(s.targets_missed) or "–"))
    with st.expander(_("How the score is computed")):
        for name, formula in FORMULAS.items():
            st.markdown("- " + _("**{name}**: {formula}").format(name=_(name), formula=_(formula)))


def word_table(a: Analysis, levels: list[str], meaning: Callable[[Match], Meaning] | None = None) -> pd.DataFrame:
    rows: dict[tuple, dict] = {}
    for m in a.matches:
        if not shown(m, levels):
            continue
        key = (m.word, m.reading, m.level)
        if key not in rows:
            got = meaning(m) if meaning is not None else Meaning(m.meanings, "")
            rows[key] = {"word": m.word, "reading": m.reading, "level": label(m),
                         "meanings": "; ".join(got.meanings[:3]), "meaning source": got.label() if got.meanings else "",
                         "count": 0}
        rows[key]["count"] += 1
    order = {lv: i for i, lv in enumerate(reversed(LEVELS))}
    return pd.DataFrame(sorted(rows.values(), key=lambda r: (order.get(r["level"], 9), -r["count"])),
                        columns=["word", "reading", "level", "meanings", "meaning source", "count"])


@st.cache_resource(max_entries=32, show_spinner=False)
def _meanings(lists: tuple[tuple[str, str, int], ...]) -> Meanings:
    """Meanings of every word list in `lists` ((name, created, word count): a replaced list is
    another key), read once per set of lists."""
    db = database()
    return Meanings(store.load_word_lists(db, [name for name, _created, _count in lists]) if db is not None else {})


def reader_meaning() -> Callable[[Match], Meaning]:
    """Each word's meanings in the reader's language: from a word list the reader may use (the
    class's, their own) written in it, else the built-in English (core.meanings)."""
    db = database()
    lists = tuple((r["name"], str(r["created"]), r["word_count"]) for r in store.word_lists(db, profile())) \
        if db is not None else ()
    table, code = _meanings(lists), i18n.current()
    return lambda m: table.pick(m.entry.spellings or (m.word,), m.meanings, code)
