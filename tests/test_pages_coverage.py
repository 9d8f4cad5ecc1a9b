"""The student's own measures on the pages (AppTest, real DuckDB): personal coverage on the
Reader's score card, a one-line hint before any word is known, marking words from the word
table, and the Library's coverage column, order and "I can read" filter."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core import settings, store
from core.analysis import analyze
from core.store import known
from views.common import _database

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TEXT = "部長は部下に報告を促した。部下はすぐに状況を把握した。"


def db() -> store.Database:
    return _database(str(settings.paths().db))


def reader(profile: str | None = "hana", text: str = TEXT) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if profile:
        at.session_state["profile"] = profile
    at.run()
    at.text_area(key="reader_text").input(text)
    at.button(key="reader_go").click().run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_a_student_with_no_known_words_sees_a_hint_not_zero_percent():
    at = reader()
    assert "Personal coverage appears once you mark words you know" in texts(at)
    assert "Token miss rate" not in {m.label for m in at.metric}


def test_the_score_card_shows_known_share_miss_rate_new_words_and_band():
    known.set_states(db(), "hana", ["部長", "部下", "報告"], "known", "import")
    at = reader()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Known content words"] == "50.0%"
    assert metrics["Token miss rate"] == f"{100 * 4 / 17:.1f}%"
    assert metrics["New words"] == "4"
    assert "known running words 76.5% — below 95%" in texts(at)


def test_without_a_profile_there_is_no_personal_part():
    at = reader(profile=None)
    assert "Known content words" not in {m.label for m in at.metric}
    assert not [m for m in at.multiselect if m.key == "reader_mark_words"]


def test_words_marked_from_the_word_table_change_state_and_the_table_shows_it():
    at = reader()
    at.multiselect(key="reader_mark_words").set_value(["促す", "把握"])
    at.button(key="reader_mark_learning").click().run()
    assert known.word_states(db(), "hana") == {"促す": "learning", "把握": "learning"}
    assert [s.value for s in at.success] == ["2 words now learning."]
    table = at.dataframe[-1].value
    assert dict(zip(table["word"], table["mine"]))["促す"] == "learning"
    at.multiselect(key="reader_mark_words").set_value(["促す"])
    at.button(key="reader_mark_known").click().run()
    assert known.word_states(db(), "hana")["促す"] == "known"
    at.button(key="reader_mark_new").click().run()  # nothing chosen: one sentence
    assert [e.value for e in at.error] == ["Choose words from the table first."]


def story_table(at: AppTest):
    return next(d.value for d in at.dataframe if "title" in d.value.columns)


def library(profile: str = "hana") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["profile"] = profile
    at.run()
    at.switch_page("views/pages/library.py").run()
    assert not at.exception, at.exception
    return at


def test_the_library_shows_sorts_and_filters_by_the_students_coverage():
    easy = store.save_story(db(), analyze("部長は部下に報告した。"), store.Story(profile="hana", title="easy"))
    store.save_story(db(), analyze(TEXT), store.Story(profile="hana", title="hard"))
    at = library()
    assert "Personal coverage appears once you mark words you know" in texts(at)
    assert at.selectbox(key="lib_readable").disabled
    known.set_states(db(), "hana", ["部長", "部下", "報告"], "known", "import")
    at = library()
    table = story_table(at)
    assert list(table["title"]) == ["hard", "easy"]  # newest first
    assert dict(zip(table["title"], table["known"])) == {"easy": 100.0, "hard": round(100 * 13 / 17, 1)}
    at.radio(key="lib_order").set_value("Most known first").run()
    assert list(story_table(at)["title"]) == ["easy", "hard"]
    at.selectbox(key="lib_readable").set_value("95% known or more").run()
    assert list(story_table(at)["id"]) == [easy]


def test_a_word_on_no_list_can_be_marked_known_and_the_coverage_follows():
    known.set_states(db(), "hana", ["部長"], "known", "import")
    at = reader(text="名門の学園に入った。")
    options = at.multiselect(key="reader_mark_words").options
    assert {"名門", "学園"} <= set(options)  # new words of the coverage card, though no list has them
    before = {m.label: m.value for m in at.metric}["New words"]
    at.multiselect(key="reader_mark_words").set_value(["学園"])
    at.button(key="reader_mark_known").click().run()
    assert "学園" in known.known_words(db(), "hana")
    assert int({m.label: m.value for m in at.metric}["New words"]) == int(before) - 1
