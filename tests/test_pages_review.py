"""Review desk through Streamlit's AppTest and the whole app, on a real DuckDB file seeded with
the real analyzer.

DuckDB lets one *process* write a file, and AppTest runs the app in this test's process. The
Python client shares one database instance per file among the connections of a process, so a
second `store.Database` on the same path (same read-write configuration) opens fine while the
app's cached one is open and sees its committed writes. Seeding closes its connection anyway;
checks after the app wrote open a fresh one. A `read_only=True` connection would fail while
the app's is open ("different configuration"), so tests never open one.
"""
from __future__ import annotations

import io
import json
import os
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from google.protobuf import text_format
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from core import settings, store
from views.common import _database
from core.analysis import analyze
from core.auth import hash_password
from views import common

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGE = str(ROOT / "views" / "pages" / "review.py")

# id: (text, profile, model, source, title, created). N1 density 37.5, 16.67, 0.0, 20.0.
STORIES = {
    1: ("部長は部下に報告を促した。状況を把握して、対策を講じる。", "hana", "tiny-gpt2", "generated", "報告",
        datetime(2026, 1, 10, 9)),
    2: ("会議を再開したが、議論は停滞し、結論は先送りになった。", "ken", "gpt-4o-mini", "generated", "会議",
        datetime(2026, 2, 10, 9)),
    3: ("今日は天気がいいです。公園で友達と遊びました。", "hana", "", "pasted", "天気", datetime(2026, 3, 10, 9)),
    4: ("彼は淡々と事実を述べ、妥協を拒んだ。", "mei", "tiny-gpt2", "generated", "妥協", datetime(2026, 3, 20, 9)),
}


def write_teacher_account() -> None:
    """ms-sato as a teacher, where conftest points NONESTORY_SECRETS."""
    Path(os.environ["NONESTORY_SECRETS"]).write_text(
        f'[auth.users.ms-sato]\nrole = "teacher"\npassword_hash = "{hash_password("pw", iterations=1000)}"\n',
        encoding="utf-8")


def seed() -> None:
    db = store.Database(settings.paths().db)
    for story_id, (text, profile, model, source, title, created) in STORIES.items():
        meta = store.Story(profile=profile, model=model, source=source, title=title, created=created)
        assert store.save_story(db, analyze(text), meta) == story_id
    db.close()


@pytest.fixture(autouse=True)
def _fresh_database_cache():
    yield
    common._database.clear()  # drop this test's connection; the next test has another file


def open_review(seeded: bool = True) -> AppTest:
    write_teacher_account()
    if seeded:
        seed()
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["role"] = "teacher"
    at.session_state["user"] = "ms-sato"
    at.run()
    at.switch_page("views/pages/review.py").run()
    assert not at.exception
    return at


@pytest.fixture
def teacher() -> AppTest:
    return open_review()


def table(at: AppTest) -> pd.DataFrame:
    """The stories table (AppTest reports no key for a dataframe without selection)."""
    return next(d.value for d in at.dataframe if "n1_density" in d.value.columns and "id" in d.value.columns)


def ids(at: AppTest) -> list[int]:
    return [int(i) for i in table(at)["id"]]


def everything_shown(at: AppTest) -> str:
    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            yield text_format.MessageToString(proto, as_utf8=True)
        for child in getattr(node, "children", {}).values():
            yield from walk(child)
    return "".join(walk(at.main)) + "".join(walk(at.sidebar))


# --- who may see it -----------------------------------------------------------------------

@pytest.mark.parametrize("session", [{}, {"role": "teacher", "user": "mallory"}, {"role": "student"}])
def test_page_without_teacher_role_shows_warning_and_no_data(session):
    write_teacher_account()
    seed()
    at = AppTest.from_file(PAGE, default_timeout=60)  # the page alone: what a direct URL would run
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["This page is for teachers. Sign in from the sidebar."]
    assert not at.dataframe and not at.get("plotly_chart") and not at.download_button
    shown = everything_shown(at)
    assert not any(text in shown or title in shown for text, _, _, _, title, _ in STORIES.values())


def test_page_through_app_for_student_shows_only_the_prompt():
    write_teacher_account()
    seed()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/pages/review.py").run()  # routed though not listed: a typed URL lands here
    assert not at.exception
    assert any("This page is for teachers" in w.value for w in at.warning)
    assert not at.dataframe and not at.get("plotly_chart")


def test_page_after_sign_out_shows_no_data(teacher):
    for key in ("role", "user"):
        del teacher.session_state[key]
    teacher.run()
    assert not teacher.exception
    assert not teacher.dataframe and not teacher.get("plotly_chart")
    shown = everything_shown(teacher)
    assert not any(text in shown for text, *_ in STORIES.values())


