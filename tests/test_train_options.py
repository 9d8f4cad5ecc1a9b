"""Training options on the tiny model, each through a real training subprocess: LoRA adapters
(checkpoint layout, verify, resume, loading for generation and evaluation), bf16 on CPU,
gradient checkpointing, the progress line in the log, and the one-sentence errors."""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from tests.test_train import ENV, ROOT, data, tiny  # noqa: F401 - module fixtures, reused
from core import modelfolder
from training import checkpoints, lora, runs
from training.checkpoints import verify
from training.errors import TrainError
from training.train import TrainConfig, main, parse_config, progress_line

# The log line per logging step (training.train.progress_line), as a reader would parse it.
PROGRESS = re.compile(r"^step (\d+)/(\d+) loss (\d+\.\d{4}) lr (\d\.\d\de-\d\d) (\d+\.\d) tok/s "
                      r"(\d+\.\d\d) s/step, (?:about (\d+) min left = (\d+) more sessions? of 90 min|last step)$", re.M)


def train(tiny, data, out, *flags):
    cmd = [sys.executable, "-m", "training.train", "--model", str(tiny), "--data", str(data), "--out", str(out),
           "--batch-size", "4", "--learning-rate", "2e-3", "--logging-steps", "2", "--max-length", "64", *flags]
    proc = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=180)
    return proc.returncode, proc.stdout, proc.stderr


def losses(run: Path) -> list[float]:
    return [m["loss"] for m in runs.read_metrics(run) if "loss" in m]


@pytest.fixture(scope="module")
def lora_run(tiny, data, tmp_path_factory):
    """4 LoRA steps with gradient checkpointing in bf16, a checkpoint every 2 steps."""
    run = tmp_path_factory.mktemp("options") / "lora"
    rc, out, err = train(tiny, data, run, "--lora", "--gradient-checkpointing", "--precision", "bf16",
                         "--max-steps", "4", "--save-steps", "2", "--eval-steps", "4")
    assert rc == 0, out + err
    return run, out


# --- LoRA -------------------------------------------------------------------------------------

def test_lora_checkpoint_holds_adapter_only_and_verifies(lora_run, tiny):
    run, _ = lora_run
    assert [p.name for p in runs.checkpoints(run)] == ["checkpoint-2", "checkpoint-4"]
    ckpt = run / "checkpoint-4"
    for name in (modelfolder.ADAPTER_WEIGHTS, modelfolder.ADAPTER_CONFIG, "tokenizer.json", "trainer_state.json", "config.json"):
        assert (ckpt / name).is_file(), name
    assert not (ckpt / "model.safetensors").exists()  # the adapter, not a copy of the model
    with safe_open(str(ckpt / modelfolder.ADAPTER_WEIGHTS), "pt") as f:
        keys = list(f.keys())
    assert keys and all("lora_" in k and ".c_attn." in k for k in keys)  # peft's GPT-2 default
    config = json.loads((ckpt / modelfolder.ADAPTER_CONFIG).read_text())
    assert (config["r"], config["lora_alpha"], config["lora_dropout"]) == (16, 32, 0.05)
    assert config["base_model_name_or_path"] == str(tiny.resolve())  # absolute: loads from anywhere
    assert verify(ckpt) == []
    status = runs.read_status(run)
    assert status["state"] == "done" and status["verify"] == {"checkpoint": "checkpoint-4", "ok": True,
                                                              "problems": []}
    assert len(losses(run)) == 2 and all(math.isfinite(v) for v in losses(run))
    assert [m["step"] for m in runs.read_metrics(run) if "eval_loss" in m] == [4]


