"""Shared page parts: a text's highlighted view, its score card and word table."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analysis import Analysis
from core.render import STYLE, label, legend, render_text, shown
from core.score import FORMULAS
from core.vocab import LEVELS
from views.personal import coverage_block, mark_words, state_column

# Marking up megabytes of text makes a browser crawl; the score still covers all of it.
RENDER_LIMIT = 100_000


def show_analysis(a: Analysis, levels: list[str], furigana: bool | str, key: str = "reader") -> None:
    """Highlighted text on the left, score card and word table on the right (stacked on phones)."""
    left, right = st.columns([3, 2])
    with left:
        shown = a if len(a.text) <= RENDER_LIMIT else Analysis(
            a.text[:RENDER_LIMIT], tuple(m for m in a.matches if m.end <= RENDER_LIMIT), a.score)
        if shown is not a:
            st.warning(f"Showing the first {RENDER_LIMIT:,} of {len(a.text):,} characters; "
                       "the score and word table cover the whole text.")
        st.html(STYLE + legend(levels, a) + render_text(shown, levels=levels, furigana=furigana))
    with right:
        score_card(a)
        coverage_block(a)
        table = word_table(a, levels)
        states = state_column(list(table["word"]))
        if states is not None:
            table.insert(3, "mine", states)
        st.dataframe(table, hide_index=True, key=f"{key}_words", column_config={
            "mine": st.column_config.TextColumn("mine", width="small"),
            "meanings": st.column_config.TextColumn("meanings", width="large")})
        # Any content word can be marked, not only the listed ones in the table: the new words
        # of the coverage card include words on no list (学園, 名門) that a student may know.
        mark_words(list(dict.fromkeys([*table["word"], *sorted(a.heads, key=lambda w: -a.heads[w])])), key)


def score_card(a: Analysis) -> None:
    s = a.score
    c1, c2 = st.columns(2)
    c1.metric("N1 density", f"{s.n1_density:.1f}%", help=FORMULAS["N1 density"])
    c2.metric("Unique N1 words", s.unique_n1, help=FORMULAS["Unique N1"])
    c3, c4 = st.columns(2)
    c3.metric("N1 / 1,000 chars", f"{s.n1_per_1000_chars:.1f}", help=FORMULAS["N1 per 1,000 chars"])
    c4.metric("Readability", "–" if s.readability is None else f"{s.readability:.2f}",
              help=FORMULAS["jReadability"])
    st.caption(f"jReadability band: {s.readability_band} · {s.chars:,} characters · "
               f"{s.content_words:,} content words")
    st.markdown("**Per level** " + " · ".join(f"{k} {v}" for k, v in s.level_counts.items()),
                help=FORMULAS["Per level"])
    if s.target_coverage is not None:
        st.markdown(f"**Target coverage** {len(s.targets_used)}/{len(s.targets_used) + len(s.targets_missed)}"
                    f" — used: {', '.join(s.targets_used) or '–'}; missed: {', '.join(s.targets_missed) or '–'}")
    with st.expander("How the score is computed"):
        for name, formula in FORMULAS.items():
            st.markdown(f"- **{name}**: {formula}")


def word_table(a: Analysis, levels: list[str]) -> pd.DataFrame:
    rows: dict[tuple, dict] = {}
    for m in a.matches:
        if not shown(m, levels):
            continue
        row = rows.setdefault((m.word, m.reading, m.level), {
            "word": m.word, "reading": m.reading, "level": label(m),
            "meanings": "; ".join(m.meanings[:3]), "count": 0})
        row["count"] += 1
    order = {lv: i for i, lv in enumerate(reversed(LEVELS))}
    return pd.DataFrame(sorted(rows.values(), key=lambda r: (order.get(r["level"], 9), -r["count"])),
                        columns=["word", "reading", "level", "meanings", "count"])
