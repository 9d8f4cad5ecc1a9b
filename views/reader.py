"""Reader: paste or upload Japanese text; JLPT words marked by level, score card, word table."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core import store
from core.analysis import Analysis, analyze
from core.render import STYLE, render_text
from core.score import FORMULAS
from core.textio import TextFileError, decode_text
from core.vocab import LEVELS
from views.common import database

# Marking up megabytes of text makes a browser crawl; the score still covers all of it.
RENDER_LIMIT = 100_000


@st.cache_resource(max_entries=16, show_spinner=False)
def _analyze(text: str, lists: tuple, targets: tuple[str, ...]) -> Analysis:
    return analyze(text, lists=dict(lists), targets=targets)


def _custom_lists(names: list[str]) -> tuple:
    db = database()
    if db is None or not names:
        return ()
    return tuple((n, tuple(store.load_word_list(db, n))) for n in names)


def _input_text() -> str:
    upload = st.file_uploader("…or upload a .txt file", type=["txt"], key="reader_file")
    if upload is not None:
        try:
            return decode_text(upload.getvalue(), upload.name)
        except TextFileError as exc:
            st.error(str(exc))
            return ""
    return st.session_state.get("reader_text", "")


def _controls() -> tuple[list[str], list[str], list[str], bool]:
    db = database()
    available = [r["name"] for r in store.word_lists(db)] if db else []
    c1, c2 = st.columns([3, 2])
    # N5/N4 words (する, こと, ある) would colour half of every line; learners opt in to them.
    levels = c1.multiselect("Highlight levels", list(reversed(LEVELS)), default=["N1", "N2", "N3"],
                            key="reader_levels")
    lists = c2.multiselect("Custom word lists", available, key="reader_lists",
                           disabled=not available, help="Import lists on the Word lists page.")
    c3, c4 = st.columns([3, 2])
    targets = c3.text_input("Target words (comma-separated)", key="reader_targets",
                            placeholder="把握, 促す, 和やか")
    furigana = c4.toggle("Furigana", key="reader_furigana")
    return levels, lists, [t.strip() for t in targets.replace("、", ",").split(",") if t.strip()], furigana


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
        if m.level in LEVELS and m.level not in levels:
            continue
        row = rows.setdefault((m.word, m.reading, m.level), {
            "word": m.word, "reading": m.reading, "level": m.level or "target",
            "meanings": "; ".join(m.meanings[:3]), "count": 0})
        row["count"] += 1
    order = {lv: i for i, lv in enumerate(reversed(LEVELS))}
    return pd.DataFrame(sorted(rows.values(), key=lambda r: (order.get(r["level"], 9), -r["count"])),
                        columns=["word", "reading", "level", "meanings", "count"])


def main() -> None:
    st.title("Reader")
    st.text_area("Japanese text", key="reader_text", height=180,
                 placeholder="ここに文章を貼り付けてください。")
    text = _input_text()
    levels, lists, targets, furigana = _controls()
    st.button("Analyse", key="reader_go", type="primary")
    if not text.strip():
        st.info("Paste a Japanese text (or upload a .txt file) to see its JLPT words and N1 score.")
        st.stop()
    try:
        a = _analyze(text, _custom_lists(lists), tuple(targets))
    except store.StoreError as exc:
        st.error(str(exc))
        st.stop()
    left, right = st.columns([3, 2])
    with left:
        shown = a if len(text) <= RENDER_LIMIT else Analysis(
            text[:RENDER_LIMIT], tuple(m for m in a.matches if m.end <= RENDER_LIMIT), a.score)
        if shown is not a:
            st.warning(f"Showing the first {RENDER_LIMIT:,} of {len(text):,} characters; "
                       "the score and word table cover the whole text.")
        st.html(STYLE + render_text(shown, levels=levels, furigana=furigana))
    with right:
        score_card(a)
        st.dataframe(word_table(a, levels), hide_index=True, key="reader_words")


main()
