"""Fine-tuning end to end on the tiny model: collator masking, a real training subprocess, the
run-directory contract, SIGTERM -> stopped -> resume, and checkpoint verification."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict
from transformers import AutoTokenizer

from training import runs
from training.checkpoints import verify
from training.data import IGNORE, CompletionCollator, pack, tokenize_records
from training.tiny import build_tiny, corpus_sentences
from training.train import TrainConfig, parse_config

ROOT = Path(__file__).resolve().parent.parent
# One thread: the tiny model is too small to split, and on a busy CPU threads fight (60x slower).
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("train") / "tiny")


@pytest.fixture(scope="module")
def tokenizer(tiny):
    return AutoTokenizer.from_pretrained(tiny)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """~40 short prompt/completion pairs from the word lists' example sentences."""
    sentences = [s for s in corpus_sentences() if len(s) < 30][:44]
    records = [{"prompt": f"次の文を書いてください：{s[:4]}\n", "completion": s, "custom_id": f"c{i}"}
               for i, s in enumerate(sentences)]
    out = tmp_path_factory.mktemp("train") / "prepared"
    DatasetDict(train=Dataset.from_list(records[:36]), validation=Dataset.from_list(records[36:40]),
                test=Dataset.from_list(records[40:])).save_to_disk(str(out / "dataset"))
    return out


def train(tiny, data, out, *flags, wait=True):
    cmd = [sys.executable, "-m", "training.train", "--model", str(tiny), "--data", str(data),
           "--out", str(out), "--batch-size", "4", "--learning-rate", "2e-3", "--logging-steps", "2",
           "--eval-steps", "100", "--max-length", "64", *flags]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    if wait:
        output, _ = proc.communicate(timeout=120)
        return proc.returncode, output
    return proc


# --- collator ------------------------------------------------------------------------------

def test_collator_masks_prompt_and_appends_eos(tokenizer):
    prompt, completion = "次の文：", "雨が降る。"
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    c = tokenizer(completion, add_special_tokens=False)["input_ids"]
    batch = CompletionCollator(tokenizer, 64)([{"prompt": prompt, "completion": completion}])
    assert batch["input_ids"][0].tolist() == p + c + [tokenizer.eos_token_id]
    assert batch["labels"][0].tolist() == [IGNORE] * len(p) + c + [tokenizer.eos_token_id]
    assert batch["attention_mask"][0].tolist() == [1] * (len(p) + len(c) + 1)


def test_collator_padding_carries_no_loss(tokenizer):
    collator = CompletionCollator(tokenizer, 64)
    batch = collator([{"prompt": "問：", "completion": "はい。"},
                      {"prompt": "問：", "completion": "今日は朝から雨が降っていて、とても寒い。"}])
    short = batch["attention_mask"][0]
    assert short.sum() < short.numel()  # padded to the longest row, right side
    assert (batch["labels"][0][short == 0] == IGNORE).all()
    assert (batch["input_ids"][0][short == 0] == tokenizer.pad_token_id).all()
    assert collator.loss_tokens == int((batch["labels"] != IGNORE).sum())


def test_collator_truncates_to_max_length(tokenizer):
    batch = CompletionCollator(tokenizer, 8)([{"prompt": "問：", "completion": "長い" * 20}])
    assert batch["input_ids"].shape[1] == 8


def test_packing_keeps_masking_per_example(tokenizer):
    ds = Dataset.from_list([{"prompt": "問：", "completion": "はい。"}] * 3)
    rows = tokenize_records(ds, tokenizer, 64)
    one = rows[0]
    packed = pack(rows, 64)
    assert len(packed) == 1
    assert packed[0]["labels"] == one["labels"] * 3
    assert packed[0]["input_ids"] == one["input_ids"] * 3
    assert len(pack(rows, len(one["input_ids"]) * 2)) == 2  # an example never straddles rows


# --- config ------------------------------------------------------------------------------

def test_config_file_then_flags_win(tmp_path):
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text("model: m\ndata: d\nout: o\nmax_steps: 50\nlearning_rate: 0.001\npack: true\n")
    cfg = parse_config(["--config", str(cfg_file), "--max-steps", "10", "--no-pack"])
    assert (cfg.max_steps, cfg.learning_rate, cfg.pack, cfg.batch_size) == (10, 0.001, False, 8)


@pytest.mark.parametrize("bad", [{"precision": "fp8"}, {"max_steps": 0}, {"batch_size": 0}, {"learning_rate": 0},
                                 {"lora_dropout": 1.5}, {"session_minutes": -1}, {"out": ""}])
def test_one_bad_value_is_one_sentence_where_the_config_is_built(bad, tmp_path):
    """The page builds the TrainConfig the launcher takes; a bad value stops it there, once."""
    with pytest.raises(ValueError) as err:
        TrainConfig(**{"model": "m", "data": "d", "out": str(tmp_path / "run"), **bad})
    message = str(err.value)
    assert "\n" not in message and message.endswith(".") and message.count(". ") == 0
    assert not (tmp_path / "run").exists()  # nothing written, nothing launched


def test_config_rejects_bad_values_with_a_sentence():
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(model="m", data="d", out="o", precision="fp8")
    with pytest.raises(SystemExit):
        parse_config(["--model", "m", "--data", "d"])  # --out missing


# --- runs ----------------------------------------------------------------------------------

