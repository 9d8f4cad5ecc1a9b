"""DuckDB: the database wrapped once (a path, parameterised `execute`, small result helpers)
and the schema with its forward migrations. The store package is the only code that writes SQL.

DuckDB lets one process open a file for writing; the app process owns it. Streamlit serves each
browser session from its own thread, and a DuckDB connection must not be used by two threads at
once, so every thread gets its own cursor (a connection to the same database). Reads run side by
side on their snapshots; writes take one lock, so two writers never meet in a transaction
conflict and a student's save never waits behind a teacher's whole-library search.
"""
from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from core.errors import StoreError  # re-exported: the store's callers catch it from here
from core.i18n import _


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
    # 2: the story library. The analysis summary lives in columns so that teachers' questions
    # are plain SQL; per-word counts in story_words ("which stories use 把握", "which N1 words
    # has this profile met"); one review per story and reviewer.
    """
    CREATE SEQUENCE story_ids START 1;
    CREATE TABLE stories (
        id BIGINT PRIMARY KEY DEFAULT nextval('story_ids'),
        created TIMESTAMP NOT NULL DEFAULT current_timestamp,
        profile VARCHAR NOT NULL DEFAULT '',
        source VARCHAR NOT NULL,            -- generated | pasted | imported
        backend VARCHAR NOT NULL DEFAULT '',
        model VARCHAR NOT NULL DEFAULT '',
        params VARCHAR NOT NULL DEFAULT '{}',  -- generation parameters as JSON
        prompt VARCHAR NOT NULL DEFAULT '',
        targets VARCHAR[] NOT NULL DEFAULT [],
        title VARCHAR NOT NULL DEFAULT '',
        genre VARCHAR NOT NULL DEFAULT '',
        style VARCHAR NOT NULL DEFAULT '',
        text VARCHAR NOT NULL,
        length INTEGER NOT NULL,           -- characters, whitespace not counted
        content_words INTEGER NOT NULL,
        n1_density DOUBLE NOT NULL,
        unique_n1 INTEGER NOT NULL,
        n1_per_1000 DOUBLE NOT NULL,
        n5 INTEGER NOT NULL, n4 INTEGER NOT NULL, n3 INTEGER NOT NULL, n2 INTEGER NOT NULL,
        n1 INTEGER NOT NULL, outside INTEGER NOT NULL,
        coverage DOUBLE,                   -- NULL when no target words were given
        targets_used VARCHAR[] NOT NULL DEFAULT [],
        targets_missed VARCHAR[] NOT NULL DEFAULT [],
        readability DOUBLE,
        readability_band VARCHAR NOT NULL DEFAULT '',
        word_rows INTEGER NOT NULL,        -- how many story_words rows belong to it (integrity check)
        deleted_at TIMESTAMP
    );
    CREATE TABLE story_words (
        story_id BIGINT NOT NULL,
        word VARCHAR NOT NULL,
        reading VARCHAR NOT NULL,
        level VARCHAR NOT NULL,
        count INTEGER NOT NULL,
        first_start INTEGER NOT NULL
    );
    CREATE TABLE reviews (
        story_id BIGINT NOT NULL,
        reviewer VARCHAR NOT NULL,
        rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
        tags VARCHAR[] NOT NULL DEFAULT [],
        comment VARCHAR NOT NULL DEFAULT '',
        updated TIMESTAMP NOT NULL DEFAULT current_timestamp,
        PRIMARY KEY (story_id, reviewer)
    );
    """,
    # 3: generation jobs. The queue lives in the database so a closed tab, a lost phone
    # connection or an app restart never loses a request or its story.
    """
    CREATE SEQUENCE job_ids START 1;
    CREATE TABLE jobs (
        id BIGINT PRIMARY KEY DEFAULT nextval('job_ids'),
        created TIMESTAMP NOT NULL DEFAULT current_timestamp,
        profile VARCHAR NOT NULL DEFAULT '',
        kind VARCHAR NOT NULL DEFAULT 'story',   -- story | batch
        status VARCHAR NOT NULL DEFAULT 'queued', -- queued | running | done | failed | cancelled
        model_name VARCHAR NOT NULL,
        backend VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        prompt_format VARCHAR NOT NULL DEFAULT '',
        request VARCHAR NOT NULL,                -- GenerationRequest(s) as JSON
        keep_all BOOLEAN NOT NULL DEFAULT false,
        total INTEGER NOT NULL DEFAULT 1,
        done_count INTEGER NOT NULL DEFAULT 0,
        started TIMESTAMP,
        finished TIMESTAMP,
        error VARCHAR NOT NULL DEFAULT '',
        warning VARCHAR NOT NULL DEFAULT '',
        story_ids BIGINT[] NOT NULL DEFAULT [],
        candidates VARCHAR NOT NULL DEFAULT '[]'  -- per-candidate scores as JSON
    );
    """,
    # 4: who owns what. Student profiles with an optional passphrase (salted hash) and the
    # tokens that keep a profile open, or a teacher signed in, across a reload; word lists get an owner ('' = a class list,
    # else the student whose personal list it is) and keep the version before their last
    # replacement or deletion, so either can be undone.
    """
    CREATE TABLE profiles (
        name VARCHAR PRIMARY KEY,
        passphrase_hash VARCHAR NOT NULL DEFAULT '',  -- '' = none set yet
        created TIMESTAMP NOT NULL DEFAULT current_timestamp
    );
    CREATE TABLE profile_tokens (
        token_hash VARCHAR PRIMARY KEY,             -- SHA-256 of the browser's token
        profile VARCHAR NOT NULL DEFAULT '',        -- a student's open profile, or
        account VARCHAR NOT NULL DEFAULT '',        -- a signed-in teacher's or admin's account
        created TIMESTAMP NOT NULL DEFAULT current_timestamp
    );
    ALTER TABLE word_lists ADD COLUMN owner VARCHAR DEFAULT '';
    UPDATE word_lists SET owner = '';
    CREATE TABLE word_list_backups (
        name VARCHAR PRIMARY KEY,
        owner VARCHAR NOT NULL,
        created TIMESTAMP,
        source_file VARCHAR,
        word_count INTEGER NOT NULL,
        replaced TIMESTAMP NOT NULL DEFAULT current_timestamp,
        replaced_by VARCHAR NOT NULL DEFAULT '',
        how VARCHAR NOT NULL                       -- replaced | deleted
    );
    CREATE TABLE list_word_backups (
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
    # 5: what each student knows. A word's state per profile (new | learning | known; a word
    # with no row is new), and every change with its time, so "words known over time" can be
    # drawn and a mistaken bulk change traced.
    """
    CREATE TABLE word_states (
        profile VARCHAR NOT NULL,
        word VARCHAR NOT NULL,                     -- a headword as the analysis gives it
        state VARCHAR NOT NULL,
        changed TIMESTAMP NOT NULL DEFAULT current_timestamp,
        PRIMARY KEY (profile, word)
    );
    CREATE TABLE word_state_log (
        profile VARCHAR NOT NULL,
        word VARCHAR NOT NULL,
        state VARCHAR NOT NULL,                    -- the state it changed to
        changed TIMESTAMP NOT NULL,
        how VARCHAR NOT NULL DEFAULT ''            -- where the change came from: reader, levels, import
    );
    """,
    # 6: the learner loop. Every running content word of a story by headword (story_heads), so a
    # profile's known coverage of every story is one join; that coverage kept per story and
    # profile with the state-log position it was computed at (stale once the profile's states
    # move on). FSRS review cards for words in "learning", and every grade given, so the schedule
    # can be rebuilt from the log.
    """
    ALTER TABLE stories ADD COLUMN running_words INTEGER;  -- words (not symbols, not names); NULL until counted
    CREATE TABLE story_heads (
        story_id BIGINT NOT NULL,
        word VARCHAR NOT NULL,                     -- a content word's headword (known-word key)
        count INTEGER NOT NULL,
        PRIMARY KEY (story_id, word)
    );
    CREATE TABLE story_coverage (
        story_id BIGINT NOT NULL,
        profile VARCHAR NOT NULL,
        known_version BIGINT NOT NULL,             -- how many state changes the profile had then
        known_share DOUBLE NOT NULL,               -- known running content words ÷ running content words
        miss_rate DOUBLE NOT NULL,                 -- unknown running words ÷ running words
        new_words INTEGER NOT NULL,                -- different headwords not known
        PRIMARY KEY (story_id, profile)
    );
    CREATE TABLE review_cards (
        profile VARCHAR NOT NULL,
        word VARCHAR NOT NULL,
        card VARCHAR NOT NULL,                     -- fsrs.Card as JSON
        due TIMESTAMP NOT NULL,
        PRIMARY KEY (profile, word)
    );
    CREATE TABLE review_log (
        profile VARCHAR NOT NULL,
        word VARCHAR NOT NULL,
        rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4),  -- Again, Hard, Good, Easy
        reviewed TIMESTAMP NOT NULL,
        duration_ms INTEGER
    );
    """,
    # 7: the interface language a student chose, kept with the profile ('' = the browser's).
    """
    ALTER TABLE profiles ADD COLUMN language VARCHAR NOT NULL DEFAULT '';
    """,
]


_READ = re.compile(r"\s*(select|with|describe|show|summarize|explain|from)\b", re.I)
_WRITE_WORD = re.compile(r"\b(insert|update|delete|create|drop|alter|copy|attach|detach|checkpoint|vacuum)\b", re.I)


def is_read(sql: str) -> bool:
    """Whether a statement only reads (a WITH that names a write verb counts as a write)."""
    m = _READ.match(sql)
    return bool(m) and not (m.group(1).lower() == "with" and _WRITE_WORD.search(sql))


class Database:
    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self._write = threading.RLock()  # one writer at a time; readers never take it
        self._local = threading.local()  # this thread's cursor
        self._cursors: weakref.WeakSet = weakref.WeakSet()  # every live cursor, to close them all
        self._closed = False
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise StoreError(_open_error(self.path, exc)) from None
        except (duckdb.Error, OSError) as exc:
            raise StoreError(_("Cannot open the database {path}: {error}").format(
                path=self.path, error=(str(exc).splitlines() or [""])[0])) from None
        if not read_only:
            self.migrate()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (made on first use; a finished thread's goes with it)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            if self._closed:
                raise StoreError(_("The database {path} is closed.").format(path=self.path))
            cur = self._local.cursor = self._con.cursor()
            self._cursors.add(cur)
        return cur

    def close(self) -> None:
        with self._write:
            self._closed = True
            for cur in list(self._cursors):
                cur.close()
            self._con.close()

    @contextmanager
    def _for(self, sql: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """The cursor to run `sql` on, holding the write lock unless it only reads."""
        if is_read(sql):
            yield self._cursor()
        else:
            with self._write:
                yield self._cursor()

    def execute(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        with self._for(sql) as con:
            cur = con.execute(sql, params or [])
            return cur.fetchall() if cur.description else []

    def rows(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[dict]:
        with self._for(sql) as con:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def arrow(self, sql: str, params: Sequence[Any] | dict | None = None):
        """A read's result as a pyarrow Table (exports)."""
        if not is_read(sql):
            raise ValueError("arrow() is for reads")
        return self._cursor().sql(sql, params=params or None).to_arrow_table()

    def scalar(self, sql: str, params: Sequence[Any] | dict | None = None) -> Any:
        result = self.execute(sql, params)
        return result[0][0] if result else None

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: an exception inside rolls everything back."""
        with self._write:
            con = self._cursor()
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def version(self) -> int:
        with self._write:
            self._cursor().execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            return self.scalar("SELECT max(version) FROM schema_version") or 0

    def migrate(self) -> None:
        """Bring the file up to the newest schema, one migration per transaction."""
        current = self.version()
        if current > len(MIGRATIONS):
            raise StoreError(_("The database {path} was written by a newer NoneStory (schema {schema}); "
                               "upgrade the app or point NONESTORY_DB elsewhere.").format(path=self.path,
                                                                                          schema=current))
        for version in range(current, len(MIGRATIONS)):
            with self.transaction() as con:
                con.execute(MIGRATIONS[version])
                con.execute("INSERT INTO schema_version VALUES (?)", [version + 1])


def _open_error(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "lock" in text.lower():
        return _("The database {path} is in use by another process (is the app running?); "
                 "stop it or set NONESTORY_DB to another file.").format(path=path)
    return _("Cannot open the database {path}: {error}").format(path=path, error=(text.splitlines() or [""])[0])
