"""core.store.known on real DuckDB files: a word's state per profile, the log of changes, and
bulk changes from many threads at once."""
from __future__ import annotations

import threading

import pytest

from core import store
from core.store import known


@pytest.fixture
def db(tmp_path):
    database = store.Database(tmp_path / "known.duckdb")
    yield database
    database.close()


def test_states_are_set_per_profile_and_new_is_the_default(db):
    assert known.set_states(db, "hana", ["把握", "促す", "把握", " "], "known", "levels") == 2
    assert known.set_states(db, "hana", ["把握", "和やか"], "learning") == 2
    assert known.word_states(db, "hana") == {"把握": "learning", "促す": "known", "和やか": "learning"}
    assert known.known_words(db, "hana") == {"促す"}
    assert known.state_counts(db, "hana") == {"learning": 2, "known": 1}
    assert known.word_states(db, "ken") == {} and known.state_counts(db, "ken") == {"learning": 0, "known": 0}
    assert known.set_states(db, "hana", ["促す"], "new") == 1  # back to new: the row goes
    assert known.word_states(db, "hana") == {"把握": "learning", "和やか": "learning"}


def test_only_real_changes_are_logged_with_their_source(db):
    known.set_states(db, "hana", ["把握", "促す"], "known", "import")
    assert known.set_states(db, "hana", ["把握", "促す"], "known", "levels") == 0  # nothing changed
    known.set_states(db, "hana", ["把握"], "learning")
    log = db.rows("SELECT word, state, how FROM word_state_log WHERE profile = 'hana' ORDER BY changed, word")
    assert log == [{"word": "促す", "state": "known", "how": "import"},
                   {"word": "把握", "state": "known", "how": "import"},
                   {"word": "把握", "state": "learning", "how": "reader"}]


def test_known_over_time_counts_what_was_known_at_the_end_of_each_day(db):
    known.set_states(db, "hana", ["把握", "促す", "和やか"], "known", "levels")
    db.execute("UPDATE word_state_log SET changed = changed - INTERVAL 2 DAY")
    known.set_states(db, "hana", ["把握"], "learning")
    days = known.known_over_time(db, "hana")
    assert [d["known"] for d in days] == [3, 2]
    assert (days[1]["day"] - days[0]["day"]).days == 2


@pytest.mark.parametrize("args, message", [
    (("hana", ["把握"], "mastered"), "one of new, learning, known"),
    (("", ["把握"], "known"), "Type a profile name"),
])
def test_bad_state_or_profile_is_one_sentence_and_changes_nothing(db, args, message):
    with pytest.raises(store.StoreError, match=message):
        known.set_states(db, *args)
    assert db.scalar("SELECT count(*) FROM word_state_log") == 0


def test_eight_threads_marking_at_once_leave_one_state_per_word_and_a_log_that_adds_up(db):
    words = [f"語{i}" for i in range(400)]
    errors: list[BaseException] = []

    def mark(k: int) -> None:
        try:
            for round_ in range(5):  # overlapping halves, known then learning, by all threads at once
                part = words[(k * 50 + round_ * 20) % 400:][:200]
                known.set_states(db, "hana", part, "known" if (k + round_) % 2 else "learning", "levels")
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=mark, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    states = known.word_states(db, "hana")
    assert db.scalar("SELECT count(*) FROM word_states") == len(states)  # one row per word
    # Replaying the log gives today's states: every change was logged, none twice.
    replay: dict[str, str] = {}
    for word, state in db.execute("SELECT word, state FROM word_state_log ORDER BY changed, rowid"):
        assert replay.get(word, "new") != state, f"{word} logged without a change"
        replay[word] = state
    assert replay == states