# --- table, sorting, filters --------------------------------------------------------------

def test_table_teacher_sees_all_profiles_newest_first(teacher):
    assert ids(teacher) == [4, 3, 2, 1]
    assert set(table(teacher)["profile"]) == {"hana", "ken", "mei"}


@pytest.mark.parametrize("order, column, expected", [
    ("density", "n1_density", [1, 4, 2, 3]), ("length", "length", [1, 2, 3, 4])])
def test_table_sort_by_orders_rows(teacher, order, column, expected):
    teacher.selectbox(key="rev_order").set_value(order).run()
    assert ids(teacher) == expected
    values = list(table(teacher)[column])
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize("widget, value, expected", [
    ("multiselect", [("tiny-gpt2", "")], [1, 4]),  # (model, engine): "" for any engine but ct2
    ("multiselect", [("gpt-4o-mini", ""), ("", "")], [2, 3]),  # several at once, and the empty model (pasted)
    ("selectbox", "hana", [1, 3]),
    ("text_input", "把握", [1]),
    ("text_input", "述べた", [4]),  # a conjugated form finds the stories using its headword, as in the Library
    ("slider", (10.0, 30.0), [2, 4]),
    ("date_input", (date(2026, 2, 1), date(2026, 3, 10)), [2, 3]),  # the end day is included
], ids=["model", "models", "profile", "headword", "conjugated", "density", "dates"])
def test_table_filter_narrows_rows(teacher, widget, value, expected):
    key = {"multiselect": "rev_models", "selectbox": "rev_profile", "text_input": "rev_word",
           "slider": "rev_density", "date_input": "rev_dates"}[widget]
    getattr(teacher, widget)(key=key).set_value(value).run()
    assert not teacher.exception
    assert sorted(ids(teacher)) == expected


def test_table_no_match_says_so(teacher):
    teacher.text_input(key="rev_search").input("存在しない言葉").run()
    assert [i.value for i in teacher.info] == ["No stories match these filters."]
    assert not [d for d in teacher.dataframe if "title" in d.value.columns]  # no story table


def test_students_tab_shows_each_students_words_read_only(teacher):
    from core.store import known

    db = _database(str(settings.paths().db))
    known.set_states(db, "hana", ["把握", "部下"], "known", "levels")
    known.set_states(db, "hana", ["促す"], "learning", "reader")
    teacher.run()
    assert teacher.selectbox(key="rev_student").options == ["hana", "ken", "mei"]
    metrics = {m.label: m.value for m in teacher.metric}
    assert (metrics["Words known"], metrics["Learning"]) == ("2", "1")
    met = next(d.value for d in teacher.dataframe if "first_seen" in d.value.columns)
    assert set(met["word"]) == {w["word"] for w in store.words_met(db, "hana", "N1")} and len(met) > 0
    assert teacher.get("plotly_chart")  # words known over time
    teacher.selectbox(key="rev_student").set_value("ken").run()
    assert any("ken has not marked any word as known yet" in c.value for c in teacher.caption)
    assert not [b for b in teacher.button if "known" in (b.label or "").lower()]  # nothing to change here


def test_empty_database_says_where_stories_come_from():
    at = open_review(seeded=False)
    assert any("once students save or generate them" in i.value for i in at.info)
    assert not at.dataframe


# --- charts -------------------------------------------------------------------------------

def test_charts_drawn_per_model(teacher):
    charts = teacher.get("plotly_chart")
    assert len(charts) == 2  # density box and scatter; the rating bar waits for a rating
    box = json.loads(charts[0].proto.spec)
    assert {t["name"] for t in box["data"]} == {"tiny-gpt2", "gpt-4o-mini", "(no model)"}
    aggregates = next(d.value for d in teacher.dataframe if "mean_density" in d.value.columns)
    assert dict(zip(aggregates["model"], aggregates["stories"])) == {"tiny-gpt2": 2, "gpt-4o-mini": 1,
                                                                     "(no model)": 1}


# --- rating in place ----------------------------------------------------------------------

