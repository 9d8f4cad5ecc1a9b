"""The Study page (AppTest through app.py): due words one at a time as a cloze from the student's
own stories, reveal, grade, the next word; nothing due; no profile; the sidebar's due count.
Audio is the real Open JTalk voice (a sentence takes a fraction of a second)."""
from __future__ import annotations

from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from core import audio, settings, store
from core.analysis import analyze
from core.auth import hash_password
from core.store import known, study
from tests import pages
from views.common import _database

STORY = "部長は部下に報告を促した。状況を把握して、対策を講じる。"
GAP = "＿＿＿"


def _failing_engine(monkeypatch) -> None:
    """The speech engine failing inside (as its C code may on an odd sentence); core.audio's own
    handling turns that into its one-sentence AudioError."""
    class Broken:
        def run_frontend(self, text: str):
            raise RuntimeError("engine failure")

    monkeypatch.setattr(audio, "_engine", Broken)


def db() -> store.Database:
    return _database(str(settings.paths().db))


@pytest.fixture
def two_learning_words():
    """hana's saved story with 促す (as 促した) and 把握, both learning; 促す is due first."""
    database = db()
    store.save_story(database, analyze(STORY), store.Story(profile="hana", title="部長の話",
                                                           created=datetime(2026, 5, 1, 9)))
    known.set_states(database, "hana", ["促す"], "learning")
    known.set_states(database, "hana", ["把握"], "learning")
    yield database
    _database.clear()


def open_page(profile: str | None = "hana", role: str | None = None) -> AppTest:
    return pages.open_page("study.py", profile, role)


def main_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "error", "subheader")
                     for e in at.main.get(kind))


def cloze(at: AppTest) -> str:
    return next(m.value for m in at.main.markdown if GAP in m.value)


def test_no_profile_gets_a_one_line_prompt_and_staff_a_note(monkeypatch):
    monkeypatch.setenv("NONESTORY_TEACHER_PASSWORD_HASH", hash_password("pw", iterations=1000))
    at = open_page(profile=None)
    assert [i.value for i in at.info] == ["Open your profile in the sidebar to review the words you are learning."]
    assert not [b for b in at.button if b.key and b.key.startswith("study_")]
    at = open_page(profile=None, role="teacher")
    assert [i.value for i in at.info] == ["Study reviews a student's own learning words; teachers and admins have none here."]


def test_a_due_word_is_a_cloze_from_my_story_then_revealed_graded_and_the_next_follows(two_learning_words, monkeypatch):
    at = open_page()
    assert [c.value for c in at.sidebar.caption if c.value.startswith("Study")] == ["Study: 2 due"]
    assert cloze(at) == f"### 部長は部下に報告を{GAP}た。"  # the sentence from the story, 促し hidden
    assert "促" not in main_text(at) and "うながす" not in main_text(at)  # nothing gives it away
    assert not [b for b in at.button if b.key == "study_rate_3"]  # grades come after Reveal

    at.button(key="study_reveal").click().run()
    shown = main_text(at)
    assert "促す 【うながす】" in shown
    assert "部長は部下に報告を**促し**た。" in shown  # the sentence with the word marked
    assert "from your story “部長の話”" in shown
    assert len(at.main.get("audio")) == 1
    assert audio.cached("部長は部下に報告を促した。")  # the sentence was read aloud, and is kept
    assert at.button(key="study_rate_3").label.startswith("Good · in 10 min")

    at.button(key="study_rate_3").click().run()
    assert not at.exception
    assert study.due_words(db(), "hana") == ["把握"]  # Good: 促す is due again in 10 minutes
    assert [r["word"] for r in study.review_log(db(), "hana")] == ["促す"]
    assert cloze(at) == f"### 状況を{GAP}して、対策を講じる。"  # the next due word, hidden in its sentence
    assert "促す: Good — next review in 10 min." in main_text(at)
    assert [c.value for c in at.sidebar.caption if c.value.startswith("Study")] == ["Study: 1 due"]


def test_nothing_due_says_how_many_are_learning_and_when_the_next_is_due(two_learning_words):
    for word in ("促す", "把握"):
        study.grade(db(), "hana", word, 3)
    at = open_page()
    assert len(at.info) == 1
    assert at.info[0].value.startswith("Nothing is due. 2 words are learning; the next is due in 10 min (")
    assert "Reader's word table" in main_text(at)
    assert not [c for c in at.sidebar.caption if c.value.startswith("Study")]  # no due count when 0 due


def test_nothing_learning_says_so_with_where_words_come_from():
    at = open_page()
    assert [i.value for i in at.info] == ["Nothing to review: no words are learning yet."]


def test_a_word_without_a_story_uses_the_word_list_and_failed_audio_is_one_line(monkeypatch):
    _failing_engine(monkeypatch)
    known.set_states(db(), "hana", ["把握"], "learning")
    at = open_page()
    assert cloze(at) == f"### 彼はその情況を{GAP}していた。"  # the JLPT list's example sentence
    assert "把握" not in main_text(at)
    at.button(key="study_reveal").click().run()
    shown = main_text(at)
    assert "把握 【はあく】" in shown and "He was master of the situation." in shown
    assert "example from the word list" in shown
    assert "This sentence could not be read aloud (RuntimeError)." in shown  # the audio's error, one line
    assert not at.main.get("audio")
    at.button(key="study_rate_1").click().run()
    assert [r["rating"] for r in study.review_log(db(), "hana")] == [1]
    _database.clear()


def test_a_grade_that_fails_is_one_sentence_not_a_traceback(two_learning_words, monkeypatch):
    at = open_page()
    at.button(key="study_reveal").click().run()
    known.set_states(db(), "hana", ["促す"], "known")  # another tab marked it known meanwhile
    at.button(key="study_rate_3").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["促す is not one of your learning words, so it has no review to grade."]
    assert study.review_log(db(), "hana") == []
