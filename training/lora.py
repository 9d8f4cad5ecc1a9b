"""LoRA through peft: wrap a model for training, and read a LoRA checkpoint back.

A LoRA checkpoint-<step> holds adapter_model.safetensors and adapter_config.json (whose
base_model_name_or_path names the model it adapts), the tokenizer, the trainer state, and a
copy of the base model's config.json so model lists that look for config.json find it.
"""
from __future__ import annotations

import json
from pathlib import Path

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
NO_PEFT = "LoRA needs the peft package; install it with pip install peft==0.21.2."


def require_peft():
    """The peft module, or exit with one sentence saying how to get it."""
    try:
        import peft
    except ImportError:
        raise SystemExit(NO_PEFT) from None
    return peft


def is_adapter(path: Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def base_model(path: Path) -> str:
    """The base model an adapter checkpoint was trained on ("" when the config does not say)."""
    config = json.loads((Path(path) / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    return str(config.get("base_model_name_or_path") or "")


def wrap(model, r: int, alpha: int, dropout: float, targets: str, checkpointing: bool):
    """`model` with trainable LoRA adapters on `targets` (comma-separated module names; empty
    = peft's default for the architecture, c_attn for GPT-2) and everything else frozen."""
    peft = require_peft()
    modules = [t.strip() for t in targets.split(",") if t.strip()] or None
    config = peft.LoraConfig(task_type="CAUSAL_LM", r=r, lora_alpha=alpha, lora_dropout=dropout,
                             target_modules=modules)
    if checkpointing:
        # The frozen embeddings' output needs a grad, or a recomputed block has nothing to
        # backpropagate into (with reentrant checkpointing, which a user's model may force).
        model.enable_input_require_grads()
    try:
        return peft.get_peft_model(model, config)
    except ValueError as e:
        raise SystemExit(f"lora_targets {targets!r} do not fit this model: {str(e).splitlines()[0]}") from None


def load_merged(path: Path, dtype=None):
    """(base model with the checkpoint's adapter merged in, adapter weights the file lacks).
    Raises what transformers/peft/safetensors raise for a missing base or unreadable file."""
    peft = require_peft()
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM
    path = Path(path)
    config = peft.PeftConfig.from_pretrained(str(path))
    base = AutoModelForCausalLM.from_pretrained(config.base_model_name_or_path, dtype=dtype)
    model = peft.get_peft_model(base, config)
    result = peft.set_peft_model_state_dict(model, load_file(str(path / ADAPTER_WEIGHTS)))
    missing = [k for k in result.missing_keys if "lora_" in k]
    return model.merge_and_unload(), missing
