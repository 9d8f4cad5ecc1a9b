"""Choosing the engine, through the pages (AppTest) on real components: the tiny model promoted
into this test's data folder, its CTranslate2 conversion run by the real converter in a detached
process (training.jobs), real generation on both engines, the real store and analyzer.

A converter is a fresh Python that imports torch: seconds before it converts anything (the tiny
model itself converts in well under a second). Tests wait on its status file, never a fixed sleep.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import settings, store
from core.analysis import analyze
from core.auth import hash_password
from core.generation import ct2, registry
from tests.test_pages_review import everything_shown, write_teacher_account
from training import jobs
from training.process import alive
from training.tiny import build_tiny
from views import common

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
CONVERSION_TIMEOUT = 240  # a Python start and a torch import on a loaded 2-core machine, many times over


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("engine") / "tiny")


@pytest.fixture
def promoted(tiny) -> dict:
    """The tiny model promoted as "tiny" with a kept copy in this test's data folder, so its
    conversion (beside the model) is this test's alone."""
    return registry.promote(tiny, "tiny", keep_copy=True, by="admin")


@pytest.fixture(autouse=True)
def _cleanup(monkeypatch):
    """Every converter a test started (the pages call jobs.start_conversion through the module)
    is gone after it, and the app's cached database with it."""
    started: list[int] = []
    real = jobs.start_conversion

    def tracked(model: str) -> dict:
        record = real(model)
        started.append(record["pid"])
        return record

    monkeypatch.setattr(jobs, "start_conversion", tracked)
    yield
    for pid in started:
        if alive(pid, jobs.CONVERTER):
            os.killpg(pid, signal.SIGKILL)
    common._database.clear()


@pytest.fixture
def student(promoted):
    """The app with hana's profile open on the Generate page; its worker closed afterwards."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["profile"] = "hana"
    at.run()
    at.switch_page("views/pages/generate.py").run()
    assert not at.exception
    yield at
    common._job_manager(str(settings.paths().db)).close()
    common._job_manager.clear()


def wait_for_conversion(model: str) -> dict:
    """The conversion's final state, polled from its status file."""
    deadline = time.monotonic() + CONVERSION_TIMEOUT
    while (progress := jobs.conversion_progress(model))["running"]:
        assert time.monotonic() < deadline, Path(progress["log"]).read_text(encoding="utf-8", errors="replace")
        time.sleep(0.2)
    return progress


def open_checkpoints_as_admin(monkeypatch) -> AppTest:
    monkeypatch.setenv("NONESTORY_ADMIN_PASSWORD_HASH", hash_password("pw", iterations=1000))
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["role"], at.session_state["user"] = "admin", "admin"
    at.run()
    at.switch_page("views/pages/checkpoints.py").run()
    assert not at.exception, at.exception
    return at


def promoted_table(at: AppTest):
    return next(d.value for d in at.dataframe if "folder" in d.value.columns).set_index("name")


# --- the admin's choice and the conversion ------------------------------------------------------

def test_admin_sets_ct2_and_sees_the_conversion_run_then_finish(promoted, monkeypatch):
    model = promoted["path"]
    at = open_checkpoints_as_admin(monkeypatch)
    assert at.radio(key="ck_engine").value == "hf"
    assert promoted_table(at).loc["tiny", "engine"] == "transformers"
    assert promoted_table(at).loc["tiny", "CTranslate2 copy"] == "not converted"

    at.radio(key="ck_engine").set_value("ct2").run()
    assert not at.exception and not at.error
    assert [s.value for s in at.success] == ["“tiny” now writes with CTranslate2 int8; converting it in the "
                                             "background."]
    assert registry.engine_of(registry.promoted()[0]) == "ct2"
    assert "tiny · ct2 int8" in [m.name for m in registry.for_students()]
    row = promoted_table(at).loc["tiny"]
    assert (row["engine"], row["CTranslate2 copy"]) == ("ct2 int8", "converting")
    assert any(i.value.startswith("Converting “tiny” for CTranslate2 (") for i in at.info)  # the live part
    assert any("the first story written with this model waits for the conversion" in c.value for c in at.caption)

    done = wait_for_conversion(model)
    assert (done["state"], Path(done["path"]).parent) == ("done", Path(model) / ct2.FOLDER)
    at.run()
    assert not at.exception and not at.error
    assert not [i for i in at.info if i.value.startswith("Converting")]
    assert promoted_table(at).loc["tiny", "CTranslate2 copy"] == "ready"
    assert f"“tiny” has a current CTranslate2 copy ({ct2.compute_type()})." in [c.value for c in at.caption]
    assert ct2.status(model) == "ready"

    at.radio(key="ck_engine").set_value("hf").run()  # back: the copy stays for next time
    assert [s.value for s in at.success] == ["“tiny” now writes with transformers."]
    assert promoted_table(at).loc["tiny", "engine"] == "transformers"
    assert [m.name for m in registry.for_students() if m.model == model] == ["tiny"]


