"""Check that a saved model folder is whole, and list a run's checkpoints.

    python -m training.checkpoints verify DIR      # exit 1 with the reasons if not
    python -m training.checkpoints list RUN_DIR

A checkpoint is whole when its config loads, its tokenizer files are there and load, its
weights load with nothing missing, the output head is present (or tied to the input
embeddings where the config says so), and no weight is NaN or Inf. A LoRA checkpoint
(adapter_config.json) is checked as its base model with the adapter merged in.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training import lora, runs

WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")
TOKENIZER = ("tokenizer.json", "tokenizer_config.json")


def _load(path: Path, problems: list[str]):
    from transformers import AutoConfig, AutoModelForCausalLM
    try:
        config = AutoConfig.from_pretrained(path)
    except Exception as e:
        problems.append(f"config does not load: {str(e).splitlines()[0]}")
        return None, None
    _check_tokenizer(path, problems)
    try:
        model, info = AutoModelForCausalLM.from_pretrained(path, output_loading_info=True)
    except Exception as e:
        problems.append(f"weights do not load: {str(e).splitlines()[0]}")
        return config, None
    missing = [k for k in info.get("missing_keys", []) if not k.endswith("attn.bias")]
    if missing:
        problems.append(f"weights missing from the checkpoint: {', '.join(sorted(missing)[:5])}")
    return config, model


def _check_tokenizer(path: Path, problems: list[str]) -> None:
    from transformers import AutoTokenizer
    try:
        AutoTokenizer.from_pretrained(path)
    except Exception as e:
        problems.append(f"tokenizer does not load: {str(e).splitlines()[0]}")


def _load_adapter(path: Path, problems: list[str]):
    """A LoRA checkpoint: its base model (from adapter_config.json) with the adapter merged."""
    try:
        base = lora.base_model(path)
    except (OSError, ValueError) as e:
        problems.append(f"adapter_config.json does not load: {str(e).splitlines()[0]}")
        return None, None
    _check_tokenizer(path, problems)
    from transformers import AutoConfig
    try:
        AutoConfig.from_pretrained(base)
    except Exception as e:
        problems.append(f"the base model {base or '(not named)'} does not load: {str(e).splitlines()[0]}")
        return None, None
    try:
        model, missing = lora.load_merged(path)
    except SystemExit as e:  # peft is not installed
        problems.append(str(e))
        return None, None
    except Exception as e:
        problems.append(f"weights do not load: {str(e).splitlines()[0]}")
        return None, None
    if missing:
        problems.append(f"adapter weights missing from the checkpoint: {', '.join(sorted(missing)[:5])}")
    return model.config, model


def _check_head(config, model, problems: list[str]) -> None:
    head, inputs = model.get_output_embeddings(), model.get_input_embeddings()
    if head is None or head.weight is None:
        problems.append("the model has no output head (lm_head)")
        return
    tied = getattr(config, "tie_word_embeddings", False)
    same = head.weight.data_ptr() == inputs.weight.data_ptr()
    if tied and not same:
        problems.append("the config ties the output head to the input embeddings but they differ")


def _check_finite(model, problems: list[str]) -> None:
    import torch
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        problems.append(f"NaN or Inf in {len(bad)} tensors, e.g. {bad[0]}")


def verify(path: Path) -> list[str]:
    """The problems that make `path` unusable as a model; [] when it is whole."""
    path = Path(path)
    if not path.is_dir():
        return [f"{path} is not a folder"]
    problems = []
    adapter = lora.is_adapter(path)
    if not adapter and not (path / "config.json").exists():
        problems.append("config.json is missing")
    if adapter and not (path / lora.ADAPTER_WEIGHTS).exists():
        problems.append(f"no adapter weights ({lora.ADAPTER_WEIGHTS}) next to adapter_config.json")
    elif not any((path / w).exists() for w in WEIGHTS):
        problems.append("no safetensors weights (model.safetensors) in the folder")
    missing_tok = [t for t in TOKENIZER if not (path / t).exists()]
    if missing_tok:
        problems.append(f"tokenizer files missing: {', '.join(missing_tok)}")
    if problems:
        return problems
    config, model = _load_adapter(path, problems) if adapter else _load(path, problems)
    if model is not None:
        _check_head(config, model, problems)
        _check_finite(model, problems)
    return problems


def describe(run_dir: Path) -> list[dict]:
    """One row per checkpoint: name, step, size in MB, and the trainer's last logged loss."""
    rows = []
    for path in runs.checkpoints(run_dir):
        loss = None
        try:
            history = json.loads((path / "trainer_state.json").read_text())["log_history"]
            loss = next((h["loss"] for h in reversed(history) if "loss" in h), None)
        except (OSError, ValueError, KeyError):
            pass
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / 1e6
        rows.append({"name": path.name, "step": runs.checkpoint_step(path), "mb": round(size, 1),
                     "loss": loss})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.checkpoints", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("verify", help="check one model folder").add_argument("dir", type=Path)
    sub.add_parser("list", help="list a run's checkpoints").add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "verify":
        problems = verify(args.dir)
        for p in problems:
            print(f"{args.dir}: {p}", file=sys.stderr)
        if not problems:
            print(f"{args.dir}: ok")
        return 1 if problems else 0
    rows = describe(args.run_dir)
    if not rows:
        print(f"no checkpoints in {args.run_dir}")
    for r in rows:
        loss = f"{r['loss']:.4f}" if r["loss"] is not None else "-"
        print(f"{r['name']:<20} step {r['step']:>7}  {r['mb']:>8.1f} MB  loss {loss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
