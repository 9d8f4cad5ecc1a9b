"""Loading local models for generation: a hub id or a local folder (training checkpoints and
LoRA adapters included), loaded once per process and device into a cache every session shares.

Loading never hangs on a missing network: a hub id is looked up in the local cache first, and
the hub is only asked when offline mode is off and a short probe reaches it. Every failure a
user can cause (no download, bad folder, missing base model) is one sentence in a
GenerationError.
"""
from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import torch
from tokenizers import normalizers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from core import modelfolder
from core.generation.base import GenerationError
from core.i18n import _

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "spiece.model", "vocab.json", "tokenizer.model")
_PROBE_SECONDS = 3.0


# -- devices ---------------------------------------------------------------------------------

def pick_device() -> str:
    """The fastest device present: "cuda", then Apple "mps", then "cpu"."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def dtype_for(device: str) -> torch.dtype:
    """Half precision on GPUs (bf16 where the card has it: fp16 overflows more easily), fp32 on
    CPU, where half precision is slower, not faster."""
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return torch.float32


# -- loading and the process-wide cache -------------------------------------------------------

@dataclass
class LoadedModel:
    """One model in memory, shared by every session; `lock` lets one `generate` run at a time,
    so a seeded generation is not interleaved with another's random draws."""

    model_id: str
    device: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def eos_id(self) -> int:
        eos = self.tokenizer.eos_token_id
        return eos if eos is not None else self.model.generation_config.eos_token_id

    @property
    def context(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)


_CACHE: dict[tuple[str, str], LoadedModel] = {}
# One lock for the whole cache: a second session asking for a model that is being loaded waits
# for that load instead of starting another copy.
_CACHE_LOCK = threading.Lock()


def load_model(model_id: str, device: str | None = None) -> LoadedModel:
    """The model and tokenizer for a hub id or local folder, loaded once per (id, device)."""
    device = device or pick_device()
    key = _cache_key(model_id, device)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = load_fresh(model_id, device)
        return _CACHE[key]


def register(model_id: str, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
             device: str = "cpu") -> LoadedModel:
    """Put a model built in memory into the cache under `model_id`, so a backend for that id
    uses it (benchmarks build a full-size random model without writing 1.4 GB to disk)."""
    loaded = LoadedModel(model_id, device, model.to(device).eval(), tokenizer)
    with _CACHE_LOCK:
        _CACHE[_cache_key(model_id, device)] = loaded
    return loaded


