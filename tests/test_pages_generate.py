"""The Generate page through AppTest: a job is submitted, runs on the worker, and the stored
story shows highlighted; errors are one line."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import settings, store

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app():
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["profile"] = "hana"
    at.run()
    at.switch_page("views/pages/generate.py").run()
    assert not at.exception
    yield at
    from views.common import _database, _job_manager
    _job_manager(str(settings.paths().db)).close()
    _job_manager.clear()
    _database.clear()


def finish(at: AppTest, timeout: float = 60) -> None:
    from views.common import _database
    db = _database(str(settings.paths().db))
    job_id = at.session_state["gen_job"]
    deadline = time.monotonic() + timeout
    while store.get_job(db, job_id)["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    at.run()


def html_of(at: AppTest) -> str:
    return "".join(h.proto.body for h in at.get("html"))


def test_generate_with_pasted_words_shows_and_keeps_the_story(app):
    app.radio(key="gen_words_mode").set_value("Paste").run()
    app.text_input(key="gen_paste").input("把握, 促す, 和やか").run()
    app.text_input(key="gen_seed").input("3")
    app.button(key="gen_go").click().run()
    finish(app)
    assert not app.exception
    assert 'data-word="把握"' in html_of(app)
    assert any("saved to hana" in c.value for c in app.caption)
    from views.common import _database
    rows = store.list_stories(_database(str(settings.paths().db)), store.StoryFilter(profile="hana"))
    assert len(rows) == 1 and rows[0]["source"] == "generated" and rows[0]["coverage"] == 1.0


def test_random_sample_of_a_level_draws_words(app):
    assert app.radio(key="gen_words_mode").value == "Random sample"
    app.selectbox(key="gen_source").set_value("N1").run()
    sample = app.session_state["gen_sample"]
    assert len(sample) == 10
    app.button(key="gen_draw").click().run()
    assert app.session_state["gen_sample"] != sample


def test_best_of_three_shows_candidate_scores(app):
    app.radio(key="gen_words_mode").set_value("Paste").run()
    app.text_input(key="gen_paste").input("把握")
    app.number_input(key="gen_n").set_value(3)
    app.button(key="gen_go").click().run()
    finish(app)
    tables = [d.value for d in app.dataframe if "coverage" in d.value.columns]
    assert tables and len(tables[0]) == 3


def test_bad_settings_are_one_error_and_no_job(app):
    app.text_input(key="gen_seed").input("abc").run()
    assert any("seed must be a whole number" in e.value for e in app.error)
    assert app.button(key="gen_go").disabled


def test_unavailable_api_fails_with_one_readable_line(app, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    app.run()
    api = next(m for m in app.selectbox(key="gen_model").options if "API" in m)
    app.selectbox(key="gen_model").set_value(next(m for m in __import__("core.generation.registry", fromlist=["x"])
                                                  .available() if m.name == api)).run()
    app.button(key="gen_go").click().run()
    finish(app)
    assert any("Cannot reach the API" in e.value for e in app.error)
    assert not app.exception


def test_batch_saves_several_stories(app):
    app.number_input(key="gen_batch_n").set_value(3)
    app.button(key="gen_batch_go").click().run()
    finish(app)
    assert any("Saved 3 stories" in s.value for s in app.success)


@pytest.mark.parametrize("role, sees_checkpoint", [(None, False), ("teacher", False), ("admin", True)])
def test_only_admins_are_offered_raw_checkpoints(monkeypatch, role, sees_checkpoint):
    from core.auth import hash_password

    folder = settings.paths().runs / "run-x" / "checkpoint-2"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")  # listed only; never loaded here
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["profile"] = "hana"
    if role:
        monkeypatch.setenv(f"NONESTORY_{role.upper()}_PASSWORD_HASH", hash_password("pw", iterations=1000))
        at.session_state["role"], at.session_state["user"] = role, role
    at.run()
    at.switch_page("views/pages/generate.py").run()
    assert not at.exception
    options = [str(o) for o in at.selectbox(key="gen_model").options]
    assert any("checkpoint: run-x/checkpoint-2" in o for o in options) is sees_checkpoint
    assert not any(str(settings.paths().runs) in o for o in options)
