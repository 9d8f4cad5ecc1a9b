"""Training page through Streamlit's AppTest: admins only; a real tiny-model run started from
the form (a real training subprocess on the CPU), watched through the chart data, stopped and
resumed; past runs from run directories; a dead process shown as failed; bad input refused;
a dataset prepared in the background appears without a restart."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict
from streamlit.testing.v1 import AppTest

from core import settings
from core.auth import hash_password
from training import launch, runs
from training.tiny import corpus_sentences
from views import common

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGE = str(ROOT / "views" / "pages" / "training.py")
SIGN_IN = "This page is for admins. Sign in from the sidebar."


@pytest.fixture(autouse=True)
def _fresh_database_cache():
    yield
    common._database.clear()  # the sidebar opened this test's database; the next test has another


def write_dataset(folder: Path) -> Path:
    """A prepared dataset as training.prepare leaves it: dataset/ (36 train, 4 validation, 4 test
    short records from the word lists' example sentences) and report.json."""
    sentences = [s for s in corpus_sentences() if len(s) < 30][:44]
    records = [{"prompt": f"次の文を書いてください：{s[:4]}\n", "completion": s, "custom_id": f"c{i}"}
               for i, s in enumerate(sentences)]
    DatasetDict(train=Dataset.from_list(records[:36]), validation=Dataset.from_list(records[36:40]),
                test=Dataset.from_list(records[40:])).save_to_disk(str(folder / "dataset"))
    (folder / "report.json").write_text(json.dumps(
        {"format": "words", "kept": 44, "splits": {"train": 36, "validation": 4, "test": 4}}), encoding="utf-8")
    return folder


def admin_accounts(monkeypatch) -> None:
    monkeypatch.setenv("NONESTORY_ADMIN_PASSWORD_HASH", hash_password("pw", iterations=1000))
    monkeypatch.setenv("NONESTORY_TEACHER_PASSWORD_HASH", hash_password("pw", iterations=1000))


def open_training(monkeypatch) -> AppTest:
    admin_accounts(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["role"], at.session_state["user"] = "admin", "admin"
    at.run()
    at.switch_page("views/pages/training.py").run()
    assert not at.exception
    return at


def kill_runs() -> None:
    """Teardown: no training process may outlive its test."""
    for run in runs.list_runs(settings.paths().runs):
        pid = runs.read_launch(run["path"]).get("pid")
        if launch.alive(pid):
            os.killpg(pid, signal.SIGKILL)


def chart(at: AppTest, key: str = "tr_loss_chart") -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key)).proto.spec)


def trace(fig: dict, name: str) -> dict:
    return next(t for t in fig["data"] if t["name"] == name)


def badge(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "-badge[" in m.value)