def test_lora_verify_names_a_broken_adapter_or_a_missing_base(lora_run, tmp_path, capsys):
    run, _ = lora_run
    truncated = shutil.copytree(run / "checkpoint-4", tmp_path / "truncated")
    weights = truncated / modelfolder.ADAPTER_WEIGHTS
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    problems = verify(truncated)
    assert problems and problems[0].startswith("weights do not load")
    assert checkpoints.main(["verify", str(truncated)]) == 1  # the CLI's exit status
    assert "weights do not load" in capsys.readouterr().err

    orphan = shutil.copytree(run / "checkpoint-4", tmp_path / "orphan")
    config = json.loads((orphan / modelfolder.ADAPTER_CONFIG).read_text())
    config["base_model_name_or_path"] = str(tmp_path / "deleted-base")
    (orphan / modelfolder.ADAPTER_CONFIG).write_text(json.dumps(config))
    problems = verify(orphan)
    assert problems and "base model" in problems[0] and "deleted-base" in problems[0]


def test_lora_checkpoint_loads_merged_for_generation_evaluation_and_the_model_list(lora_run, tiny, isolated_data,
                                                                                   tmp_path):
    from transformers import AutoModelForCausalLM

    from core.generation import hf, loading, registry
    from core.generation.base import GenerationError, GenerationRequest
    from training.evaluate import evaluate_run
    run, _ = lora_run
    ckpt = run / "checkpoint-4"
    try:
        loaded = loading.load_model(str(ckpt), "cpu")
        model = loaded.model
        assert type(model).__name__ == "GPT2LMHeadModel"  # merged: no peft wrapper at generation time
        base = AutoModelForCausalLM.from_pretrained(tiny)
        name = "transformer.h.0.attn.c_attn.weight"
        assert not torch.equal(model.state_dict()[name], base.state_dict()[name])  # the adapter is in
        assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()  # still tied
        text = "".join(hf.TransformersBackend(str(ckpt), device="cpu").stream(
            GenerationRequest(targets=("曖昧",), max_new_tokens=6, seed=0)))
        assert text
        orphan = shutil.copytree(ckpt, tmp_path / "orphan")
        config = json.loads((orphan / modelfolder.ADAPTER_CONFIG).read_text())
        (orphan / modelfolder.ADAPTER_CONFIG).write_text(json.dumps({**config, "base_model_name_or_path": "/gone/base"}))
        with pytest.raises(GenerationError, match="needs its base model /gone/base"):
            loading.load_model(str(orphan), "cpu")
    finally:
        loading.clear_cache()
    result = evaluate_run(run, samples=1, max_new_tokens=6, checkpoint="checkpoint-4", device="cpu", progress=None)
    entry = result["checkpoints"]["checkpoint-4"]
    assert entry["verified"] and math.isfinite(entry["val_loss"])
    # The model list finds checkpoints by config.json: a LoRA checkpoint is listed like any other.
    (isolated_data / "runs").mkdir(parents=True)
    (isolated_data / "runs" / "lora").symlink_to(run, target_is_directory=True)
    assert "checkpoint: lora/checkpoint-4" in [m.name for m in registry.available()]