def test_review_save_stores_it_and_updates_table(teacher):
    teacher.selectbox(key="rev_story").set_value(2).run()
    assert '<span class="ns-w ns-N1"' in "".join(h.proto.body for h in teacher.get("html"))  # 停滞 marked
    teacher.radio(key="rev_rating").set_value(4)
    teacher.multiselect(key="rev_tags").set_value(["natural", "use in week 3"])
    teacher.text_area(key="rev_comment").input("  良い題材。 ")
    teacher.button(key="rev_save").click().run()
    assert not teacher.exception and not teacher.error
    assert [s.value for s in teacher.success] == ["Saved your 4★ review of story #2."]
    db = store.Database(settings.paths().db)  # a second connection in this process: same instance
    [review] = store.reviews_for(db, 2)
    db.close()
    assert (review["reviewer"], review["rating"], review["comment"]) == ("ms-sato", 4, "良い題材。")
    assert review["tags"] == ["natural", "use in week 3"]
    rows = table(teacher).set_index("id")
    assert rows.loc[2, "rating"] == "4.0 ★" and rows.loc[2, "reviews"] == 1
    assert len(teacher.get("plotly_chart")) == 3  # now the mean rating bar too


def test_review_without_rating_shows_one_error(teacher):
    teacher.button(key="rev_save").click().run()
    assert [e.value for e in teacher.error] == ["Choose a rating from 1 to 5 stars before saving."]
    assert not teacher.success


def test_review_of_story_deleted_meanwhile_shows_one_error(teacher):
    teacher.selectbox(key="rev_story").set_value(3).run()
    db = store.Database(settings.paths().db)
    store.delete_story(db, 3)  # e.g. the student binned it while the teacher was reading
    db.close()
    teacher.radio(key="rev_rating").set_value(2)
    teacher.button(key="rev_save").click().run()
    assert not teacher.exception
    assert [e.value for e in teacher.error] == ["Story 3 does not exist or was deleted."]
    assert 3 not in ids(teacher)


# --- export -------------------------------------------------------------------------------

@pytest.fixture
def downloads(monkeypatch) -> list[tuple]:
    """What each deferred download button registered: (make_bytes, mimetype, file_name).
    AppTest shows the button but not its file, and the file is built on click; this records
    the real callable (and still registers it) so the test can build the file itself."""
    seen, register = [], MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        seen.append((data_callable, mimetype, file_name))
        return register(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return seen


def test_download_csv_matches_filtered_table(downloads):
    at = open_review()
    at.multiselect(key="rev_models").set_value([("gpt-4o-mini", ""), ("", "")]).run()
    assert at.download_button(key="rev_download").label == "Download 2 stories"
    make, mime, name = downloads[-1]
    assert (mime, name) == ("text/csv", f"nonestory-stories-{date.today():%Y%m%d}.csv")
    csv = pd.read_csv(io.BytesIO(make()))
    assert sorted(csv["id"]) == [2, 3] and set(csv["text"]) == {STORIES[2][0], STORIES[3][0]}


@pytest.mark.parametrize("fmt, mime", [("jsonl", "application/jsonl"), ("parquet", "application/vnd.apache.parquet")])
def test_download_other_formats_cover_selection(downloads, fmt, mime):
    at = open_review()
    at.selectbox(key="rev_profile").set_value("hana")
    at.radio(key="rev_fmt").set_value(fmt).run()
    make, got_mime, name = downloads[-1]
    assert got_mime == mime and name.endswith(f".{fmt}")
    data = make()
    rows = ([json.loads(line) for line in data.decode().splitlines()] if fmt == "jsonl"
            else pd.read_parquet(io.BytesIO(data)).to_dict("records"))
    assert sorted(r["id"] for r in rows) == [1, 3]


@pytest.mark.parametrize("order", ["density", "length", "newest"])
def test_download_keeps_the_order_shown_and_carries_the_reviews(downloads, order):
    at = open_review()
    db = _database(str(settings.paths().db))
    store.save_review(db, 2, "ms-sato", 5, tags=["good for class"], comment="使えます")
    at.selectbox(key="rev_order").set_value(order).run()
    make, mime, _ = downloads[-1]
    data = make()
    assert data.startswith(b"\xef\xbb\xbf")
    csv = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert list(csv["id"]) == ids(at)
    row = csv[csv["id"] == 2].iloc[0]
    assert (row["reviews"], row["rating"], row["tags"], row["comments"]) == (1, 5.0, "good for class", "ms-sato: 使えます")
    assert {"model", "model_name"} <= set(csv.columns)


def test_download_xlsx(downloads):
    at = open_review()
    at.radio(key="rev_fmt").set_value("xlsx").run()
    make, mime, name = downloads[-1]
    assert name.endswith(".xlsx") and "spreadsheetml" in mime
    frame = pd.read_excel(io.BytesIO(make()), engine="openpyxl")
    assert sorted(frame["id"]) == sorted(ids(at)) and set(frame["text"]) >= {STORIES[2][0]}