def poll(at: AppTest, done, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not done(at):
        assert not at.exception, at.exception
        if time.monotonic() > deadline:
            log = runs.log_tail(settings.paths().runs / at.session_state["tr_run"], 15)
            pytest.fail(f"timed out waiting for {what}; page shows {badge(at)!r}; log:\n" + "\n".join(log))
        time.sleep(0.5)
        at.run()


def runs_table(at: AppTest):
    return next(d.value for d in at.dataframe if "best eval loss" in d.value.columns)


def step_shown(at: AppTest) -> int:
    return int(next(m.value for m in at.metric if m.label == "Step").split("/")[0])


# --- who may see it -----------------------------------------------------------------------

@pytest.mark.parametrize("session", [{}, {"role": "student"}, {"role": "teacher", "user": "teacher"},
                                     {"role": "admin", "user": "mallory"}],
                         ids=["nobody", "student", "teacher", "unknown-admin"])
def test_page_without_admin_shows_sign_in_prompt_only(session, monkeypatch):
    admin_accounts(monkeypatch)
    at = AppTest.from_file(PAGE, default_timeout=60)  # the page alone: what a direct URL runs
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == [SIGN_IN]
    assert not at.button and not at.selectbox and not at.code and not at.get("plotly_chart")


@pytest.mark.parametrize("role", ["student", "teacher"])
def test_page_through_app_below_admin_shows_only_the_prompt(role, monkeypatch):
    admin_accounts(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=60)
    if role == "teacher":
        at.session_state["role"], at.session_state["user"] = "teacher", "teacher"
    at.run()
    at.switch_page("views/pages/training.py").run()  # routed though not listed: a typed URL lands here
    assert not at.exception
    assert SIGN_IN in [w.value for w in at.warning]
    assert not at.main.selectbox and not at.main.code and not at.main.get("plotly_chart")  # the sidebar has its own


# --- a real run: start, watch, stop, resume --------------------------------------------------

def test_admin_starts_watches_stops_and_resumes_a_real_run(monkeypatch):
    write_dataset(settings.paths().datasets / "small")
    at = open_training(monkeypatch)
    assert "No training runs yet" in at.info[0].value
    at.button(key="tr_tiny").click().run()  # builds data/models/tiny in place and selects it
    assert at.selectbox(key="tr_model").value == str(settings.paths().models / "tiny")
    assert at.selectbox(key="tr_data").value == str(settings.paths().datasets / "small")
    for key, value in {"tr_cfg_max_steps": 2000, "tr_cfg_batch_size": 4, "tr_cfg_learning_rate": 2e-3,
                       "tr_cfg_max_length": 64, "tr_cfg_save_steps": 1000, "tr_cfg_eval_steps": 6,
                       "tr_cfg_logging_steps": 2}.items():
        at.number_input(key=key).set_value(value)
    at.text_input(key="tr_name").set_value("tiny run").run()
    command = at.code[0].value
    assert "OMP_NUM_THREADS=1" in command and "-m training.train --config" in command
    try:
        at.button(key="tr_start").click().run()
        assert not at.error, [e.value for e in at.error]
        run_id = at.session_state["tr_run"]
        run_dir = settings.paths().runs / run_id
        assert run_id.endswith("-tiny-run") and command.endswith(f"{run_dir / 'run.json'}")
        assert json.loads((run_dir / "run.json").read_text())["max_steps"] == 2000
        assert (run_dir / runs.FORMAT).read_text().strip() == "own"  # the words format's prompts

        poll(at, lambda a: a.get("plotly_chart") and len(trace(chart(a), "train loss")["y"]) >= 2
             and trace(chart(a), "eval loss")["y"], "train and eval loss in the chart")
        assert "running" in badge(at)
        lr = trace(chart(at, "tr_lr_chart"), "learning rate")["y"]
        assert lr and all(v > 0 for v in lr)

        at.button(key="tr_stop").click().run()
        poll(at, lambda a: "stopped" in badge(a), "state stopped")
        stopped = runs.read_status(run_dir)["step"]
        assert step_shown(at) == stopped and (run_dir / f"checkpoint-{stopped}").is_dir()
        assert not launch.alive(runs.read_launch(run_dir)["pid"])
        assert runs_table(at).iloc[0]["state"] == "stopped" and int(runs_table(at).iloc[0]["step"]) == stopped
        # the page's prompt format reaches the checkpoint, where the model list reads it
        assert (run_dir / f"checkpoint-{stopped}" / runs.FORMAT).read_text().strip() == "own"

        at.button(key="tr_resume").click().run()
        poll(at, lambda a: "running" in badge(a) and step_shown(a) > stopped, "running past the stopped step")
        at.button(key="tr_stop").click().run()
        poll(at, lambda a: "stopped" in badge(a), "state stopped again")
        assert "resuming from" in (run_dir / runs.LOG).read_text()
    finally:
        kill_runs()


# --- past runs, failures, bad input ------------------------------------------------------------

def write_past_run(name: str) -> Path:
    run = settings.paths().runs / name
    run.mkdir(parents=True)
    (run / runs.CONFIG).write_text(json.dumps({"model": "/models/tiny", "data": "/datasets/n1-words",
                                               "logging_steps": 10, "session_minutes": 60}))
    for step in range(10, 101, 10):
        runs.append_metrics(run, {"step": step, "loss": 4.0 - step / 50, "learning_rate": 1e-4 * (1 - step / 100),
                                  "tokens_per_second": 900.0, "elapsed": step * 2.0})
    for step, loss in ((50, 3.5), (100, 3.2)):
        runs.append_metrics(run, {"step": step, "eval_loss": loss})
    runs.write_status(run, state="done", step=100, total_steps=100, started=time.time() - 300)
    return run


def test_runs_list_shows_a_past_run_and_opens_its_curves(monkeypatch):
    write_past_run("20250101-090000-past")
    at = open_training(monkeypatch)
    row = runs_table(at).iloc[0]
    assert (row["run"], row["state"], row["base model"], row["dataset"]) == (
        "20250101-090000-past", "done", "tiny", "n1-words")
    assert row["best eval loss"] == "3.2000" and int(row["step"]) == 100 and row["finished"] not in (None, "–")
    fig = chart(at)
    assert trace(fig, "eval loss")["y"] == [3.5, 3.2]
    raw = trace(fig, "train loss (raw)")["y"]
    assert len(raw) == 10 and trace(fig, "train loss")["y"] != raw  # smoothed by default
    assert fig["layout"]["yaxis"]["type"] == "linear"
    at.toggle(key="tr_log").set_value(True).run()
    at.slider(key="tr_smooth").set_value(0.0).run()
    fig = chart(at)
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert [t["name"] for t in fig["data"]] == ["train loss", "eval loss"] and trace(fig, "train loss")["y"] == raw
    assert "tr_resume" not in [b.key for b in at.button]  # a finished run has nothing to resume


def test_dead_process_shows_failed_with_last_log_lines(monkeypatch):
    run = settings.paths().runs / "20250102-090000-crashed"
    proc = subprocess.run([sys.executable, "-c", "print('step 7/100 loss 3.1');"
                           "raise RuntimeError('CUDA out of memory (simulated by this test)')"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    run.mkdir(parents=True)
    (run / runs.LOG).write_text(proc.stdout)
    runs.write_status(run, state="running", pid=os.getpid() + 10_000_000, step=7, total_steps=100)  # no such pid
    at = open_training(monkeypatch)
    assert "failed" in badge(at)
    assert [e.value for e in at.error][0].startswith("The training process ended without finishing")
    log = at.code[0].value
    assert "RuntimeError: CUDA out of memory" in log and "step 7/100" in log
    assert "tr_resume" in [b.key for b in at.button]


def test_missing_dataset_is_one_error_and_nothing_is_launched(monkeypatch):
    at = open_training(monkeypatch)
    at.selectbox(key="tr_model").set_value("rinna/japanese-gpt2-medium")
    at.selectbox(key="tr_data").set_value("__other__").run()
    at.text_input(key="tr_data_other").set_value(str(settings.paths().data / "no-such-dataset")).run()
    at.button(key="tr_start").click().run()
    assert [e.value for e in at.error] == [f"{settings.paths().data / 'no-such-dataset'} is not a prepared dataset "
                                           "(it needs the dataset/ folder that training.prepare writes)."]
    assert not settings.paths().runs.exists() or not any(settings.paths().runs.iterdir())


def test_bad_hyperparameter_is_one_error(monkeypatch):
    write_dataset(settings.paths().datasets / "small")
    at = open_training(monkeypatch)
    at.selectbox(key="tr_model").set_value("rinna/japanese-gpt2-medium").run()
    at.number_input(key="tr_cfg_warmup_steps").set_value(-5).run()  # under "More settings"
    at.button(key="tr_start").click().run()
    assert [e.value for e in at.error] == ["eval_steps, save_total_limit and warmup_steps cannot be negative."]
    assert not settings.paths().runs.exists() or not any(settings.paths().runs.iterdir())


def test_dataset_prepared_here_appears_without_restart(monkeypatch, tmp_path):
    from tests.test_prepare import body, first_run, out_line  # the prepare tests' Batch lines

    output = tmp_path / "output.jsonl"
    output.write_text("".join(out_line(f"s{i}", first_run(f"題{i}", body(i))) + "\n" for i in range(4)),
                      encoding="utf-8")
    at = open_training(monkeypatch)
    assert at.selectbox(key="tr_data").options == ["Other: a dataset folder"]
    at.text_input(key="tr_prep_output").set_value(str(output))
    at.text_input(key="tr_prep_name").set_value("fresh").run()
    at.button(key="tr_prep_go").click().run()
    assert not at.error
    assert any("Preparing fresh" in i.value for i in at.info) or "fresh" in at.selectbox(key="tr_data").options
    deadline = time.monotonic() + 90
    while "fresh" not in at.selectbox(key="tr_data").options:
        assert not at.error, [e.value for e in at.error] + [c.value for c in at.code]
        assert time.monotonic() < deadline, "the prepared dataset never appeared"
        time.sleep(0.5)
        at.run()
    at.selectbox(key="tr_data").set_value(str(settings.paths().datasets / "fresh")).run()
    assert any("words format · 4 stories" in c.value for c in at.caption)