def test_runs_tolerate_partial_files(tmp_path):
    assert runs.read_status(tmp_path) == {}
    (tmp_path / runs.STATUS).write_text('{"state": "runn')
    assert runs.read_status(tmp_path) == {}
    runs.append_metrics(tmp_path, {"step": 1, "loss": 2.0})
    with open(tmp_path / runs.METRICS, "a") as f:
        f.write('{"step": 2, "lo')
    assert runs.read_metrics(tmp_path) == [{"step": 1, "loss": 2.0}]
    with pytest.raises(ValueError):
        runs.write_status(tmp_path, state="paused")


def test_estimate_counts_sessions():
    status = {"step": 100, "total_steps": 1000, "seconds_per_step": 12.0}
    est = runs.estimate(status, session_minutes=90)
    assert est["remaining_seconds"] == 900 * 12.0
    assert est["sessions"] == 2  # 3 hours of 90-minute sessions
    assert runs.estimate({"step": 0}, 90)["sessions"] is None


# --- training subprocess ---------------------------------------------------------------------

def test_train_30_steps_loss_goes_down(tiny, data, tmp_path):
    run = tmp_path / "run"
    rc, output = train(tiny, data, run, "--max-steps", "30", "--save-steps", "15", "--eval-steps", "15")
    assert rc == 0, output
    metrics = runs.read_metrics(run)
    losses = [m for m in metrics if "loss" in m]
    assert [m["step"] for m in losses] == list(range(2, 31, 2))
    assert losses[-1]["loss"] < losses[0]["loss"]
    for key in ("epoch", "learning_rate", "grad_norm", "tokens_per_second", "elapsed"):
        assert key in losses[0]
    assert all(m["tokens_per_second"] > 0 for m in losses)
    assert [m["step"] for m in metrics if "eval_loss" in m] == [15, 30]
    status = runs.read_status(run)
    assert status["state"] == "done" and status["step"] == 30 and status["total_steps"] == 30
    assert status["last_checkpoint"] == "checkpoint-30" and status["verify"]["ok"]
    assert status["seconds_per_step"] > 0
    assert [p.name for p in runs.checkpoints(run)] == ["checkpoint-15", "checkpoint-30"]
    assert (run / "checkpoint-30" / "model.safetensors").exists()
    assert json.loads((run / runs.CONFIG).read_text())["max_steps"] == 30
    shutil.copytree(tiny, tmp_path / "a-model")
    assert [r["name"] for r in runs.list_runs(tmp_path)] == ["run"]  # a model folder (config.json) is no run

    # verify passes on a real checkpoint and fails with a reason on a truncated one
    assert verify(run / "checkpoint-30") == []
    broken = tmp_path / "broken"
    shutil.copytree(run / "checkpoint-30", broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    problems = verify(broken)
    assert problems and "weights" in problems[0]
    cli = subprocess.run([sys.executable, "-m", "training.checkpoints", "verify", str(broken)],
                         cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert cli.returncode == 1 and "weights" in cli.stderr
    listing = subprocess.run([sys.executable, "-m", "training.checkpoints", "list", str(run)],
                             cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert listing.returncode == 0 and "checkpoint-30" in listing.stdout


def _wait_for_step(run: Path, proc, step: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(m.get("step", 0) >= step for m in runs.read_metrics(run)):
            return
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    pytest.fail(f"no metrics reached step {step} in {timeout}s")


def test_sigterm_stops_with_checkpoint_and_resume_continues(tiny, data, tmp_path):
    run = tmp_path / "run"
    proc = train(tiny, data, run, "--max-steps", "5000", "--save-steps", "1000", wait=False)
    _wait_for_step(run, proc, 4)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    status = runs.read_status(run)
    assert status["state"] == "stopped", status
    saved = status["step"]
    assert 4 <= saved < 5000
    assert status["last_checkpoint"] == f"checkpoint-{saved}" and status["verify"]["ok"]
    assert [p.name for p in runs.checkpoints(run)] == [f"checkpoint-{saved}"]

    before = len(runs.read_metrics(run))
    rc, output = train(tiny, data, run, "--max-steps", str(saved + 6), "--save-steps", "1000")
    assert rc == 0, output
    assert f"checkpoint-{saved}" in output  # it said where it resumed from
    resumed = [m for m in runs.read_metrics(run)[before:] if "loss" in m]
    assert resumed and resumed[0]["step"] > saved
    state = json.loads((run / f"checkpoint-{saved + 6}" / "trainer_state.json").read_text())
    assert state["global_step"] == saved + 6
    assert runs.read_status(run)["state"] == "done"


def test_stop_file_stops_the_run(tiny, data, tmp_path):
    run = tmp_path / "run"
    proc = train(tiny, data, run, "--max-steps", "5000", "--save-steps", "1000", wait=False)
    _wait_for_step(run, proc, 2)
    (run / runs.STOP).touch()
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert runs.read_status(run)["state"] == "stopped"
    assert not (run / runs.STOP).exists()  # consumed, so a resumed run does not stop at once


def test_crash_records_failed_state(tiny, tmp_path):
    run = tmp_path / "run"
    rc, output = train(tiny, tmp_path / "no-such-data", run, "--max-steps", "2")
    assert rc != 0
    status = runs.read_status(run)
    assert status["state"] == "failed" and status["error"], status
