"""What each student knows: a state per profile and headword (new, learning or known; no row
means new), and a log of every change with its time.

The words are headwords as the analysis gives them (促す, not 促した), so a state set from the
Reader's word table, from a level ("I know N5-N3") or from an imported list meets the same word
in every later text. A bulk change is one transaction: it lands whole or not at all, and only
the words whose state really changes are logged.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from core.i18n import _
from core.store.db import Database, StoreError
from core.store.students import check_profile_name

STATES = ("new", "learning", "known")
HOW = ("reader", "levels", "import", "study", "generate")  # where a change may come from


def set_states(db: Database, profile: str, words: Iterable[str], state: str, how: str = "reader") -> int:
    """Give every word in `words` this state for `profile`; returns how many changed. Setting
    "new" removes the row (new is the default), and is logged like any change."""
    profile = check_profile_name(profile)
    if state not in STATES:
        raise StoreError(_("A word's state is one of {states}, not {state}.").format(states=", ".join(STATES),
                                                                                    state=repr(state)))
    if how not in HOW:
        raise StoreError(_("Unknown source of a word-state change: {source}.").format(source=repr(how)))
    wanted = list(dict.fromkeys(w.strip() for w in words if w and w.strip()))
    if not wanted:
        return 0
    with db.transaction() as con:
        now = datetime.now()  # taken under the write lock, so the log's order is the order of changes
        current = dict(con.execute("SELECT word, state FROM word_states WHERE profile = ? AND list_contains(?, word)",
                                   [profile, wanted]).fetchall())
        changed = [w for w in wanted if current.get(w, "new") != state]
        if changed:
            con.execute("DELETE FROM word_states WHERE profile = ? AND list_contains(?, word)", [profile, changed])
            if state != "new":
                con.execute("INSERT INTO word_states SELECT ?, unnest(?::VARCHAR[]), ?, ?",
                            [profile, changed, state, now])
            con.execute("INSERT INTO word_state_log SELECT ?, unnest(?::VARCHAR[]), ?, ?, ?",
                        [profile, changed, state, now, how])
    return len(changed)


def word_states(db: Database, profile: str) -> dict[str, str]:
    """Every word of `profile` that is not new -> its state."""
    return dict(db.execute("SELECT word, state FROM word_states WHERE profile = ?", [profile]))


def known_words(db: Database, profile: str) -> frozenset[str]:
    return frozenset(r[0] for r in db.execute(
        "SELECT word FROM word_states WHERE profile = ? AND state = 'known'", [profile]))


def state_counts(db: Database, profile: str) -> dict[str, int]:
    """How many words `profile` has learning and known (new is everything else)."""
    counts = dict.fromkeys(STATES[1:], 0)
    counts.update(dict(db.execute(
        "SELECT state, count(*)::INTEGER FROM word_states WHERE profile = ? GROUP BY state", [profile])))
    return counts


def known_over_time(db: Database, profile: str) -> list[dict]:
    """Per day on which something changed: how many words were known at the end of that day."""
    known: set[str] = set()
    days: dict = {}
    for word, state, changed in db.execute(
            "SELECT word, state, changed FROM word_state_log WHERE profile = ? ORDER BY changed, rowid",
            [profile]):
        (known.add if state == "known" else known.discard)(word)
        days[changed.date()] = len(known)
    return [{"day": day, "known": n} for day, n in days.items()]
