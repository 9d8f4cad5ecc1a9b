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
    # hana has marked no word known: the score card's hint, not a coverage of function words only
    assert not any(m.value.startswith("**Your coverage of this story**") for m in app.markdown)
    from core.coverage import NO_KNOWN_WORDS
    assert any(c.value == NO_KNOWN_WORDS for c in app.caption)


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


# ---- a premise, a sequel, and writing from the student's own words -----------------------------

def app_db() -> store.Database:
    from views.common import _database
    return _database(str(settings.paths().db))


def saved_story(profile: str, text: str = "春が来た。彼は状況を把握した。最後に彼女は笑った。") -> int:
    from core.analysis import analyze
    return store.save_story(app_db(), analyze(text), store.Story(profile=profile, source="generated",
                                                                  title=f"{profile}の話"))


def test_a_premise_is_kept_and_the_page_says_the_example_passage_cannot_follow_it(app):
    app.text_area(key="gen_premise").input("舞台は海辺の町。\n主人公は灯台守の娘。").run()
    assert any("cannot follow a premise" in c.value for c in app.caption)  # said before writing
    app.button(key="gen_go").click().run()
    finish(app)
    assert not app.exception
    story = store.get_story(app_db(), store.get_job(app_db(), app.session_state["gen_job"])["story_ids"][0])
    assert story["params"]["premise"] == "舞台は海辺の町。主人公は灯台守の娘。"
    assert story["prompt"] == "設定：舞台は海辺の町。主人公は灯台守の娘。"
    assert any("Premise: 舞台は海辺の町。" in c.value and "cannot follow" in c.value for c in app.caption)


def test_a_student_continues_only_their_own_stories(app):
    mine, theirs = saved_story("hana"), saved_story("ken")
    app.run()
    options = app.selectbox(key="gen_continue").options
    assert any(o.startswith(f"#{mine} hanaの話") for o in options)
    assert not any(o.startswith(f"#{theirs} ") for o in options)
    app.selectbox(key="gen_continue").set_value(mine).run()
    app.button(key="gen_go").click().run()
    finish(app)
    story = store.get_story(app_db(), store.get_job(app_db(), app.session_state["gen_job"])["story_ids"][0])
    assert story["params"]["continued_from"] == mine
    assert story["params"]["continues"] == "春が来た。……最後に彼女は笑った。"
    assert any(f"Continues story #{mine}" in c.value for c in app.caption)


def test_the_premise_box_holds_at_most_the_premise_limit(app):
    # Longer is refused in one sentence by GenerationRequest (tests/test_prompts_format.py, the CLI).
    from core.generation.base import PREMISE_MAX

    assert app.text_area(key="gen_premise").max_chars == PREMISE_MAX


def test_a_teacher_may_continue_any_students_story(monkeypatch):
    from core.auth import hash_password

    theirs = saved_story("ken")
    monkeypatch.setenv("NONESTORY_TEACHER_PASSWORD_HASH", hash_password("pw", iterations=1000))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["role"], at.session_state["user"] = "teacher", "teacher"
    at.run()
    at.switch_page("views/pages/generate.py").run()
    options = at.selectbox(key="gen_continue").options
    assert any(o.startswith(f"#{theirs} kenの話 · ken") for o in options)
    assert "Write from my words" not in at.radio(key="gen_words_mode").options  # no profile open
    at.selectbox(key="gen_continue").set_value(theirs).run()
    assert not at.error and not at.button(key="gen_go").disabled


def test_write_from_my_words_end_to_end(app):
    from core import vocab
    from core.store import known

    db = app_db()
    known.set_states(db, "hana", [w for lv in ("N5", "N4", "N3") for w in vocab.level_words(lv)], "known", "levels")
    app.radio(key="gen_words_mode").set_value("Write from my words").run()
    plan = next(m.value for m in app.markdown if m.value.startswith("**Your words**"))
    targets = plan.removeprefix("**Your words**: ").split("、")
    assert targets and all(w in vocab.level_words("N1") for w in targets)
    assert any("predicted" in c.value and "below 95%" in c.value for c in app.caption)  # 10% unknown already
    app.button(key="gen_go").click().run()
    finish(app)
    assert not app.exception
    shown = next(m.value for m in app.markdown if m.value.startswith("**Your coverage of this story**"))
    assert "known running words (predicted" in shown and "New words (" in shown and targets[0] in shown
    assert any(f"Now learning (the new target words it used): {'、'.join(targets)}." == s.value for s in app.success)
    states = known.word_states(db, "hana")
    assert all(states[w] == "learning" for w in targets)
    story = store.get_story(db, store.get_job(db, app.session_state["gen_job"])["story_ids"][0])
    assert story["params"]["extra"]["from_my_words"]["new"] == targets
