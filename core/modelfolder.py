"""What a model folder is: the one module that knows, for generation, the model list, the
trainer, evaluation and promotion.

A model folder holds either a full model (config.json and safetensors weights) or a LoRA
adapter (adapter_config.json, whose base_model_name_or_path names the model it adapts, and
adapter_model.safetensors; training also copies the base model's config.json next to it), the
tokenizer files, and optionally nonestory_format.txt: the prompt format (v1, v2, own) the model
was trained with, which generation must prompt it in.

A folder is whole (`verify`) when its config loads, its tokenizer files are there and load, its
weights load with nothing missing, the output head is present (or tied to the input embeddings
where the config says so), and no weight is NaN or Inf. An adapter is checked as its base model
with the adapter merged in. Heavy imports (torch, transformers, peft) happen inside the
functions that load weights, so the model list stays cheap.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from core.files import atomic_write

CONFIG = "config.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
WEIGHTS = ("model.safetensors", "model.safetensors.index.json", ADAPTER_WEIGHTS)
TOKENIZER = ("tokenizer.json", "tokenizer_config.json")  # what training saves; verify wants both
FORMAT = "nonestory_format.txt"
PROMPT_FORMATS = ("v1", "v2", "own")
NO_PEFT = "LoRA needs the peft package; install it with pip install peft==0.21.2."


class ModelFolderError(Exception):
    """A model folder that cannot be loaded as asked (no peft for an adapter, a base model that
    does not load), in one sentence."""


def is_model_folder(path: Path | str) -> bool:
    """Whether `path` holds a full model (config.json) or a LoRA adapter (adapter_config.json)."""
    path = Path(path)
    return (path / CONFIG).is_file() or (path / ADAPTER_CONFIG).is_file()


def is_adapter(path: Path | str) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def base_model(path: Path | str) -> str:
    """The base model an adapter was trained on ("" when its config does not say). Raises
    OSError or ValueError for a missing or unreadable adapter_config.json."""
    config = json.loads((Path(path) / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    return str(config.get("base_model_name_or_path") or "")


def models_in(root: Path, pattern: str = "*") -> list[Path]:
    """Model folders matching `pattern` under `root` (e.g. "*/checkpoint-*"), sorted; [] when
    `root` is missing. Lists find models by config.json, which a LoRA checkpoint has too."""
    root = Path(root)
    return sorted(p.parent for p in root.glob(f"{pattern}/{CONFIG}")) if root.is_dir() else []


# ---- the prompt-format marker -------------------------------------------------------------------

def format_marker(folder: Path | str) -> str | None:
    """The prompt format recorded in `folder` (a model or a run directory); None when none is."""
    try:
        return (Path(folder) / FORMAT).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def prompt_format(folder: Path | str) -> str:
    """The format to prompt a local model in: models trained by training/ record theirs, and
    anything else is treated as ours ("own")."""
    return format_marker(folder) or "own"


def write_format(folder: Path | str, fmt: str) -> None:
    """Record the prompt format in `folder`: the one writer of the marker (the launch writes it
    into the run directory, the trainer copies it into each checkpoint)."""
    if fmt not in PROMPT_FORMATS:
        raise ValueError(f"prompt format {fmt!r} is not one of {', '.join(PROMPT_FORMATS)}.")
    atomic_write(Path(folder) / FORMAT, fmt + "\n")


# ---- loading an adapter -----------------------------------------------------------------------

def require_peft():
    """The peft module, or ModelFolderError saying how to get it."""
    try:
        import peft
    except ImportError:
        raise ModelFolderError(NO_PEFT) from None
    return peft


def load_merged(path: Path | str, dtype=None):
    """(the adapter's base model with the adapter merged into its weights, adapter weights the
    file lacks): generation then runs as fast as the base model alone. ModelFolderError when
    peft is missing or the base model does not load; what transformers, peft or safetensors
    raise for an unreadable adapter."""
    peft = require_peft()
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    path = Path(path)
    config = peft.PeftConfig.from_pretrained(str(path))
    base_id = config.base_model_name_or_path
    try:
        base = AutoModelForCausalLM.from_pretrained(base_id, dtype=dtype)
    except Exception as e:
        raise ModelFolderError(f"The LoRA adapter {path.name} needs its base model {base_id}, "
                               f"which does not load: {_first_line(e)}") from e
    model = peft.get_peft_model(base, config)
    result = peft.set_peft_model_state_dict(model, load_file(str(path / ADAPTER_WEIGHTS)))
    missing = [k for k in result.missing_keys if "lora_" in k]
    return model.merge_and_unload(), missing


def _first_line(e: BaseException) -> str:
    lines = str(e).splitlines()
    return lines[0] if lines else type(e).__name__


# ---- verify -----------------------------------------------------------------------------------

def _files_problems(path: Path, adapter: bool) -> list[str]:
    """What is missing before anything is loaded."""
    problems = []
    if not adapter and not (path / CONFIG).exists():
        problems.append("config.json is missing")
    if adapter and not (path / ADAPTER_WEIGHTS).exists():
        problems.append(f"no adapter weights ({ADAPTER_WEIGHTS}) next to adapter_config.json")
    elif not any((path / w).exists() for w in WEIGHTS):
        problems.append("no safetensors weights (model.safetensors) in the folder")
    missing_tok = [t for t in TOKENIZER if not (path / t).exists()]
    if missing_tok:
        problems.append(f"tokenizer files missing: {', '.join(missing_tok)}")
    return problems


def _check_tokenizer(path: Path, problems: list[str]) -> None:
    from transformers import AutoTokenizer
    try:
        AutoTokenizer.from_pretrained(path)
    except Exception as e:
        problems.append(f"tokenizer does not load: {_first_line(e)}")


def _load_full(path: Path, problems: list[str]):
    from transformers import AutoConfig, AutoModelForCausalLM
    try:
        config = AutoConfig.from_pretrained(path)
    except Exception as e:
        problems.append(f"config does not load: {_first_line(e)}")
        return None, None
    _check_tokenizer(path, problems)
    try:
        model, info = AutoModelForCausalLM.from_pretrained(path, output_loading_info=True)
    except Exception as e:
        problems.append(f"weights do not load: {_first_line(e)}")
        return config, None
    missing = [k for k in info.get("missing_keys", []) if not k.endswith("attn.bias")]
    if missing:
        problems.append(f"weights missing from the checkpoint: {', '.join(sorted(missing)[:5])}")
    return config, model


def _load_adapter(path: Path, problems: list[str]):
    """A LoRA checkpoint: its base model (from adapter_config.json) with the adapter merged."""
    try:
        base = base_model(path)
    except (OSError, ValueError) as e:
        problems.append(f"adapter_config.json does not load: {_first_line(e)}")
        return None, None
    _check_tokenizer(path, problems)
    from transformers import AutoConfig
    try:
        AutoConfig.from_pretrained(base)
    except Exception as e:
        problems.append(f"the base model {base or '(not named)'} does not load: {_first_line(e)}")
        return None, None
    try:
        model, missing = load_merged(path)
    except ModelFolderError as e:  # peft is not installed
        problems.append(str(e))
        return None, None
    except Exception as e:
        problems.append(f"weights do not load: {_first_line(e)}")
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


def verify(path: Path | str) -> list[str]:
    """The problems that make `path` unusable as a model; [] when it is whole (loads the
    weights: call it when promoting, resuming or evaluating, not to draw a list)."""
    path = Path(path)
    if not path.is_dir():
        return [f"{path} is not a folder"]
    adapter = is_adapter(path)
    problems = _files_problems(path, adapter)
    if problems:
        return problems
    config, model = _load_adapter(path, problems) if adapter else _load_full(path, problems)
    if model is not None:
        _check_head(config, model, problems)
        _check_finite(model, problems)
    return problems


def hub_snapshot(repo_id: str) -> Path | None:
    """The downloaded snapshot folder of a hub model, None when it is not in the local cache
    (no network involved)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    # Read the cache location now, not at import, so a changed HF_HUB_CACHE/HF_HOME counts.
    cache = os.environ.get("HF_HUB_CACHE") or (os.path.join(os.environ["HF_HOME"], "hub")
                                               if os.environ.get("HF_HOME") else None)
    found = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache)
    return Path(found).parent if isinstance(found, str) else None
