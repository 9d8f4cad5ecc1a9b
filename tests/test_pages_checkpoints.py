"""The Checkpoints page through Streamlit's AppTest, on real run directories made here: two tiny
runs trained by real training subprocesses (checkpoints, metrics.jsonl), evaluated by
training.evaluate (eval.json), one checkpoint left unevaluated and one deliberately broken."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from datasets import Dataset, DatasetDict
from streamlit.testing.v1 import AppTest

from core import settings
from core.auth import hash_password
from core.generation import promotion, registry
from tests.test_pages_review import everything_shown as shown
from tests.test_registry_promote import nan_weights
from training import evaluate, jobs, launch
from training.tiny import build_tiny, corpus_sentences
from views import checkpoints_data, common

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGE = str(ROOT / "views" / "pages" / "checkpoints.py")
# One thread: the tiny model is too small to split, and on a busy CPU threads fight (60x slower).
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
PROMPT = "This page is for admins. Sign in from the sidebar."


def _train(tiny: Path, data: Path, out: Path, *flags: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "training.train", "--model", str(tiny), "--data", str(data), "--out", str(out),
           "--batch-size", "4", "--logging-steps", "1", "--eval-steps", "2", "--max-length", "64", *flags]
    return subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """runs/alpha (checkpoints 2, 4, 6) and runs/beta (2, 4), trained side by side; checkpoints
    2 and 4 of both evaluated; alpha/checkpoint-6 has no evaluation yet."""
    root = tmp_path_factory.mktemp("checkpoints")
    tiny = build_tiny(root / "tiny")
    sentences = [s for s in corpus_sentences() if len(s) < 30][:44]
    rows = [{"prompt": f"次の文を書いてください：{s[:4]}\n", "completion": s} for s in sentences]
    DatasetDict(train=Dataset.from_list(rows[:36]), validation=Dataset.from_list(rows[36:])).save_to_disk(
        str(root / "data" / "dataset"))
    jobs = [_train(tiny, root / "data", root / "runs" / "alpha", "--max-steps", "6", "--save-steps", "2",
                   "--learning-rate", "2e-3"),
            _train(tiny, root / "data", root / "runs" / "beta", "--max-steps", "4", "--save-steps", "2",
                   "--learning-rate", "5e-4")]
    for job in jobs:
        output, _ = job.communicate(timeout=180)
        assert job.returncode == 0, output
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as ENV does for the subprocesses: 5x faster for a model this small
    try:
        for run in ("alpha", "beta"):
            for name in ("checkpoint-2", "checkpoint-4"):
                evaluate.evaluate_run(root / "runs" / run, samples=1, max_new_tokens=12, checkpoint=name,
                                      device="cpu", progress=None)
    finally:
        torch.set_num_threads(threads)
    return root / "runs"


@pytest.fixture
def run_root(built) -> Path:
    """This test's copy of the runs, plus alpha/checkpoint-8: a copy of 6 with a NaN weight."""
    root = settings.paths().runs
    shutil.copytree(built, root)
    shutil.copytree(root / "alpha" / "checkpoint-6", root / "alpha" / "checkpoint-8")
    nan_weights(root / "alpha" / "checkpoint-8")
    return root


@pytest.fixture(autouse=True)
def _fresh_caches():
    yield
    common._database.clear()  # the next test has another database file


def admin_account(monkeypatch) -> None:
    monkeypatch.setenv("NONESTORY_ADMIN_PASSWORD_HASH", hash_password("pw", iterations=1000))
    monkeypatch.setenv("NONESTORY_TEACHER_PASSWORD_HASH", hash_password("pw", iterations=1000))


