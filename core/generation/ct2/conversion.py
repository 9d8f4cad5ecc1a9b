"""Converting a local model for the CTranslate2 engine, and where its conversion lives.

A conversion lives beside its model: `<folder>/.ct2/<compute type>-<hash>/` for a folder (in
the cache folder when the model folder is read-only), `<cache>/ct2/<owner--name>/...` for a hub
id. The hash covers the contents of the weights, config and tokenizer files, the compute type
and CTranslate2's version, so a changed checkpoint is converted again and its
old conversion removed. A conversion is written into a temporary sibling and renamed into
place under a lock (a lock file plus a per-process lock), so two sessions asking at once share
one conversion and a failed one leaves nothing half-written; a damaged one is rebuilt.
CTranslate2 itself is imported only where it is used: without it, `available()` says so.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core import modelfolder, settings
from core.files import atomic_write, read_json
from core.generation.base import GenerationError
from core.i18n import N_, _

FOLDER = ".ct2"  # hidden: model lists find models by config.json one level down, never in here
RECORD = "nonestory.json"  # what was converted, from what, and model.bin's size
FORMAT = 1  # bump to convert every model again after a change to how conversions are made
NOT_INSTALLED = N_("CTranslate2 is not installed; install it with pip install ctranslate2==4.8.5.")
# What a conversion depends on; training state (optimizer.pt, trainer_state.json...) does not count.
_SOURCE_FILES = ("config.json", "generation_config.json", modelfolder.ADAPTER_CONFIG, "tokenizer.json",
                 "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "spiece.model",
                 "tokenizer.model", "vocab.json", "merges.txt")
_WEIGHT_GLOBS = ("*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin")

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # a library's logger: the app decides where lines go
Progress = Callable[[str], None]


def available() -> bool:
    """Whether CTranslate2 can be imported here (it has no wheel for some platforms)."""
    try:
        import ctranslate2  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def placement(device: str | None) -> tuple[str, int]:
    """CTranslate2's device and index for "cpu", "cuda", "cuda:1"; None is CUDA when CTranslate2
    sees a GPU. Apple's "mps" runs on the CPU (CTranslate2 has no Metal backend)."""
    if device is None:
        if not available():
            return "cpu", 0
        import ctranslate2

        return ("cuda", 0) if ctranslate2.get_cuda_device_count() > 0 else ("cpu", 0)
    kind, __, index = device.partition(":")
    return ("cuda", int(index or 0)) if kind == "cuda" else ("cpu", 0)


def device_name(device: str | None) -> str:
    kind, index = placement(device)
    return "cpu" if kind == "cpu" else f"cuda:{index}"


def compute_type(device: str | None = None) -> str:
    """int8 weights everywhere: int8 arithmetic on the CPU, float16 activations on CUDA."""
    return "int8_float16" if placement(device)[0] == "cuda" else "int8"


def say(progress: Progress | None, line: str, level: int = logging.INFO) -> None:
    log.log(level, line)
    if progress is not None:
        progress(line)


# -- where a conversion lives and whether it is current -----------------------------------------

def _is_hub_id(model: str) -> bool:
    return not model.startswith(("/", ".", "~")) and model.count("/") <= 1 and "\\" not in model


def source_folder(model: str) -> Path | None:
    """The folder holding `model`'s files: the folder itself, or a hub id's cached snapshot."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    return modelfolder.hub_snapshot(model) if _is_hub_id(model) and not path.exists() else None


@functools.cache
def _engine_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ctranslate2")
    except PackageNotFoundError:
        return ""


_DIGESTS: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> sha256 of the contents
_DIGESTS_LOCK = threading.Lock()


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's contents, read once per process while its size and modification
    time stay the same (a 1.4 GB checkpoint takes a few seconds to read; the admin page asks
    every two seconds)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _DIGESTS_LOCK:
        known = _DIGESTS.get(key)
    if known is None:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        known = h.hexdigest()
        with _DIGESTS_LOCK:
            _DIGESTS[key] = known
    return known


def _fingerprint(folder: Path, ctype: str) -> str:
    """A hash of the weights', config's and tokenizer's contents (a checkpoint saved again with
    the same weights keeps its conversion; a changed one gets a new one), the compute type and
    CTranslate2's version."""
    engine = _engine_version()
    files = [folder / n for n in _SOURCE_FILES] + [p for g in _WEIGHT_GLOBS for p in sorted(folder.glob(g))]
    items: list = [FORMAT, ctype, engine]
    items += [[p.name, file_digest(p)] for p in files if p.is_file()]
    if modelfolder.is_adapter(folder):  # the adapter is merged into its base: the base counts too
        try:
            base = modelfolder.base_model(folder)
        except (OSError, ValueError):
            base = ""
        base_folder = source_folder(base) if base else None
        items += [base, _fingerprint(base_folder, ctype) if base_folder else ""]
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:12]