def test_a_failed_conversion_is_one_sentence_and_can_be_tried_again(promoted, monkeypatch):
    model = Path(promoted["path"])
    weights = model / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(b"not weights")  # damaged after promotion, e.g. a disk error
    at = open_checkpoints_as_admin(monkeypatch)
    at.radio(key="ck_engine").set_value("ct2").run()
    failed = wait_for_conversion(str(model))
    assert failed["state"] == "failed"
    at.run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert error == failed["message"]
    assert "Traceback" not in error and "\n" not in error and error.endswith(".")
    assert error.count(". ") == 0  # one sentence
    assert promoted_table(at).loc["tiny", "CTranslate2 copy"] == "failed"
    assert any("the transformers engine writes them and each says so" in c.value for c in at.caption)

    weights.write_bytes(good)  # mended: converting again succeeds
    at.button(key="ck_convert_go").click().run()
    again = wait_for_conversion(str(model))
    assert again["state"] == "done", Path(again["log"]).read_text(encoding="utf-8", errors="replace")
    at.run()
    assert not at.error and promoted_table(at).loc["tiny", "CTranslate2 copy"] == "ready"


def test_a_converter_that_dies_without_a_word_is_failed(promoted, monkeypatch):
    model = promoted["path"]
    registry.set_engine("tiny", "ct2")
    record = jobs.start_conversion(model)
    os.killpg(record["pid"], signal.SIGKILL)  # e.g. the machine ran out of memory
    deadline = time.monotonic() + 30
    while alive(record["pid"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    progress = jobs.conversion_progress(model)
    assert (progress["state"], progress["running"]) == ("failed", False)
    at = open_checkpoints_as_admin(monkeypatch)
    assert [e.value for e in at.error] == [progress["message"]]
    assert progress["message"].startswith("The conversion stopped before it finished")
    assert at.button(key="ck_convert_go").label == "Convert again"


def test_ct2_is_refused_in_one_sentence_where_ctranslate2_is_missing(promoted, monkeypatch):
    monkeypatch.setattr(ct2, "available", lambda: False)
    at = open_checkpoints_as_admin(monkeypatch)
    assert promoted_table(at).loc["tiny", "CTranslate2 copy"] == "not installed"
    at.radio(key="ck_engine").set_value("ct2").run()
    assert not at.exception
    assert [e.value for e in at.error] == ["CTranslate2 is not installed on this server (pip install "
                                           "ctranslate2==4.8.5), so the model stays on transformers."]
    assert at.radio(key="ck_engine").value == "hf" and registry.engine_of(registry.promoted()[0]) == "hf"
    assert not (settings.paths().models / jobs.CONVERSIONS).exists()  # nothing started


def test_a_ct2_model_not_converted_says_the_first_story_converts_it(promoted, monkeypatch):
    registry.set_engine("tiny", "ct2")  # e.g. set from another machine's page; never converted here
    at = open_checkpoints_as_admin(monkeypatch)
    assert at.radio(key="ck_engine").value == "ct2"
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("“tiny” has no CTranslate2 copy: the first story written with it converts it first")
    assert at.button(key="ck_convert_go").label == "Convert now"


# --- what students and teachers see -------------------------------------------------------------

def _write(at: AppTest, name: str) -> dict:
    spec = next(m for m in registry.for_students() if m.name == name)
    at.selectbox(key="gen_model").set_value(spec)
    at.radio(key="gen_words_mode").set_value("Paste").run()
    at.text_input(key="gen_paste").input("把握")
    at.slider(key="gen_length").set_value(100)
    at.number_input(key="gen_min_chars").set_value(0)
    at.text_input(key="gen_seed").input("5")
    at.button(key="gen_go").click().run()
    db = common._database(str(settings.paths().db))
    job_id = at.session_state["gen_job"]
    deadline = time.monotonic() + CONVERSION_TIMEOUT
    while store.get_job(db, job_id)["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    at.run()
    assert not at.exception and not at.error and not at.warning
    job = store.get_job(db, job_id)
    return store.get_story(db, job["story_ids"][0])


def test_a_student_sees_which_engine_wrote_the_story(promoted, student):
    registry.set_engine("tiny", "ct2")  # not converted yet: the first story converts it
    at = student
    at.run()
    assert "tiny · ct2 int8" in at.selectbox(key="gen_model").options

    story = _write(at, "tiny · ct2 int8")
    assert (story["backend"], story["model"]) == ("ct2", promoted["path"])
    assert f"Story #{story['id']} · tiny · ct2 int8 · saved to hana's Library" in [c.value for c in at.caption]
    assert ct2.status(promoted["path"]) == "ready"

    registry.set_engine("tiny", "hf")  # the admin switches back
    at.run()
    assert "tiny" in at.selectbox(key="gen_model").options
    assert "tiny · ct2 int8" not in at.selectbox(key="gen_model").options
    story = _write(at, "tiny")
    assert story["backend"] == "hf"
    assert f"Story #{story['id']} · tiny · transformers · saved to hana's Library" in [c.value for c in at.caption]


def test_review_desk_compares_one_models_stories_on_each_engine(promoted):
    model = promoted["path"]
    db = store.Database(settings.paths().db)
    for text, backend in (("部長は部下に報告を促した。状況を把握した。", "ct2"),
                          ("会議を再開したが、議論は停滞した。", "hf"),
                          ("彼は淡々と事実を述べ、妥協を拒んだ。", "hf")):
        store.save_story(db, analyze(text), store.Story(profile="hana", source="generated", backend=backend,
                                                        model=model, title=backend))
    aggregates = {(r["model"], r["engine"]): r["stories"] for r in store.model_aggregates(db)}
    assert aggregates == {(model, ""): 2, (model, "ct2"): 1}
    db.close()
    write_teacher_account()
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["role"], at.session_state["user"] = "teacher", "ms-sato"
    at.run()
    at.switch_page("views/pages/review.py").run()
    assert not at.exception

    table = next(d.value for d in at.dataframe if "n1_density" in d.value.columns and "id" in d.value.columns)
    assert dict(zip(table["id"], table["model"])) == {1: "tiny · ct2 int8", 2: "tiny", 3: "tiny"}
    assert "engine" not in table.columns
    box = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in box["data"]} == {"tiny", "tiny · ct2 int8"}
    per_model = next(d.value for d in at.dataframe if "mean_density" in d.value.columns)
    assert dict(zip(per_model["model"], per_model["stories"])) == {"tiny": 2, "tiny · ct2 int8": 1}
    assert any("counted apart from its transformers stories" in c.value for c in at.caption)
    assert model not in everything_shown(at)  # names, never the server path

    picker = at.multiselect(key="rev_models")
    assert sorted(picker.options) == ["tiny", "tiny · ct2 int8"]
    picker.set_value([(model, "ct2")]).run()
    table = next(d.value for d in at.dataframe if "n1_density" in d.value.columns and "id" in d.value.columns)
    assert list(table["id"]) == [1]
    at.selectbox(key="rev_story").set_value(1).run()
    assert any(c.value.startswith("hana · generated · tiny · ct2 int8 · ") for c in at.caption)
    picker.set_value([(model, "")]).run()
    table = next(d.value for d in at.dataframe if "n1_density" in d.value.columns and "id" in d.value.columns)
    assert sorted(table["id"]) == [2, 3]
