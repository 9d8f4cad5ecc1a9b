"""Reviews with FSRS: every word a profile has in state "learning" is scheduled, and every
grade given is logged, so the schedule can always be rebuilt from the log alone.

A learning word without a row in review_cards is a new card, due at once: its row is written
by its first grade, not when it enters learning, so a read (the sidebar's due count, the Study
page) never writes, and words marked learning by any path — the Reader's table, Generate from
my words, a bulk change, or before this module existed — are scheduled alike. A word that leaves
learning (known, or back to new) keeps its card and log but is not due; if it comes back to
learning its schedule carries on where it stopped.

Times: the store keeps naive local timestamps (as core.store.known does); fsrs wants timezone-
aware UTC. `_utc` and `_local` are the one place that converts, so the log's `reviewed` is the
very instant the card was computed from, and a replay of the log gives the stored card exactly.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from fsrs import Card, Rating, ReviewLog, Scheduler

from core.i18n import N_, _
from core.store.db import Database, StoreError
from core.store.students import check_profile_name

# The default FSRS parameters, without fuzzing: fuzz spreads a review's interval by a few days
# with the process-wide `random`, so a schedule could not be rebuilt from the log (nor tested).
# It exists to keep big decks' same-day cards from bunching up later; a student's few hundred
# learning words do not need it.
SCHEDULER = Scheduler(enable_fuzzing=False)
RATINGS = {1: N_("Again"), 2: N_("Hard"), 3: N_("Good"), 4: N_("Easy")}  # shown with _()
MAX_DURATION_MS = 2**31 - 1  # review_log.duration_ms is an INTEGER


def _utc(moment: datetime) -> datetime:
    """A store timestamp (naive, local time) or any aware one, as fsrs wants it: aware UTC."""
    return moment.astimezone(timezone.utc)  # a naive datetime is taken as local time


def _local(moment: datetime) -> datetime:
    """Any datetime as the store keeps it: naive local time."""
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


def card_id(profile: str, word: str) -> int:
    """A card's id, the same every time for a profile's word (fsrs's default, the creation time in
    ms, sleeps a millisecond per card and could not be recomputed from the log)."""
    digest = hashlib.blake2b(f"{profile}\n{word}".encode(), digest_size=6).digest()
    return int.from_bytes(digest, "big")  # 48 bits: also a safe integer in JavaScript or an Anki deck


def _new_card(profile: str, word: str, due: datetime) -> Card:
    return Card(card_id=card_id(profile, word), due=_utc(due))


# Learning words with their card's due time; a word without a card is due since it became learning.
_LEARNING = ("SELECT s.word, coalesce(c.due, s.changed) AS due, c.due IS NULL AS fresh FROM word_states s "
             "LEFT JOIN review_cards c ON c.profile = s.profile AND c.word = s.word "
             "WHERE s.profile = ? AND s.state = 'learning'")


def due_words(db: Database, profile: str, now: datetime | None = None, limit: int | None = None) -> list[str]:
    """`profile`'s learning words due at `now` (naive local; default: now), the longest due first."""
    now = _local(now) if now else datetime.now()
    words = [r[0] for r in db.execute(f"SELECT word FROM ({_LEARNING}) WHERE fresh OR due <= ? ORDER BY due, word",
                                      [profile, now])]
    # Cut here, not with LIMIT: DuckDB 2.0.0 drops this query's LIMIT when it can prove the
    # LEFT JOIN's review_cards side empty (no card yet), and returns every due word.
    return words if limit is None else words[:max(0, int(limit))]


def due_count(db: Database, profile: str, now: datetime | None = None) -> int:
    now = _local(now) if now else datetime.now()
    return db.scalar(f"SELECT count(*)::INTEGER FROM ({_LEARNING}) WHERE fresh OR due <= ?", [profile, now]) or 0


def next_due(db: Database, profile: str) -> datetime | None:
    """When `profile`'s next learning word falls due (naive local; a past time means one is due
    now), or None when nothing is learning."""
    return db.scalar(f"SELECT min(due) FROM ({_LEARNING})", [profile])


def card(db: Database, profile: str, word: str) -> Card | None:
    """The word's card: the stored one, a new one (due since the word became learning) for a
    learning word never graded, or None for a word neither learning nor ever graded."""
    stored = db.scalar("SELECT card FROM review_cards WHERE profile = ? AND word = ?", [profile, word])
    if stored is not None:
        return Card.from_json(stored)
    since = db.scalar("SELECT changed FROM word_states WHERE profile = ? AND word = ? AND state = 'learning'",
                      [profile, word])
    return _new_card(profile, word, since) if since is not None else None


def cards(db: Database, profile: str) -> dict[str, Card]:
    """Every stored card of `profile` (words graded at least once), by word."""
    return {w: Card.from_json(c) for w, c in db.execute(
        "SELECT word, card FROM review_cards WHERE profile = ? ORDER BY word", [profile])}