def _root(model: str) -> Path:
    """The folder that holds `model`'s conversions."""
    path = Path(model).expanduser()
    if path.is_dir():
        path = path.resolve()
        if (path / FOLDER).is_dir() or os.access(path, os.W_OK):
            return path / FOLDER
        tag = hashlib.sha256(str(path).encode()).hexdigest()[:8]
        return settings.paths().cache / "ct2" / f"{path.name}-{tag}"  # a read-only model folder
    return settings.paths().cache / "ct2" / model.replace("/", "--")


def current_folder(model: str, ctype: str) -> Path | None:
    """Where the current conversion of `model` is (or would be); None when its files are not here."""
    folder = source_folder(model)
    return None if folder is None else _root(model) / f"{ctype}-{_fingerprint(folder, ctype)}"


def _older(root: Path, ctype: str, keep: Path) -> list[Path]:
    return [p for p in root.glob(f"{ctype}-*") if p.is_dir() and p != keep]


def _damage(path: Path) -> str:
    """What is wrong with a finished conversion, without loading it; "" when it looks whole."""
    record = read_json(path / RECORD)
    if not record:
        return _("its record {file} is missing or garbled").format(file=RECORD)
    if not read_json(path / "config.json"):
        return _("{file} is missing or garbled").format(file="config.json")
    try:
        vocabulary = json.loads((path / "vocabulary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        vocabulary = None
    if not isinstance(vocabulary, list) or not vocabulary:
        return _("{file} is missing or garbled").format(file="vocabulary.json")
    try:
        size = (path / "model.bin").stat().st_size
    except OSError:
        return _("{file} is missing").format(file="model.bin")
    if size != record.get("model_bytes"):
        return _("{file} has {size} bytes, not the {written} written").format(
            file="model.bin", size=size, written=record.get("model_bytes"))
    return ""


def status(model: str, device: str | None = None) -> str:
    """"ready" (converted and whole), "stale" (an older conversion, or a damaged one, is there)
    or "missing" (none, or the model itself is not here). Converts nothing, loads nothing."""
    ctype = compute_type(device)
    target = current_folder(model, ctype)
    if target is None:
        return "missing"
    if target.is_dir() and not _damage(target):
        return "ready"
    return "stale" if target.is_dir() or _older(target.parent, ctype, target) else "missing"


# -- converting ---------------------------------------------------------------------------------

_ROOT_LOCKS: dict[str, threading.Lock] = {}
_ROOT_LOCKS_LOCK = threading.Lock()


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One converter per model at a time: a lock for this process's threads, a lock file for
    other processes (where the platform has flock; the rename keeps it safe where not)."""
    with _ROOT_LOCKS_LOCK:
        lock = _ROOT_LOCKS.setdefault(str(root), threading.Lock())
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(root / ".lock", "a+")
    except OSError as err:
        raise GenerationError(_("Cannot write the CTranslate2 copy to {folder}: {error}.").format(
            folder=root, error=err.strerror or err)) from None
    with lock, handle:
        try:
            import fcntl
        except ImportError:
            fcntl = None
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def convert(model: str, device: str | None = None, progress: Progress | None = None) -> Path:
    """The folder of `model`'s current CTranslate2 conversion for `device`, converted now when
    there is none, the model changed since, or the one there is damaged (`progress` gets a line
    saying which). Raises GenerationError (not installed, model missing, conversion failed)."""
    return convert_as(model, compute_type(device), progress)


def convert_as(model: str, ctype: str, progress: Progress | None, broken: str = "") -> Path:
    if not available():
        raise GenerationError(_(NOT_INSTALLED))
    if source_folder(model) is None:
        _fetch(model)
    target = current_folder(model, ctype)
    with _locked(target.parent):
        problem = broken or (_damage(target) if target.is_dir() else "")
        if target.is_dir() and not problem:
            return target
        if target.is_dir():
            say(progress, _("The CTranslate2 copy of {model} is damaged ({problem}); converting it again…").format(
                model=model, problem=problem.rstrip(".")), logging.WARNING)
            shutil.rmtree(target, ignore_errors=True)
        else:
            line = (_("Converting {model} to CTranslate2 {compute_type} (the model changed since its last "
                      "conversion)…") if _older(target.parent, ctype, target) else
                    _("Converting {model} to CTranslate2 {compute_type} (first use)…"))
            say(progress, line.format(model=model, compute_type=ctype))
        started = time.perf_counter()
        _build(model, target, ctype)
        for stale in _older(target.parent, ctype, target) + list(target.parent.glob(".tmp-*")):
            shutil.rmtree(stale, ignore_errors=True)  # old conversions; leftovers of a killed one
        say(progress, _("Converted {model} in {seconds} s.").format(
            model=model, seconds=f"{time.perf_counter() - started:.1f}"))
        return target


def _fetch(model: str) -> None:
    """Bring a hub model into the local cache by loading's rules (offline: never), or raise
    loading's one sentence for a model that is not there."""
    from core.generation import loading

    with loading.borrowed(model, "cpu"):
        pass
    if source_folder(model) is None:
        raise GenerationError(f"Model {model} has no files in the local hub cache to convert.")


def _build(model: str, target: Path, ctype: str) -> None:
    """Convert the model as generation loads it (an adapter merged into its base), in a copy of
    its own: CTranslate2's converter scales a float32 model's weights in place, so the copy the
    transformers engine shares (loading's cache) must never be handed to it."""
    from core.generation import loading

    loaded = loading.load_fresh(model, "cpu")  # not loading.load_model: that one is shared
    _write(loaded.model, loaded.tokenizer, target, ctype, {"source": model})


def convert_model(model: Any, tokenizer: Any, out: str | Path, device: str | None = None) -> Path:
    """Convert a transformers causal LM in memory (e.g. a benchmark's random full-size model) to
    a CTranslate2 folder `out`, replacing what is there; no transformers weights are written.
    `model` is left as it was (the converter works on a copy: see _build)."""
    if not available():
        raise GenerationError(_(NOT_INSTALLED))
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    _write(copy.deepcopy(model), tokenizer, out, compute_type(device), {"source": "in memory"}, replace=True)
    return out


def _write(model: Any, tokenizer: Any, target: Path, ctype: str, record: dict, replace: bool = False) -> None:
    """Convert into a temporary sibling, then rename it into place: never half a conversion."""
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with tempfile.TemporaryDirectory(prefix="nonestory-ct2-") as config_dir:
            model.config.save_pretrained(config_dir)  # the converter reads the architecture from it
            _converter(config_dir, model, tokenizer).convert(str(tmp), quantization=ctype, force=True)
        eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else model.config.eos_token_id
        atomic_write(tmp / RECORD, json.dumps({
            **record, "compute_type": ctype, "model_bytes": (tmp / "model.bin").stat().st_size, "eos_id": eos,
            "context": getattr(model.config, "max_position_embeddings", None), "converted_at": time.time()}))
        if replace and target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, Exception) and not isinstance(err, GenerationError):
            from core.generation.loading import first_line

            raise GenerationError(_("Could not convert {model} to CTranslate2: {error}").format(
                model=record["source"], error=first_line(err))) from err
        raise


def _converter(config_dir: str, model: Any, tokenizer: Any) -> Any:
    """CTranslate2's own converter, handed the model and tokenizer already loaded (loading's
    tokenizer: rinna's without sentinel ids) instead of loading them again from disk."""
    from ctranslate2.converters import TransformersConverter

    class InMemory(TransformersConverter):
        def load_model(self, model_class, model_name_or_path, **kwargs):
            return model

        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
            return tokenizer

        def _load(self):  # the only hook between loading and saving
            spec = super()._load()
            vocabulary = _vocabulary(tokenizer, spec.get_vocabulary_size())
            spec.register_vocabulary(vocabulary)  # by id, as the tokenizer counts
            for name in ("bos_token", "eos_token", "unk_token"):  # CTranslate2 wants all three named
                if getattr(spec.config, name, "") is None:  # rinna's sentencepiece has no <s>
                    setattr(spec.config, name, tokenizer.eos_token or vocabulary[0])
            return spec

    return InMemory(config_dir)


def _vocabulary(tokenizer: Any, size: int) -> list[str]:
    """Token strings by id, as many as the model's embedding has rows: a tokenizer smaller than
    the model (or with gaps) gets placeholders, so ids mean the same to both."""
    tokens = [f"<ct2-unused-{i}>" for i in range(size)]
    for token, i in tokenizer.get_vocab().items():
        if 0 <= i < size:
            tokens[i] = token
    return tokens