def open_as_admin(monkeypatch, runs: list[str] | None = None) -> AppTest:
    """The app as a signed-in admin on the Checkpoints page, with `runs` picked (when given)."""
    admin_account(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["role"], at.session_state["user"] = "admin", "admin"
    at.run()
    at.switch_page("views/pages/checkpoints.py").run()
    if runs is not None:
        at.multiselect(key="ck_runs").set_value(runs).run()
    assert not at.exception, at.exception
    return at


def table(at: AppTest):
    return next(d.value for d in at.dataframe if "integrity" in d.value.columns)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def html_columns(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if 'class="ns-text"' in h.proto.body]


# --- who may see it -----------------------------------------------------------------------

@pytest.mark.parametrize("session", [{}, {"role": "student"}, {"role": "teacher", "user": "teacher"},
                                     {"role": "admin", "user": "mallory"}],
                         ids=["direct-url", "student", "teacher", "unknown-admin"])
def test_access_without_admin_gets_the_prompt_and_nothing_else(session, run_root, monkeypatch):
    admin_account(monkeypatch)
    at = AppTest.from_file(PAGE, default_timeout=60)  # the page alone: what a direct URL runs
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == [PROMPT]
    assert not at.dataframe and not at.get("plotly_chart") and not at.button and not at.multiselect
    assert "alpha" not in shown(at) and "checkpoint-" not in shown(at)


@pytest.mark.parametrize("role", ["student", "teacher"])
def test_access_through_app_below_admin_shows_only_the_prompt(role, monkeypatch):
    admin_account(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=60)
    if role == "teacher":
        at.session_state["role"], at.session_state["user"] = "teacher", "teacher"
    at.run()
    at.switch_page("views/pages/checkpoints.py").run()  # routed though not listed: a typed URL lands here
    assert not at.exception
    assert PROMPT in [w.value for w in at.warning]
    assert not at.dataframe and not at.get("plotly_chart") and not at.multiselect


def test_no_runs_says_where_they_come_from(monkeypatch):
    at = open_as_admin(monkeypatch)
    assert any("No training run with checkpoints yet" in i.value for i in at.info)
    assert not at.get("plotly_chart")


# --- comparing ----------------------------------------------------------------------------

def test_admin_compares_runs_loss_table_best_integrity_charts(run_root, monkeypatch):
    at = open_as_admin(monkeypatch, ["alpha", "beta"])

    loss = charts(at)[0]
    by_name = {t["name"]: t for t in loss["data"]}
    assert set(by_name) == {"alpha", "alpha (eval)", "beta", "beta (eval)"}
    assert by_name["alpha"]["x"] == [1, 2, 3, 4, 5, 6] and by_name["beta"]["x"] == [1, 2, 3, 4]
    assert by_name["alpha (eval)"]["line"]["dash"] == "dash" and by_name["alpha"]["line"]["dash"] == "solid"

    t = table(at)
    assert list(zip(t["run"], t["checkpoint"])) == [
        ("alpha", "checkpoint-2"), ("alpha", "checkpoint-4"), ("alpha", "checkpoint-6"), ("alpha", "checkpoint-8"),
        ("beta", "checkpoint-2"), ("beta", "checkpoint-4")]
    rows = t.set_index(t["run"] + "/" + t["checkpoint"])
    assert list(rows["evaluated"]) == ["yes", "yes", "no", "no", "yes", "yes"]
    assert rows.loc["alpha/checkpoint-4", "integrity"] == "ok"
    assert "NaN or Inf" in rows.loc["alpha/checkpoint-8", "integrity"]
    # the best validation loss is marked on the row whose eval.json loss is lowest
    losses = {f"{run}/{name}": e["val_loss"] for run in ("alpha", "beta")
              for name, e in evaluate.read_eval(run_root / run)["checkpoints"].items()}
    best = min(losses, key=losses.get)
    assert "val loss" in rows.loc[best, "best"].split(", ")
    assert [lb for lb in rows.index if "val loss" in rows.loc[lb, "best"].split(", ")] == [best]
    assert float(rows.loc[best, "val loss"]) == pytest.approx(losses[best], rel=1e-3)
    assert rows.loc["alpha/checkpoint-6", "best"] == ""  # nothing measured, nothing marked

    # the table, its caption and the charts follow the metric registry: a column and a panel each
    assert [m.label for m in evaluate.METRICS] == [c for c in t.columns if c in {m.label for m in evaluate.METRICS}]
    assert any(c.value.startswith(checkpoints_data.best_caption()) for c in at.caption)
    metric = charts(at)[1]
    assert [a["text"] for a in metric["layout"]["annotations"]] == [m.label for m in evaluate.METRICS]
    val = [tr for tr in metric["data"] if tr.get("xaxis", "x") == "x"]  # the first panel: val loss
    assert {tr["name"]: tr["x"] for tr in val} == {"alpha": [2, 4], "beta": [2, 4]}

    at.multiselect(key="ck_checkpoints").set_value(["beta/checkpoint-4"]).run()
    assert list(table(at)["checkpoint"]) == ["checkpoint-4"]


def test_a_ninth_metric_is_one_registry_entry_for_table_caption_and_charts(monkeypatch):
    extra = evaluate.Metric("tokens", "tokens", "max", ".0f", "new tokens per sample", "chars")
    monkeypatch.setattr(checkpoints_data, "METRICS", (*evaluate.METRICS, extra))
    rows = [{"run": "r", "checkpoint": f"checkpoint-{s}", "step": s, "integrity": "ok", "evaluated": True,
             "val_loss": 3.0 - s / 10, "tokens": 10 * s} for s in (2, 4)]
    table = checkpoints_data.metrics_table(rows)
    assert "tokens" in table.columns and table["best"].iloc[1] == "val loss, tokens"
    assert "higher for N1 density, coverage, distinct-2, clean endings and tokens" in checkpoints_data.best_caption()
    assert checkpoints_data.formats()["tokens"] == "{:.0f}"
    fig = checkpoints_data.metric_figure(rows)
    assert [a.text for a in fig.layout.annotations] == [m.label for m in checkpoints_data.METRICS]  # 9 panels, 5 rows
    assert {tr.yaxis for tr in fig.data if tr.y and tr.y[-1] == 40} == {"y9"}


def test_integrity_follows_changes_to_the_folder(run_root, monkeypatch):
    at = open_as_admin(monkeypatch, ["alpha"])
    rows = table(at).set_index("checkpoint")
    assert list(rows["integrity"])[:3] == ["ok", "ok", "ok"]
    (run_root / "alpha" / "checkpoint-6" / "model.safetensors").unlink()  # never evaluated
    nan_weights(run_root / "alpha" / "checkpoint-2")  # evaluated before this change
    at.run()
    rows = table(at).set_index("checkpoint")
    assert rows.loc["checkpoint-6", "integrity"] == "no safetensors weights (model.safetensors) in the folder"
    assert "NaN or Inf" in rows.loc["checkpoint-2", "integrity"] and rows.loc["checkpoint-4", "integrity"] == "ok"
    assert "alpha/checkpoint-2" not in at.multiselect(key="ck_cmp_models").options


# --- promoting ----------------------------------------------------------------------------

def set_figures(run_root: Path, run: str, name: str, coverage: float, clean: float, broken: bool = False) -> None:
    """Give a checkpoint's evaluation known figures (the tiny model's own are noise), and
    make its sample texts contain U+FFFD or not."""
    path = run_root / run / "eval.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    entry = data["checkpoints"][name]
    entry.update(coverage=coverage, clean_ending_rate=clean)
    for sample in entry["samples"]:
        sample["text"] = sample["text"].replace("\ufffd", "") + ("\ufffd" if broken else "")
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.fixture
def good_checkpoint(run_root) -> Path:
    set_figures(run_root, "alpha", "checkpoint-4", coverage=0.9, clean=1.0)
    return run_root


def test_a_checkpoint_without_an_evaluation_cannot_be_promoted(run_root, monkeypatch):
    at = open_as_admin(monkeypatch, ["alpha"])
    at.selectbox(key="ck_promote_pick").set_value("alpha/checkpoint-8").run()
    assert not [c for c in at.checkbox if c.key == "ck_promote_force"]  # no evaluation: no way round
    at.text_input(key="ck_promote_name").input("broken")
    at.button(key="ck_promote_go").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["It has no evaluation: evaluate it on the Compare tab first."]
    assert not at.success and registry.promoted() == [] and promotion.log() == []


@pytest.mark.parametrize("coverage, clean, broken, shortfall", [
    (0.2, 1.0, False, "target coverage 20% is below the threshold 50%"),
    (0.9, 0.5, False, "clean-ending rate 50% is below the threshold 75%"),
    (0.9, 1.0, True, "contain U+FFFD"),
])
def test_a_checkpoint_below_the_thresholds_is_refused_and_logged_when_forced(run_root, monkeypatch, coverage, clean,
                                                                             broken, shortfall):
    set_figures(run_root, "alpha", "checkpoint-4", coverage, clean, broken)
    at = open_as_admin(monkeypatch, ["alpha"])
    at.selectbox(key="ck_promote_pick").set_value("alpha/checkpoint-4").run()
    assert any(shortfall in w.value for w in at.warning)
    at.text_input(key="ck_promote_name").input("weak")
    at.button(key="ck_promote_go").click().run()
    assert any(shortfall in e.value and "promote anyway" in e.value for e in at.error)
    assert registry.promoted() == [] and promotion.log() == []
    at.checkbox(key="ck_promote_force").check().run()
    at.button(key="ck_promote_go").click().run()  # forced without a reason: still refused
    assert at.error and registry.promoted() == []
    at.text_input(key="ck_promote_reason").input("the class asked for harder stories")
    at.button(key="ck_promote_go").click().run()
    assert not at.error and [e["name"] for e in registry.promoted()] == ["weak"]
    [record] = promotion.log()
    assert (record["by"], record["forced"], record["reason"], record["figures"]["coverage"]) == \
        ("admin", True, "the class asked for harder stories", coverage)
    log = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert list(log["forced"]) == ["yes"] and list(log["name"]) == ["weak"]


def test_thresholds_are_set_by_the_admin(run_root, monkeypatch):
    set_figures(run_root, "alpha", "checkpoint-4", coverage=0.3, clean=1.0)
    at = open_as_admin(monkeypatch, ["alpha"])
    at.selectbox(key="ck_promote_pick").set_value("alpha/checkpoint-4").run()
    at.slider(key="ck_min_cov").set_value(0.25)
    at.button(key="ck_thresholds_go").click().run()
    at.run()
    assert promotion.thresholds().min_coverage == 0.25
    assert not any("coverage" in w.value for w in at.warning)
    compare = next(d.value for d in at.dataframe if "figure" in d.value.columns)
    assert "alpha/checkpoint-4" in compare.columns and any("(default)" in c for c in compare.columns)


def test_promote_puts_checkpoint_in_registry_and_generate_list(good_checkpoint, monkeypatch):
    run_root = good_checkpoint
    at = open_as_admin(monkeypatch, ["alpha"])
    at.selectbox(key="ck_promote_pick").set_value("alpha/checkpoint-4")
    at.text_input(key="ck_promote_name").input("N1 stories v3")
    at.button(key="ck_promote_go").click().run()
    assert not at.exception and not at.error
    assert [s.value for s in at.success] == [
        "Promoted alpha/checkpoint-4 as “N1 stories v3”: it is now in the Generate page's model list."]
    spec = next(m for m in registry.available() if m.name == "N1 stories v3")
    copy = settings.paths().models / registry.COPIES / "N1-stories-v3"  # kept by default
    assert (spec.source, spec.model) == ("promoted", str(copy))
    [entry] = registry.promoted()
    assert (entry["run"], entry["checkpoint"], entry["by"], entry["prompt_format"], entry["source"]) == \
        ("alpha", "checkpoint-4", "admin", "own", str((run_root / "alpha" / "checkpoint-4").resolve()))
    promoted = next(d.value for d in at.dataframe if "folder" in d.value.columns)
    assert list(promoted["name"]) == ["N1 stories v3"] and list(promoted["folder"]) == ["copy"]

    at.button(key="ck_promote_go").click().run()  # the same name again
    assert [e.value for e in at.error] == ["A model named 'N1 stories v3' already exists; choose another name."]

    at.switch_page("views/pages/generate.py").run()
    assert not at.exception
    assert "N1 stories v3" in at.selectbox(key="gen_model").options

    at.switch_page("views/pages/checkpoints.py").run()
    at.button(key="ck_unpromote").click().run()
    assert registry.promoted() == [] and not any("folder" in d.value.columns for d in at.dataframe)
    assert not copy.exists()  # the kept copy goes with its entry


def test_promote_in_place_points_at_the_checkpoint(good_checkpoint, monkeypatch):
    run_root = good_checkpoint
    at = open_as_admin(monkeypatch, ["alpha"])
    at.selectbox(key="ck_promote_pick").set_value("alpha/checkpoint-4")
    at.text_input(key="ck_promote_name").input("in place")
    at.checkbox(key="ck_promote_copy").uncheck()
    at.button(key="ck_promote_go").click().run()
    assert not at.exception and not at.error
    [entry] = registry.promoted()
    assert entry["path"] == str((run_root / "alpha" / "checkpoint-4").resolve()) and not entry["copied"]
    promoted = next(d.value for d in at.dataframe if "folder" in d.value.columns)
    assert list(promoted["folder"]) == ["checkpoint"]


def test_promote_on_ct2_converts_it_in_the_background(good_checkpoint, monkeypatch):
    at = open_as_admin(monkeypatch, ["alpha"])
    at.selectbox(key="ck_promote_pick").set_value("alpha/checkpoint-4")
    at.text_input(key="ck_promote_name").input("fast")
    at.radio(key="ck_promote_engine").set_value("ct2")
    at.button(key="ck_promote_go").click().run()
    assert not at.exception and not at.error
    assert [s.value for s in at.success] == [
        "Promoted alpha/checkpoint-4 as “fast”: it is now in the Generate page's model list, on CTranslate2 int8; "
        "converting it in the background."]
    [entry] = registry.promoted()
    assert registry.engine_of(entry) == "ct2"
    assert [m.name for m in registry.for_students() if m.model == entry["path"]] == ["fast · ct2 int8"]
    # the new model is the one shown under Promoted models, with its engine and live conversion
    assert at.selectbox(key="ck_promoted_pick").value == "fast" and at.radio(key="ck_engine").value == "ct2"
    assert any(i.value.startswith("Converting “fast” for CTranslate2") for i in at.info)
    pid = jobs.conversion_progress(entry["path"])["pid"]
    try:
        deadline = time.monotonic() + 240  # a fresh Python importing torch, on a loaded machine
        while (progress := jobs.conversion_progress(entry["path"]))["running"]:
            assert time.monotonic() < deadline, Path(progress["log"]).read_text()
            time.sleep(0.2)
    finally:
        if launch.alive(pid):
            os.killpg(pid, signal.SIGKILL)
    assert progress["state"] == "done"
    at.run()
    promoted = next(d.value for d in at.dataframe if "folder" in d.value.columns)
    assert list(zip(promoted["engine"], promoted["CTranslate2 copy"])) == [("ct2 int8", "ready")]


# --- evaluating in the background ---------------------------------------------------------

def test_background_evaluation_shows_progress_then_fills_the_table(run_root, monkeypatch):
    at = open_as_admin(monkeypatch, ["alpha"])
    at.number_input(key="ck_eval_samples").set_value(1)
    at.number_input(key="ck_eval_tokens").set_value(8)
    at.button(key="ck_eval_go_alpha").click().run()
    job = jobs.read_eval_job(run_root / "alpha")
    try:
        assert job["asked"] == ["checkpoint-6", "checkpoint-8"]
        assert "evaluating… 0 of 2 done" in shown(at) or "evaluating… 1 of 2 done" in shown(at)
        assert "ck_eval_go_alpha" not in [b.key for b in at.button]  # no second start while it runs
        deadline = time.monotonic() + 120
        while launch.alive(job["pid"]):
            assert time.monotonic() < deadline, (run_root / "alpha" / jobs.EVAL_LOG).read_text()
            time.sleep(0.5)
        at.run()
    finally:
        if launch.alive(job["pid"]):
            os.killpg(job["pid"], signal.SIGKILL)
    assert not at.exception and not at.error
    rows = table(at).set_index("checkpoint")
    assert rows.loc["checkpoint-6", "evaluated"] == "yes" and float(rows.loc["checkpoint-6", "val loss"]) > 0
    assert rows.loc["checkpoint-8", "evaluated"] == "no"  # recorded as not verified, never scored
    assert "the last evaluation finished (2 of 2 checkpoints)" in shown(at)
    results = evaluate.read_eval(run_root / "alpha")["checkpoints"]
    assert results["checkpoint-8"]["verified"] is False and results["checkpoint-6"]["verified"] is True
    assert "checkpoint-6: val loss" in (run_root / "alpha" / jobs.EVAL_LOG).read_text()
    assert jobs.unevaluated(run_root / "alpha") == []


def test_failed_background_evaluation_is_one_error_with_the_reason(run_root, monkeypatch):
    config = json.loads((run_root / "beta" / "config.json").read_text(encoding="utf-8"))
    config["data"] = str(run_root / "no-such-dataset")  # e.g. the dataset was deleted since
    (run_root / "beta" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    shutil.copytree(run_root / "beta" / "checkpoint-4", run_root / "beta" / "checkpoint-6")
    at = open_as_admin(monkeypatch, ["beta"])
    at.button(key="ck_eval_go_beta").click().run()
    job = jobs.read_eval_job(run_root / "beta")
    deadline = time.monotonic() + 60
    while launch.alive(job["pid"]) and time.monotonic() < deadline:
        time.sleep(0.3)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"The evaluation of beta ended after 0 of 1 checkpoints: error: Dataset folder "
        f"{run_root / 'no-such-dataset'} does not exist; pass --data or fix the run's config."]
    assert at.button(key="ck_eval_go_beta").label == "Evaluate 1 checkpoint of beta"  # can be retried


# --- side by side -------------------------------------------------------------------------

def test_side_by_side_same_seed_same_stories(run_root, monkeypatch):
    at = open_as_admin(monkeypatch, ["alpha"])
    models = at.multiselect(key="ck_cmp_models")
    assert "alpha/checkpoint-8" not in models.options  # does not verify
    models.set_value(["alpha/checkpoint-2", "alpha/checkpoint-4", registry.EXAMPLES.name])
    at.number_input(key="ck_cmp_seed").set_value(7)
    at.number_input(key="ck_cmp_tokens").set_value(24).run()  # the button is enabled from 2 models on
    at.button(key="ck_cmp_go").click().run()
    assert not at.exception and not at.error
    first = html_columns(at)
    assert len(first) == 3
    assert sum("N1 density" in m.label for m in at.metric) == 3  # a score card per column
    assert sum("seed 7" in c.value for c in at.caption) == 3
    assert 'class="ns-w ns-N1' in first[2]  # the example passage has N1 words to mark
    at.button(key="ck_cmp_go").click().run()
    assert html_columns(at) == first  # same prompt, same seed: the same stories
    text = re.sub(r"<[^>]+>", "", first[0])
    assert text.strip()
