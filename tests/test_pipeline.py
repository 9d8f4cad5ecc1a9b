"""The training pipeline as one path, the way an admin runs it: tiny model -> prepare a fixture
Batch output holding both answer formats -> train 30 steps -> SIGTERM mid-run -> `stopped` ->
resume continues from the saved step -> evaluate -> verify. Every step is the real CLI in a real
subprocess; only the fixture data is made up."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from tests.test_prepare import body, first_run, in_line, out_line, second_run
from tests.test_train import ENV, ROOT
from training import runs

STEPS = 30


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def batch_files(root):
    """Twelve good stories (eight first-run 設定：/本文：, four second-run halves) and two bad lines."""
    words = {f"p{i}": ["曖昧", "宿命", "吟味", f"語{i}"] for i in range(12)}
    lines = [out_line(f"p{i}", first_run(f"題{i}", body(i, 30))) for i in range(8)]
    lines += [out_line(f"p{i}", second_run(f"題{i}", body(i, 15), f"第{i}話の要約である。", body(i + 50, 15)))
              for i in range(8, 12)]
    lines += [out_line("p12", "", status=500), '{"custom_id": "p13", "respo']
    (root / "out.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "in.jsonl").write_text("\n".join(in_line(c, w) for c, w in words.items()) + "\n", encoding="utf-8")
    return root / "out.jsonl", root / "in.jsonl"


def start_training(tiny, data, run, log):
    cmd = [sys.executable, "-m", "training.train", "--model", str(tiny), "--data", str(data), "--out", str(run),
           "--max-steps", str(STEPS), "--batch-size", "8", "--learning-rate", "2e-3", "--logging-steps", "2",
           "--save-steps", "100", "--eval-steps", "10", "--max-length", "192"]
    return subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT)


def wait_for_step(run, proc, step: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(m.get("step", 0) >= step and "loss" in m for m in runs.read_metrics(run)):
            return
        assert proc.poll() is None, "training ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError(f"no metrics reached step {step} in {timeout}s")


def test_pipeline_tiny_model_to_verified_evaluated_checkpoints(tmp_path):
    assert cli("training.tiny", "--out", str(tmp_path / "tiny")).returncode == 0
    out, inp = batch_files(tmp_path)
    prepared = cli("training.prepare", "--batch-output", str(out), "--batch-input", str(inp), "--format", "words",
                   "--out", str(tmp_path / "data"), "--val", "0.2", "--test", "0.1")
    assert prepared.returncode == 0, prepared.stderr
    assert "failed_request" in prepared.stdout and "malformed_json" in prepared.stdout  # the drop table
    report = json.loads((tmp_path / "data" / "report.json").read_text(encoding="utf-8"))
    assert report["kept"] == 12 and report["dropped"]["failed_request"] == 1 and report["dropped"]["malformed_json"] == 1

    run = tmp_path / "run"
    with open(tmp_path / "train1.log", "w") as log:
        proc = start_training(tmp_path / "tiny", tmp_path / "data", run, log)
        wait_for_step(run, proc, 6)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, (tmp_path / "train1.log").read_text()
    status = runs.read_status(run)
    saved = status["step"]
    assert status["state"] == "stopped" and 6 <= saved < STEPS, status
    assert [p.name for p in runs.checkpoints(run)] == [f"checkpoint-{saved}"] and status["verify"]["ok"]

    with open(tmp_path / "train2.log", "w") as log:
        proc = start_training(tmp_path / "tiny", tmp_path / "data", run, log)
        assert proc.wait(timeout=180) == 0, (tmp_path / "train2.log").read_text()
    assert f"resuming from {run / f'checkpoint-{saved}'}" in (tmp_path / "train2.log").read_text()
    log = (run / runs.LOG).read_text(encoding="utf-8")  # a terminal run keeps its log in the run too
    assert f"resuming from {run / f'checkpoint-{saved}'}" in log and f"step {STEPS}/{STEPS} loss" in log
    assert log.count(f"stopped at step {saved}") == 1
    status = runs.read_status(run)
    assert status["state"] == "done" and status["step"] == STEPS
    losses = [m for m in runs.read_metrics(run) if "loss" in m]
    steps = [m["step"] for m in losses]
    assert steps == sorted(steps) and steps[-1] == STEPS and min(s for s in steps if s > saved) == saved + 2 - saved % 2
    assert losses[-1]["loss"] < losses[0]["loss"]  # training across the stop still learned

    evaluated = cli("training.evaluate", "--run", str(run), "--samples", "1", "--max-new-tokens", "16")
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads((run / "eval.json").read_text(encoding="utf-8"))["checkpoints"]
    assert list(result) == [f"checkpoint-{saved}", f"checkpoint-{STEPS}"]
    assert all(e["verified"] and e["val_loss"] is not None for e in result.values())
    verified = cli("training.checkpoints", "verify", str(run / f"checkpoint-{STEPS}"))
    assert verified.returncode == 0, verified.stderr
    # the words-format dataset's prompt format travels with every checkpoint, for the model list
    assert all((p / runs.FORMAT).read_text(encoding="utf-8").strip() == "own" for p in runs.checkpoints(run))