def _check_grade(rating: int, duration_ms: int | None) -> Rating:
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise StoreError(_("A grade is 1 (Again), 2 (Hard), 3 (Good) or 4 (Easy), not {rating}.").format(
            rating=repr(rating)))
    if duration_ms is not None and (isinstance(duration_ms, bool) or not isinstance(duration_ms, int)
                                    or not 0 <= duration_ms <= MAX_DURATION_MS):
        raise StoreError(_("A review's duration is a whole number of milliseconds, not {duration}.").format(
            duration=repr(duration_ms)))
    return Rating(rating)


def _review(current: Card, rating: Rating, now: datetime | None) -> tuple[datetime, Card]:
    """The review's time (naive local) and the card after it. A review is never dated before the
    card's last one (a clock set back, a stale `now`): the log must replay in the order the cards
    were computed."""
    moment = _local(now) if now else datetime.now()
    if current.last_review is not None:
        moment = max(moment, _local(current.last_review))
    reviewed, _log = SCHEDULER.review_card(current, rating, _utc(moment))
    return moment, reviewed


def preview(db: Database, profile: str, word: str, now: datetime | None = None) -> dict[int, datetime]:
    """When the word would be due next after each grade 1..4 at `now` (naive local); nothing is
    stored. Empty for a word that is not learning."""
    learning = db.scalar("SELECT state = 'learning' FROM word_states WHERE profile = ? AND word = ?", [profile, word])
    current = card(db, profile, word) if learning else None
    if current is None:
        return {}
    return {r: _local(_review(current, Rating(r), now)[1].due) for r in RATINGS}


def grade(db: Database, profile: str, word: str, rating: int, now: datetime | None = None,
          duration_ms: int | None = None) -> datetime:
    """Grade `profile`'s learning word 1 (Again) .. 4 (Easy) at `now` (default: now) and return
    when it is due next (naive local). One transaction under the write lock: the card is read,
    reviewed, written back and the grade logged, so two grades of one word never lose either."""
    profile = check_profile_name(profile)
    fsrs_rating = _check_grade(rating, duration_ms)
    with db.transaction() as con:
        row = con.execute("SELECT s.changed, c.card FROM word_states s LEFT JOIN review_cards c "
                          "ON c.profile = s.profile AND c.word = s.word "
                          "WHERE s.profile = ? AND s.word = ? AND s.state = 'learning'", [profile, word]).fetchone()
        if row is None:
            raise StoreError(_("{word} is not one of your learning words, so it has no review to grade.").format(
                word=word))
        since, stored = row
        current = Card.from_json(stored) if stored else _new_card(profile, word, since)
        # `now` is taken under the write lock, so the log's order is the order of the grades.
        moment, reviewed = _review(current, fsrs_rating, now)
        due = _local(reviewed.due)
        con.execute("INSERT OR REPLACE INTO review_cards VALUES (?, ?, ?, ?)",
                    [profile, word, reviewed.to_json(), due])
        con.execute("INSERT INTO review_log VALUES (?, ?, ?, ?, ?)", [profile, word, int(rating), moment, duration_ms])
    return due


# Oldest first; grades at the same instant in the order they were written (the write lock
# orders them, and review_log is append-only, so rowid is that order).
_LOG = "SELECT word, rating, reviewed, duration_ms FROM review_log WHERE profile = ? ORDER BY reviewed, rowid"


def review_log(db: Database, profile: str) -> list[dict]:
    """Every grade `profile` gave, oldest first: word, rating (1-4), reviewed, duration_ms."""
    return db.rows(_LOG, [profile])


def _replay(profile: str, log: list[tuple]) -> dict[str, Card]:
    by_word: dict[str, list[ReviewLog]] = {}
    for word, rating, reviewed, duration_ms in log:
        by_word.setdefault(word, []).append(
            ReviewLog(card_id(profile, word), Rating(rating), _utc(reviewed), duration_ms))
    # A card's first review ignores its due time, so any new card replays to the same result.
    # reschedule_card sorts by time with a stable sort: ties keep the log's order.
    return {word: SCHEDULER.reschedule_card(_new_card(profile, word, reviews[0].review_datetime), reviews)
            for word, reviews in by_word.items()}


def replay(db: Database, profile: str) -> dict[str, Card]:
    """The cards `profile`'s review log alone gives, by word (nothing is stored)."""
    log = db.execute(_LOG, [profile])
    return _replay(profile, log)


def rebuild(db: Database, profile: str) -> int:
    """Recompute every card of `profile` from the review log alone and store it (a card with no
    grade in the log goes: that word is a new card again); returns how many cards it wrote."""
    profile = check_profile_name(profile)
    with db.transaction() as con:
        log = con.execute(_LOG, [profile]).fetchall()
        rebuilt = _replay(profile, log)
        con.execute("DELETE FROM review_cards WHERE profile = ?", [profile])
        if rebuilt:
            words = list(rebuilt)
            con.execute("INSERT INTO review_cards SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
                        "unnest(?::TIMESTAMP[])", [profile, words, [rebuilt[w].to_json() for w in words],
                                                   [_local(rebuilt[w].due) for w in words]])
    return len(rebuilt)