def clear_cache() -> None:
    """Forget every loaded model (memory is freed once no backend holds one)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _cache_key(model_id: str, device: str) -> tuple[str, str]:
    """A folder is keyed by its resolved path, so "./m" and "/abs/m" share one copy."""
    path = Path(model_id).expanduser()
    return (str(path.resolve()) if path.is_dir() else model_id, device)


def _local_folder(model_id: str) -> Path | None:
    """The folder `model_id` names, None for a hub id; a path that is not a folder is an error."""
    path = Path(model_id).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise GenerationError(_("Model {model} is a file, not a model folder.").format(model=model_id))
    # Hub ids are "name" or "owner/name"; anything else is meant as a path.
    if model_id.startswith(("/", ".", "~")) or model_id.count("/") > 1 or "\\" in model_id:
        raise GenerationError(_("Model folder {model} does not exist.").format(model=model_id))
    return None


def load_fresh(model_id: str, device: str) -> LoadedModel:
    """A copy of the model of its own, outside the shared cache (the CTranslate2 converter
    rescales weights in place, which must never touch the copy every session generates with)."""
    folder = _local_folder(model_id)
    if folder is not None:
        _check_folder(folder, model_id)
        return _from_pretrained(model_id, str(folder), device, local_only=True)
    try:
        return _from_pretrained(model_id, model_id, device, local_only=True)
    except GenerationError:
        if _offline():
            raise GenerationError(_("Model {model} is not downloaded and offline mode is on; "
                                    "download it once with network, or pick a local model.").format(
                                        model=model_id)) from None
        if not _hub_reachable():
            raise GenerationError(_("Model {model} is not downloaded and the Hugging Face hub cannot "
                                    "be reached; connect once to download it, or pick a local model.").format(
                                        model=model_id)) from None
    return _from_pretrained(model_id, model_id, device, local_only=False)


def _check_folder(folder: Path, model_id: str) -> None:
    if not modelfolder.is_model_folder(folder):
        raise GenerationError(_("Model folder {model} has no config.json; pick a model or checkpoint folder.")
                              .format(model=model_id))
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        raise GenerationError(_("Model folder {model} has no tokenizer files; save the tokenizer next to "
                                "the model.").format(model=model_id))


def _from_pretrained(model_id: str, source: str, device: str, local_only: bool) -> LoadedModel:
    try:
        tokenizer = load_tokenizer(model_id, source, local_only)
        if modelfolder.is_adapter(source):
            model = _load_adapter(model_id, Path(source), dtype_for(device))
        else:
            model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype_for(device), local_files_only=local_only)
        model.to(device).eval()
    except GenerationError:
        raise
    except Exception as err:  # transformers raises OSError, ValueError, KeyError... for bad files
        raise GenerationError(_("Could not load model {model}: {error}").format(model=model_id,
                                                                               error=first_line(err))) from err
    return LoadedModel(model_id, device, model, tokenizer)


def _load_adapter(model_id: str, folder: Path, dtype: torch.dtype) -> PreTrainedModel:
    """A LoRA checkpoint: the base model its adapter_config.json names, with the adapter merged
    into the weights (core.modelfolder.load_merged), so generation runs as fast as the base alone."""
    try:
        model, _base = modelfolder.load_merged(folder, dtype)
    except modelfolder.ModelFolderError as err:
        raise GenerationError(_("Model {model}: {error}").format(model=model_id, error=err)) from None
    return model


def load_tokenizer(model_id: str, source: str, local_only: bool) -> PreTrainedTokenizerBase:
    rinna = _is_rinna(model_id, source)
    # rinna's model card: T5Tokenizer with extra_ids=0 (no sentinel tokens past the model's
    # 32,000 ids) and use_fast=False (transformers 5 ignores that flag and converts the
    # sentencepiece model, which tokenises the same way).
    kwargs = {"use_fast": False, "extra_ids": 0} if rinna else {}
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only, **kwargs)
    if rinna or type(tokenizer).__name__.startswith("T5Tokenizer"):
        _lower_case(tokenizer)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _is_rinna(model_id: str, source: str) -> bool:
    """rinna-based models: a sentencepiece (T5Tokenizer) vocabulary trained on lower-cased text.
    A local folder is judged by its files, not its path, which may contain "nonestory" anyway."""
    folder = Path(source)
    if folder.is_dir():
        try:
            config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
        return str(config.get("tokenizer_class", "")).startswith("T5Tokenizer")
    name = model_id.lower()
    return "rinna" in name or "nonestory" in name


def _lower_case(tokenizer: PreTrainedTokenizerBase) -> None:
    """rinna's card sets do_lower_case=True after loading (its config flag is not applied).
    Slow tokenizers read the attribute; a fast one needs a Lowercase step in its normalizer,
    placed first as the slow tokenizer lower-cased the text before sentencepiece saw it."""
    tokenizer.do_lower_case = True
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        steps = [normalizers.Lowercase()] + ([backend.normalizer] if backend.normalizer is not None else [])
        backend.normalizer = normalizers.Sequence(steps)


def _offline() -> bool:
    """HF offline switches, read now (huggingface_hub reads them once, at import)."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return constants.HF_HUB_OFFLINE or any(f.strip().lower() in ("1", "true", "yes", "on") for f in flags)


def _hub_reachable() -> bool:
    """huggingface_hub retries a dead connection for about 20 s; one short probe first keeps a
    page from hanging. Behind a proxy the probe would lie, so trust the proxy instead."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    reached: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((url.hostname, port), timeout=_PROBE_SECONDS).close()
            reached.append(True)
        except OSError:
            pass

    # A thread bounds the DNS lookup too, which the socket timeout does not cover.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(_PROBE_SECONDS + 1)
    return bool(reached)


def first_line(err: BaseException) -> str:
    """The first line of an error message, so no traceback or hint block reaches the page."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = re.sub(r"\s+", " ", lines[0] if lines else type(err).__name__)[:200]
    return text if text.endswith((".", "!", "?")) else text + "."


@contextmanager
def borrowed(model_id: str, device: str | None = None) -> Iterator[LoadedModel]:
    """A model loaded for a while (an evaluation, a comparison) and dropped from the cache
    afterwards unless it was loaded before: a run has many checkpoints, and keeping each one a
    page touched would fill memory. Models students use stay loaded."""
    device = device or pick_device()
    key = _cache_key(model_id, device)
    with _CACHE_LOCK:
        cached_before = key in _CACHE
    try:
        yield load_model(model_id, device)
    finally:
        if not cached_before:
            with _CACHE_LOCK:
                _CACHE.pop(key, None)