def test_lora_run_resumes_from_its_adapter_checkpoint(lora_run, tiny, data, tmp_path):
    run = shutil.copytree(lora_run[0], tmp_path / "lora")
    rc, out, err = train(tiny, data, run, "--lora", "--gradient-checkpointing", "--precision", "bf16",
                         "--max-steps", "6", "--save-steps", "2", "--eval-steps", "0")
    assert rc == 0, out + err
    assert f"resuming from {run / 'checkpoint-4'}" in out
    assert [m["step"] for m in runs.read_metrics(run) if "loss" in m][-1] == 6
    state = json.loads((run / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    assert runs.read_status(run)["state"] == "done" and verify(run / "checkpoint-6") == []


def test_lora_settings_come_from_the_config_file(tmp_path):
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text("model: m\ndata: d\nout: o\nlora: true\nlora_r: 4\nlora_alpha: 8\n"
                        "lora_dropout: 0.1\nlora_targets: c_attn,c_proj\n")
    cfg = parse_config(["--config", str(cfg_file), "--lora-r", "8"])
    assert (cfg.lora, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_targets) == (
        True, 8, 8, 0.1, "c_attn,c_proj")
    with pytest.raises(ValueError, match="lora_r must be at least 1"):
        TrainConfig(model="m", data="d", out="o", lora=True, lora_r=0)


def test_lora_targets_that_do_not_fit_fail_with_a_sentence(tiny):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(tiny)
    with pytest.raises(TrainError, match=r"lora_targets 'q_proj' do not fit this model"):
        lora.wrap(model, 4, 8, 0.0, "q_proj", checkpointing=False)


# --- precision, gradient checkpointing, the log line -------------------------------------------

def test_full_finetune_in_bf16_with_gradient_checkpointing_on_cpu(tiny, data, tmp_path):
    run = tmp_path / "run"
    rc, out, err = train(tiny, data, run, "--precision", "bf16", "--gradient-checkpointing",
                         "--max-steps", "4", "--save-steps", "4", "--eval-steps", "0")
    assert rc == 0, out + err
    assert len(losses(run)) == 2 and all(math.isfinite(v) for v in losses(run))
    args = torch.load(run / "checkpoint-4" / "training_args.bin", weights_only=False)
    assert args.bf16 and args.use_cpu  # the Trainer really ran with CPU bf16 autocast
    assert (run / "checkpoint-4" / "model.safetensors").is_file() and verify(run / "checkpoint-4") == []


def test_log_has_a_parsable_progress_line_per_logging_step(lora_run):
    _, out = lora_run
    found = PROGRESS.findall(out)
    assert [(int(m[0]), int(m[1])) for m in found] == [(2, 4), (4, 4)]
    assert found[0][6:] == ("1", "1") and found[-1][6:] == ("", "")  # the last step says so, not "0 sessions"
    record = {"step": 40, "loss": 3.21, "learning_rate": 4.2e-05, "tokens_per_second": 12.34}
    assert progress_line(record, 300, 1.9, 90) == (
        "step 40/300 loss 3.2100 lr 4.20e-05 12.3 tok/s 1.90 s/step, about 9 min left = 1 more session of 90 min")
    assert progress_line(record, 300, 60.0, 90).endswith("about 260 min left = 3 more sessions of 90 min")
    assert progress_line(record, 300, None, 90).endswith("time left not measured yet")
    assert progress_line({**record, "step": 300}, 300, 1.9, 90).endswith("1.90 s/step, last step")


# --- errors a user can cause ---------------------------------------------------------------------

def _one_sentence_failure(run: Path, rc: int, err: str, sentence: str) -> None:
    assert rc != 0
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == sentence
    status = runs.read_status(run)
    assert status["state"] == "failed" and status["error"] == sentence


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is allowed where CUDA is present")
def test_fp16_without_cuda_fails_at_launch_with_one_sentence(tiny, data, tmp_path):
    run = tmp_path / "run"
    rc, out, err = train(tiny, data, run, "--precision", "fp16", "--max-steps", "2")
    _one_sentence_failure(run, rc, err, "fp16 needs a CUDA GPU; use bf16 or fp32 on CPU.")


def test_lora_without_peft_fails_with_one_sentence(tiny, data, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    monkeypatch.setitem(sys.modules, "peft", None)  # `import peft` now fails as if not installed
    with pytest.raises(TrainError, match="LoRA needs the peft package"):  # the library raises...
        lora.require_peft()
    argv = ["--model", str(tiny), "--data", str(data), "--out", str(run), "--lora", "--max-steps", "2"]
    assert main(argv) == 1  # ...and the command line turns it into status 1 and the sentence alone
    assert capsys.readouterr().err.strip().splitlines()[-1] == modelfolder.NO_PEFT
    status = runs.read_status(run)
    assert status["state"] == "failed" and status["error"] == modelfolder.NO_PEFT
