"""Personal coverage kept per story and profile (see core.coverage for the measures).

Each story keeps its running content words by headword (story_heads) and its running-word count,
so a profile's coverage of every story is one join against what the profile knows. A stored
row carries `known_version`, the number of state changes the profile had when it was computed:
once the profile marks another word, its rows are stale and `refresh` recomputes them all in
one statement.
"""
from __future__ import annotations

from collections.abc import Mapping

from core.store.db import Database

_KNOWN_VERSION = "(SELECT count(*) FROM word_state_log WHERE profile = ?)"


def save_heads(con, story_id: int, heads: Mapping[str, int], running_words: int) -> None:
    """Inside a transaction (`con`): a story's headword counts and running words."""
    if heads:
        con.execute("INSERT INTO story_heads SELECT ?, unnest(?::VARCHAR[]), unnest(?::INTEGER[])",
                    [story_id, list(heads), list(heads.values())])
    con.execute("UPDATE stories SET running_words = ? WHERE id = ?", [running_words, story_id])


def uncounted(db: Database, limit: int = 200) -> list[tuple[int, str]]:
    """Stories saved before headwords were counted (running_words is NULL): (id, text)."""
    return [tuple(r) for r in db.execute(
        "SELECT id, text FROM stories WHERE running_words IS NULL AND deleted_at IS NULL ORDER BY id LIMIT ?",
        [limit])]


def set_heads(db: Database, story_id: int, heads: Mapping[str, int], running_words: int) -> None:
    """Count a story saved before migration 6 (once: a story already counted is left alone)."""
    with db.transaction() as con:
        if con.execute("SELECT running_words IS NULL FROM stories WHERE id = ?", [story_id]).fetchone() == (True,):
            con.execute("DELETE FROM story_heads WHERE story_id = ?", [story_id])
            save_heads(con, story_id, heads, running_words)


def has_known_words(db: Database, profile: str) -> bool:
    return bool(db.scalar("SELECT count(*) FROM word_states WHERE profile = ? AND state = 'known'", [profile]))


def refresh(db: Database, profile: str) -> int:
    """Recompute `profile`'s coverage of its own stories where it is missing or stale; how many
    rows were written. The same definitions as core.coverage.from_counts, in SQL."""
    with db.transaction() as con:
        version = con.execute(f"SELECT {_KNOWN_VERSION}", [profile]).fetchone()[0]
        stale = con.execute(
            "SELECT count(*) FROM stories s LEFT JOIN story_coverage c ON c.story_id = s.id AND c.profile = ? "
            "WHERE s.profile = ? AND s.deleted_at IS NULL AND s.running_words IS NOT NULL "
            "AND (c.known_version IS NULL OR c.known_version <> ?)", [profile, profile, version]).fetchone()[0]
        if not stale:
            return 0
        con.execute("DELETE FROM story_coverage WHERE profile = ?", [profile])
        con.execute(
            "INSERT INTO story_coverage "
            "SELECT s.id, ?, ?, "
            "  CASE WHEN coalesce(h.content, 0) = 0 THEN 1.0 ELSE round(h.known / h.content, 4) END, "
            "  CASE WHEN greatest(s.running_words, coalesce(h.content, 0)) = 0 THEN 0.0 "
            "       ELSE round((coalesce(h.content, 0) - coalesce(h.known, 0)) "
            "                  / greatest(s.running_words, h.content), 4) END, "
            "  coalesce(h.new_words, 0) "
            "FROM stories s LEFT JOIN ("
            "  SELECT sh.story_id, sum(sh.count) AS content, "
            "         coalesce(sum(sh.count) FILTER (WHERE k.word IS NOT NULL), 0) AS known, "
            "         (count(*) FILTER (WHERE k.word IS NULL))::INTEGER AS new_words "
            "  FROM story_heads sh LEFT JOIN word_states k "
            "    ON k.word = sh.word AND k.profile = ? AND k.state = 'known' "
            "  WHERE sh.story_id IN (SELECT id FROM stories WHERE profile = ?) "
            "  GROUP BY sh.story_id) h ON h.story_id = s.id "
            "WHERE s.profile = ? AND s.deleted_at IS NULL AND s.running_words IS NOT NULL",
            [profile, version, profile, profile, profile])
        return stale


def coverage_of(db: Database, story_id: int, profile: str) -> dict | None:
    rows = db.rows("SELECT known_share, miss_rate, new_words, known_version FROM story_coverage "
                   "WHERE story_id = ? AND profile = ?", [story_id, profile])
    return rows[0] if rows else None
