"""Library page through Streamlit's AppTest (the whole app, as a student), on a real DuckDB file.

Stories are saved with the real analyzer before the app starts; the test's connection is
closed first, because the page opens the file itself (views.common caches one connection per
path, and every test has its own path). Checks after the app has run go through that same
cached connection, since DuckDB lets one process hold a file through one database instance.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import settings, store
from core.analysis import analyze
from views.common import _database

APP = str(Path(__file__).resolve().parent.parent / "app.py")
T0 = datetime(2024, 5, 1, 9, 0)


def save(db: store.Database, text: str, title: str = "", profile: str = "hana", model: str = "m1",
         days: int = 0) -> int:
    meta = store.Story(profile=profile, model=model, title=title, created=T0 + timedelta(days=days))
    return store.save_story(db, analyze(text), meta)


@pytest.fixture
def db():
    database = store.Database(settings.paths().db)
    yield database
    database.close()


def open_library(profile: str | None = "hana") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if profile is not None:
        at.session_state["profile"] = profile
    at.run()
    at.switch_page("views/pages/library.py").run()
    assert not at.exception, at.exception
    return at


def app_db() -> store.Database:
    """The page's own connection (the same cached object the app uses)."""
    return _database(str(settings.paths().db))


def titles(at: AppTest) -> list[str]:
    tables = [d.value for d in at.dataframe if "title" in d.value.columns]
    return list(tables[0]["title"]) if tables else []


def html_of(at: AppTest) -> str:
    return "".join(h.proto.body for h in at.get("html"))


@pytest.fixture
def three(db) -> dict[str, int]:
    ids = {"urge": save(db, "部長は部下に報告を促した。", "Urge", days=0),
           "grasp": save(db, "状況を把握するのは難しい。", "Grasp", model="m2", days=1),
           "ken": save(db, "和やかな雰囲気だった。", "Ken's", profile="ken", days=2)}
    db.close()
    return ids


def test_library_without_profile_asks_for_one():
    at = open_library(profile=None)
    assert any("Open your profile" in i.value for i in at.info)
    assert not at.dataframe


def test_library_other_profile_stories_not_shown(three):
    at = open_library()
    assert "Ken's" not in titles(at)
    assert set(titles(at)) == {"Urge", "Grasp"}


def test_library_list_newest_first(three):
    assert titles(open_library()) == ["Grasp", "Urge"]


def test_library_untitled_story_shows_start_of_text(db):
    save(db, "あ" * 40)
    db.close()
    assert titles(open_library()) == ["あ" * 30]


def test_library_search_matches_title_and_text(three):
    at = open_library()
    at.text_input(key="lib_search").input("把握").run()
    assert titles(at) == ["Grasp"]
    at.text_input(key="lib_search").input("urge").run()  # titles match case-insensitively
    assert titles(at) == ["Urge"]


def test_library_word_filter_finds_conjugated_use(three):
    at = open_library()
    at.text_input(key="lib_word").input("促す").run()
    assert titles(at) == ["Urge"]
    at.text_input(key="lib_word").input("促した").run()  # typed conjugated: same headword
    assert titles(at) == ["Urge"]
    at.text_input(key="lib_word").input("和やか").run()  # only in ken's story
    assert not titles(at)


def test_library_model_filter_offers_own_models(three):
    at = open_library()
    assert at.selectbox(key="lib_model").options == ["any", "m1", "m2"]
    at.selectbox(key="lib_model").set_value("m2").run()
    assert titles(at) == ["Grasp"]


def test_library_date_range_includes_last_day(three):
    at = open_library()
    day = (T0 + timedelta(days=1)).date()
    at.date_input(key="lib_dates").set_value((day, day)).run()
    assert not at.exception
    assert titles(at) == ["Grasp"]


def test_library_density_range_filters(three):
    at = open_library()
    at.slider(key="lib_density").set_value((99, 100)).run()
    assert not titles(at) and any("No stories match" in i.value for i in at.info)


def test_library_pages_when_more_than_twenty(db):
    a = analyze("状況を把握した。")
    for n in range(23):
        store.save_story(db, a, store.Story(profile="hana", title=f"s{n:02d}", created=T0 + timedelta(hours=n)))
    db.close()
    at = open_library()
    assert len(titles(at)) == 20 and titles(at)[0] == "s22"
    at.button(key="lib_next").click().run()
    assert titles(at) == ["s02", "s01", "s00"]
    assert any("Page 2 of 2" in c.value for c in at.caption)


def test_library_open_story_renders_highlighted_html(three):
    at = open_library()
    at.selectbox(key="lib_open").set_value(three["urge"]).run()
    assert not at.exception
    assert 'data-word="促す"' in html_of(at)
    assert any("m1" in c.value for c in at.caption)
    at.toggle(key="lib_furigana").set_value(True).run()
    assert "<rt>うなが</rt>" in html_of(at)


def test_library_delete_then_undo_restores_story(three):
    at = open_library()
    at.selectbox(key="lib_open").set_value(three["urge"]).run()
    at.button(key="lib_delete").click().run()
    assert titles(at) == ["Grasp"]
    assert any("bin" in s.value for s in at.success)
    at.button(key="lib_undo").click().run()
    assert not at.exception
    assert titles(at) == ["Grasp", "Urge"]
    assert app_db().scalar("SELECT deleted_at FROM stories WHERE id = ?", [three["urge"]]) is None


def test_library_delete_then_restore_from_bin(three):
    at = open_library()
    at.selectbox(key="lib_open").set_value(three["grasp"]).run()
    at.button(key="lib_delete").click().run()
    assert at.selectbox(key="lib_bin_pick").value == three["grasp"]
    at.button(key="lib_restore").click().run()
    assert not at.exception
    assert titles(at) == ["Grasp", "Urge"]
    assert any("Restored" in s.value for s in at.success)


def test_library_empty_bin_purges_only_own_deleted(three):
    con = app_db()
    store.delete_story(con, three["ken"])
    store.delete_story(con, three["urge"])
    at = open_library()
    at.button(key="lib_purge").click().run()
    assert not at.exception
    ids = {r[0] for r in con.execute("SELECT id FROM stories")}
    assert ids == {three["grasp"], three["ken"]}  # ken's deleted story waits in ken's bin
    assert any("Removed 1 story" in s.value for s in at.success)


def test_library_words_met_lists_n1_words_and_progress(three):
    at = open_library()
    met = next(d.value for d in at.dataframe if "stories" in d.value.columns)
    assert {"促す", "部下", "把握"} <= set(met["word"])
    assert "和やか" not in set(met["word"])  # ken's story
    assert set(met.columns) == {"word", "reading", "count", "stories", "first seen"}
    assert any("/ 3," in m.value and "N1 words met" in m.value for m in at.markdown)
    assert at.get("plotly_chart")


def test_library_words_met_empty_is_friendly(db):
    db.close()
    at = open_library()
    assert any("No N1 words yet" in i.value for i in at.info)




def test_words_met_with_one_day_of_data_has_a_date_axis(db):
    save(db, "部長は部下に報告を促した。")
    db.close()
    at = open_library()
    chart = next(c for c in at.get("plotly_chart"))
    import json as _json

    layout = _json.loads(chart.proto.spec)["layout"]["xaxis"]
    assert layout["tickformat"] == "%Y-%m-%d" and layout["dtick"] == 86_400_000 and len(layout["range"]) == 2
