"""core.quotes on a real DuckDB file: a word is quoted from the student's newest story, a word on
no list too (found through the story's headword counts), else from the word list's example."""
from __future__ import annotations

from datetime import datetime

import pytest

from core import store
from core.analysis import analyze
from core.quotes import quote

OLD = "部長は部下に報告を促した。"
NEW = "二人は清濁の狭間で揺れていた。先生は生徒に努力を促した。"


@pytest.fixture
def db(tmp_path):
    database = store.Database(tmp_path / "quotes.duckdb")
    store.save_story(database, analyze(OLD), store.Story(profile="hana", title="古い", created=datetime(2026, 1, 1)))
    store.save_story(database, analyze(NEW), store.Story(profile="hana", title="新しい", created=datetime(2026, 2, 1)))
    yield database
    database.close()


def test_a_listed_word_is_quoted_from_the_newest_story_with_its_span_and_reading(db):
    q = quote(db, "hana", "促す")
    assert (q.sentence, q.title, q.source) == ("先生は生徒に努力を促した。", "新しい", "story")
    assert q.sentence[q.start:q.end] == "促し" and (q.reading, q.ruby) == ("うながす", "うながし")
    assert q.meanings


def test_a_word_on_no_list_is_quoted_from_the_story_that_uses_it(db):
    q = quote(db, "hana", "狭間")
    assert q.sentence == "二人は清濁の狭間で揺れていた。" and q.sentence[q.start:q.end] == "狭間"
    assert q.reading == "はざま"


def test_another_students_story_is_never_quoted_and_the_list_example_is_the_fallback(db):
    q = quote(db, "ken", "促す")
    assert q.source == "example" and "促" in q.sentence and q.translation
    nothing = quote(db, "ken", "狭間")
    assert (nothing.sentence, nothing.source) == ("", "")


def test_the_fullest_sentence_of_the_story_is_quoted_not_a_bare_one(db):
    text = "悪化したのですか。父の病状は冬のあいだに少しずつ悪化していった。"
    store.save_story(db, analyze(text), store.Story(profile="mei", title="冬"))
    q = quote(db, "mei", "悪化")
    assert q.sentence == "父の病状は冬のあいだに少しずつ悪化していった。"
    assert q.sentence[q.start:q.end] == "悪化"
