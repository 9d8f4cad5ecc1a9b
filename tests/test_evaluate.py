"""Evaluation end to end on the tiny model: a fixture Batch output in both answer formats ->
prepare -> train 8 steps (checkpoints at 4 and 8) -> evaluate -> eval.json; a corrupted
checkpoint is skipped and recorded as not verified, the other entries kept."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest

from core.generation import promotion
from tests.test_prepare import body, first_run, in_line, out_line, second_run
from tests.test_train import ENV, ROOT, train
from training import evaluate as ev
from training import runs
from training.checkpoints import verify
from training.prepare import prepare
from training.tiny import build_tiny

SAMPLE_FIELDS = ("n1_density", "coverage", "distinct_2", "repeated_rate", "chars", "clean_ending")
AGGREGATES = ("step", "val_loss", "perplexity", "n1_density", "coverage", "distinct_2", "repeated_rate",
              "mean_chars", "clean_ending_rate", "samples", "verified")


def test_every_metric_in_the_registry_is_complete_and_named_once():
    keys = [m.key for m in ev.METRICS]
    assert len(set(keys)) == len(keys) and len({m.label for m in ev.METRICS}) == len(keys)
    for m in ev.METRICS:
        assert m.better in ("min", "max", None) and format(1.5, m.fmt) and m.description
        assert m.sample is None or m.sample in SAMPLE_FIELDS
    samples = [{"n1_density": 0.2, "coverage": 1.0, "distinct_2": 0.9, "repeated_rate": 0.0, "chars": 80,
                "clean_ending": True},
               {"n1_density": None, "coverage": 0.5, "distinct_2": 0.7, "repeated_rate": 0.5, "chars": 40,
                "clean_ending": False}]
    assert ev.aggregate(samples) == {"n1_density": 0.2, "coverage": 0.75, "distinct_2": 0.8, "repeated_rate": 0.25,
                                     "mean_chars": 60.0, "clean_ending_rate": 0.5}


def test_small_pieces():
    assert ev.distinct_2("ああああ") == pytest.approx(1 / 3)
    assert ev.distinct_2("abcd") == 1.0 and ev.distinct_2("a") == 0.0
    assert ev.ends_cleanly("雨が降った。 ") and ev.ends_cleanly("「行こう」") and not ev.ends_cleanly("雨が")
    assert ev.perplexity(2.0) == pytest.approx(math.exp(2.0))
    assert ev.perplexity(1e6) == math.exp(50)  # no OverflowError
    assert ev.perplexity(float("nan")) == math.inf and ev.perplexity(None) is None
    reqs = ev.requests(4, 20, seed=7)
    assert [r.seed for r in reqs] == [7, 8, 9, 10] and reqs == ev.requests(4, 20, seed=7)
    assert ev.prompt_format({"prompt_format": "v2"}, None) == "v2" and ev.prompt_format({}, None) == "own"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A trained tiny run: data prepared (format words = own prompts) from both answer formats."""
    root = tmp_path_factory.mktemp("evaluate")
    words = {f"e{i}": ["曖昧", "宿命", "吟味", f"語{i}"] for i in range(12)}
    lines = [out_line(f"e{i}", first_run(f"題{i}", body(i, 30))) for i in range(8)]  # 設定：/本文：
    lines += [out_line(f"e{i}", second_run(f"題{i}", body(i, 15), f"第{i}話の要約である。", body(i + 50, 15)))
              for i in range(8, 12)]  # 本文（上半分）：/本文（下半分）：【前情提要】：
    (root / "out.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "in.jsonl").write_text("\n".join(in_line(c, w) for c, w in words.items()) + "\n", encoding="utf-8")
    report = prepare(root / "out.jsonl", root / "data", batch_input=root / "in.jsonl", format="words",
                     val=0.2, test=0.1)
    assert report.kept == 12 and report.splits["validation"] >= 2, report.to_json()
    tiny = build_tiny(root / "tiny")
    rc, output = train(tiny, root / "data", root / "run", "--max-steps", "8", "--save-steps", "4",
                        "--max-length", "160")  # the own-format prompt alone is ~77 tiny tokens
    assert rc == 0, output
    assert [p.name for p in runs.checkpoints(root / "run")] == ["checkpoint-4", "checkpoint-8"]
    return root / "run"


def test_evaluate_cli_writes_eval_json_then_a_corrupt_checkpoint_is_recorded(run):
    cmd = [sys.executable, "-m", "training.evaluate", "--run", str(run), "--samples", "2",
           "--max-new-tokens", "24", "--seed", "3"]
    done = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checkpoint-4: val loss" in done.stdout and "checkpoint-8: val loss" in done.stdout
    result = json.loads((run / ev.EVAL).read_text(encoding="utf-8"))
    assert result["data"] == json.loads((run / runs.CONFIG).read_text())["data"] and result["updated"]
    assert list(result["checkpoints"]) == ["checkpoint-4", "checkpoint-8"]
    for name, step in (("checkpoint-4", 4), ("checkpoint-8", 8)):
        entry = result["checkpoints"][name]
        assert set(AGGREGATES) <= set(entry) and entry["verified"] is True and entry["step"] == step
        assert math.isfinite(entry["val_loss"]) and entry["perplexity"] == pytest.approx(math.exp(entry["val_loss"]), rel=1e-4)
        assert entry["prompt_format"] == "own"  # from the data's report.json (format words)
        assert len(entry["samples"]) == 2
        for s in entry["samples"]:
            assert set(SAMPLE_FIELDS) <= set(s) and isinstance(s["text"], str)
            assert s["prompt"]["targets"] and "【使用語彙】" in s["prompt"]["text"]
            assert 0 <= s["distinct_2"] <= 1 and s["coverage"] is not None
        assert 0 <= entry["clean_ending_rate"] <= 1
        # every figure evaluate writes (what a promotion keeps) has its registry entry, and back
        assert set(promotion.figures(entry)) == {m.key for m in ev.METRICS}
    # the loss went down over training, and the samples are reproducible from the seed
    assert result["checkpoints"]["checkpoint-8"]["val_loss"] < result["checkpoints"]["checkpoint-4"]["val_loss"]
    assert verify(run / "checkpoint-8") == []

    # a corrupted checkpoint: skipped, recorded as not verified, the others kept (merge)
    broken = run / "checkpoint-12"
    shutil.copytree(run / "checkpoint-8", broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    lines = []
    again = ev.evaluate_run(run, samples=2, max_new_tokens=24, seed=3, checkpoint="checkpoint-12",
                            device="cpu", progress=lines.append)
    assert lines and "checkpoint-12: skipped" in lines[0]
    entry = again["checkpoints"]["checkpoint-12"]
    assert entry["verified"] is False and entry["step"] == 12 and "weights" in entry["problems"][0]
    on_disk = ev.read_eval(run)
    assert list(on_disk["checkpoints"]) == ["checkpoint-4", "checkpoint-8", "checkpoint-12"]
    assert on_disk["checkpoints"]["checkpoint-8"] == result["checkpoints"]["checkpoint-8"]

    # same seed, same checkpoint: the same stories (evaluated in this process this time)
    redo = ev.evaluate_run(run, samples=2, max_new_tokens=24, seed=3, checkpoint="checkpoint-8", device="cpu",
                           progress=None)
    assert [s["text"] for s in redo["checkpoints"]["checkpoint-8"]["samples"]] == \
        [s["text"] for s in result["checkpoints"]["checkpoint-8"]["samples"]]
    assert redo["checkpoints"]["checkpoint-8"]["val_loss"] == pytest.approx(result["checkpoints"]["checkpoint-8"]["val_loss"])

    with pytest.raises(ev.EvaluateError, match="no checkpoint named"):
        ev.evaluate_run(run, checkpoint="checkpoint-99", progress=None)
