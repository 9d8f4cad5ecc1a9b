"""LoRA through peft for training: wrap a model so only low-rank adapters train.

A LoRA checkpoint-<step> holds adapter_model.safetensors and adapter_config.json (whose
base_model_name_or_path names the model it adapts), the tokenizer, the trainer state, and a
copy of the base model's config.json so model lists that look for config.json find it. Reading
one back (is it an adapter, its base model, merging it) is core.modelfolder's.
"""
from __future__ import annotations

from core import modelfolder
from core.i18n import _
from training.errors import TrainError


def require_peft():
    """The peft module, or TrainError saying how to get it."""
    try:
        return modelfolder.require_peft()
    except modelfolder.ModelFolderError as e:
        raise TrainError(str(e)) from None


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
        raise TrainError(_("lora_targets {targets} do not fit this model: {reason}").format(
            targets=repr(targets), reason=str(e).splitlines()[0])) from None
