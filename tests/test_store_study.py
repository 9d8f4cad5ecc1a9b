"""core.store.study on real DuckDB files: FSRS cards for learning words, grades and their log,
the schedule rebuilt from the log alone, and many threads grading at once."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from fsrs import State

from core import store
from core.store import known, study


@pytest.fixture
def db(tmp_path):
    database = store.Database(tmp_path / "study.duckdb")
    yield database
    database.close()


T0 = datetime(2026, 5, 1, 9, 0)  # naive local, as the store keeps time


def test_learning_words_are_new_cards_due_now_and_other_words_have_none(db):
    known.set_states(db, "hana", ["把握", "促す"], "learning")
    known.set_states(db, "hana", ["和やか"], "known")
    fresh = study.card(db, "hana", "把握")
    assert (fresh.state, fresh.step, fresh.stability, fresh.last_review) == (State.Learning, 0, None, None)
    assert study.card(db, "hana", "和やか") is None and study.card(db, "hana", "未知") is None
    assert study.due_words(db, "hana") == ["促す", "把握"]  # both due since the same change: by word
    assert study.due_words(db, "hana", limit=1) == ["促す"]
    assert study.due_count(db, "hana") == 2
    assert study.due_count(db, "ken") == 0 and study.due_words(db, "ken") == []


def test_grading_moves_the_due_time_forward_and_again_brings_it_back_soon(db):
    known.set_states(db, "hana", ["把握", "促す"], "learning")
    due = study.grade(db, "hana", "把握", 3, now=T0)  # Good on a new card: the next learning step
    assert due == T0 + timedelta(minutes=10)
    assert study.due_words(db, "hana", now=T0 + timedelta(minutes=5)) == ["促す"]
    # 把握 has been due since T0 + 10 min, 促す (a new card) since it became learning, just now
    assert study.due_words(db, "hana", now=due) == ["把握", "促す"]
    due = study.grade(db, "hana", "把握", 3, now=due)  # Good again: graduates, due in days
    assert due - (T0 + timedelta(minutes=10)) >= timedelta(days=1)
    assert study.card(db, "hana", "把握").state is State.Review
    assert study.due_count(db, "hana", now=due - timedelta(hours=1)) == 1
    lapse = study.grade(db, "hana", "把握", 1, now=due)  # Again when it comes back: relearn in minutes
    assert timedelta(0) < lapse - due <= timedelta(minutes=10)
    assert study.card(db, "hana", "把握").state is State.Relearning
    assert study.preview(db, "hana", "把握", now=lapse)[1] - lapse <= timedelta(minutes=10)
    assert study.preview(db, "hana", "未知") == {}


def test_every_grade_is_logged_with_its_time_and_duration(db):
    known.set_states(db, "hana", ["把握", "促す"], "learning")
    study.grade(db, "hana", "把握", 3, now=T0, duration_ms=4200)
    study.grade(db, "hana", "促す", 1, now=T0 + timedelta(seconds=30))
    assert study.review_log(db, "hana") == [
        {"word": "把握", "rating": 3, "reviewed": T0, "duration_ms": 4200},
        {"word": "促す", "rating": 1, "reviewed": T0 + timedelta(seconds=30), "duration_ms": None}]
    assert study.review_log(db, "ken") == []


def test_an_aware_time_is_the_same_instant_and_a_review_never_goes_before_the_last(db):
    known.set_states(db, "hana", ["把握"], "learning")
    aware = T0.astimezone(timezone.utc)  # T0 is local time; as UTC it is the same instant
    assert study.grade(db, "hana", "把握", 3, now=aware) == T0 + timedelta(minutes=10)
    study.grade(db, "hana", "把握", 1, now=T0 - timedelta(days=3))  # a clock set back
    assert [r["reviewed"] for r in study.review_log(db, "hana")] == [T0, T0]


def _grade_a_history(db) -> None:
    words = ["把握", "促す", "和やか", "妥協"]
    known.set_states(db, "hana", words, "learning")
    ratings = [3, 3, 1, 2, 4, 3, 1, 3, 3, 2]
    for i, rating in enumerate(ratings * 2):
        study.grade(db, "hana", words[i % len(words)], rating, now=T0 + timedelta(hours=7 * i, minutes=i))


def test_rebuild_from_the_log_gives_the_stored_schedule(db):
    _grade_a_history(db)
    known.set_states(db, "ken", ["把握"], "learning")
    study.grade(db, "ken", "把握", 4, now=T0)
    stored = study.cards(db, "hana")
    assert len(stored) == 4 and {c.state for c in stored.values()} >= {State.Review}
    assert study.replay(db, "hana") == stored
    db.execute("UPDATE review_cards SET card = ?, due = ? WHERE profile = 'hana' AND word = '把握'",
               [study.card(db, "hana", "促す").to_json(), T0])  # a damaged card
    db.execute("DELETE FROM review_cards WHERE profile = 'hana' AND word = '和やか'")  # and a lost one
    assert study.rebuild(db, "hana") == 4
    assert study.cards(db, "hana") == stored
    assert {c.to_json() for c in study.cards(db, "hana").values()} == {c.to_json() for c in stored.values()}
    assert study.due_words(db, "hana", now=T0 + timedelta(days=400)) == sorted(
        stored, key=lambda w: (stored[w].due, w))
    assert len(study.cards(db, "ken")) == 1  # another profile's cards are left alone


@pytest.mark.parametrize("rating", [0, 5, "3", 2.5, True, None])
def test_a_bad_rating_is_one_sentence_and_changes_nothing(db, rating):
    known.set_states(db, "hana", ["把握"], "learning")
    with pytest.raises(store.StoreError) as err:
        study.grade(db, "hana", "把握", rating)
    assert str(err.value).startswith("A grade is 1 (Again), 2 (Hard), 3 (Good) or 4 (Easy), not ")
    assert study.review_log(db, "hana") == [] and study.cards(db, "hana") == {}


def test_a_word_that_is_not_learning_cannot_be_graded_and_leaves_the_reviews(db):
    known.set_states(db, "hana", ["把握"], "learning")
    study.grade(db, "hana", "把握", 3, now=T0)
    known.set_states(db, "hana", ["把握"], "known")
    for word in ("把握", "未知"):
        with pytest.raises(store.StoreError) as err:
            study.grade(db, "hana", word, 3)
        assert str(err.value) == f"{word} is not one of your learning words, so it has no review to grade."
    assert study.due_words(db, "hana", now=T0 + timedelta(days=30)) == []
    assert study.due_count(db, "hana", now=T0 + timedelta(days=30)) == 0
    assert study.next_due(db, "hana") is None
    assert len(study.review_log(db, "hana")) == 1  # the log and the card are kept
    known.set_states(db, "hana", ["把握"], "learning")  # back to learning: its schedule carries on
    assert study.due_words(db, "hana", now=T0 + timedelta(minutes=5)) == []
    assert study.next_due(db, "hana") == T0 + timedelta(minutes=10)


def test_eight_threads_grading_different_and_the_same_words_lose_no_grade(db):
    mine = [f"語{k}" for k in range(8)]
    known.set_states(db, "hana", [*mine, "共有"], "learning")
    rounds = 12
    errors: list[BaseException] = []

    def review(k: int) -> None:
        try:
            for i in range(rounds):  # its own word and the shared one, read between grades
                study.grade(db, "hana", mine[k] if i % 2 else "共有", (k + i) % 4 + 1, duration_ms=k)
                study.due_count(db, "hana")
                study.due_words(db, "hana", limit=3)
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=review, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    log = study.review_log(db, "hana")
    assert len(log) == 8 * rounds
    assert sum(r["word"] == "共有" for r in log) == 8 * rounds // 2
    assert {r["word"]: 0 for r in log} == dict.fromkeys([*mine, "共有"], 0)
    # Each grade read the card the previous one wrote: replaying the log in order gives every
    # stored card exactly (a lost update would leave a card that no order of the log explains).
    assert study.replay(db, "hana") == study.cards(db, "hana")
    assert db.scalar("SELECT count(*) FROM review_cards") == 9
