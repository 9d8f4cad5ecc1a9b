"""The model registry: every model a student can pick, and the backend that runs it.

Hub ids of the published fine-tunes, checkpoints an admin promoted under a name (kept in
data/models/promoted.json), local folders under data/models, training checkpoints under
data/runs, an API model when one is configured, and the offline example passage, which is the
default on a fresh machine with no model and no API.

A local model runs on one of two engines: transformers ("hf") or CTranslate2 int8 ("ct2",
several times faster on a CPU). A promoted model's entry says which one students get; any
local model can be asked for with either (find, spec_for_backend).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from core import modelfolder, settings
from core.files import atomic_write
from core.generation.base import Backend, GenerationError
from core.i18n import N_, _


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what the model list shows and jobs record ("tiny · ct2 int8" on the ct2 engine)
    backend: str  # "hf" | "ct2" | "openai" | "examples"
    model: str  # hub id, local folder, API model name, or "example-passage"
    prompt_format: str = ""  # "v1" | "v2" | "own" for local models; "chat" for API models
    source: str = ""  # offline | published | promoted | local | checkpoint | api

    @property
    def key(self) -> str:
        """One worker (and one loaded copy) per key: generations of one model run in turn."""
        return f"{self.backend}:{self.model}"


# Its name is stored with jobs and matched by find: it stays English, marked for a page to show translated.
EXAMPLES = ModelSpec(N_("Example passage (offline, not AI)"), "examples", "example-passage", "", "offline")
# The original project's fine-tunes of rinna/japanese-gpt2-medium: train001 was trained on
# whole stories (prompt v1), train002 on halves with a summary of the first (prompt v2).
PUBLISHED = (
    ModelSpec("BBusagi/sft-nonestory-train002", "hf", "BBusagi/sft-nonestory-train002", "v2", "published"),
    ModelSpec("BBusagi/sft-nonestory-train001", "hf", "BBusagi/sft-nonestory-train001", "v1", "published"),
)


ENGINES = ("hf", "ct2")  # the backends that run a local model: transformers, CTranslate2 int8
ENGINE_LABELS = {"ct2": "ct2 int8"}  # what a model's name says of its engine (hf says nothing)
ENGINE_MISSING = N_("CTranslate2 is not installed here, so the transformers engine wrote this; "
                     "pip install ctranslate2==4.8.5 brings the faster engine.")


def with_engine(name: str, backend: str) -> str:
    """A model's name as a list or the Review desk shows it with the engine that runs it:
    "tiny · ct2 int8" for CTranslate2, the name alone for anything else."""
    label = ENGINE_LABELS.get(backend)
    return f"{name} · {label}" if label and not name.endswith(f" · {label}") else name


def plain_name(name: str) -> str:
    """`name` without the engine with_engine added."""
    for label in ENGINE_LABELS.values():
        name = name.removesuffix(f" · {label}")
    return name


PROMOTED = "promoted.json"  # in the models folder: what the Checkpoints page promoted
COPIES = "promoted"  # models/promoted/<name>: kept copies of promoted checkpoints
# What a checkpoint holds only to resume training; a kept copy leaves it behind.
_TRAINING_STATE = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state*.pth", "trainer_state.json",
                   "training_args.bin", "global_step*", "pytorch_model_fsdp*")
_NOT_KEPT = (*_TRAINING_STATE, ".ct2")  # the CTranslate2 conversion is made again on first use


class PromotionError(Exception):
    """A promotion the registry refuses (bad name, broken checkpoint), in one sentence."""


def _promoted_file() -> Path:
    return settings.paths().models / PROMOTED


def promoted() -> list[dict]:
    """promoted.json's entries, oldest first; [] when there is none or it cannot be read.
    Each: name, path, prompt_format, run, checkpoint, promoted_at, by, default."""
    try:
        data = json.loads(_promoted_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = data.get("models") if isinstance(data, dict) else None
    return [e for e in entries or [] if isinstance(e, dict) and e.get("name") and e.get("path")]


def _write_promoted(entries: list[dict]) -> None:
    """Atomically, so the app never reads half a file while a page promotes."""
    atomic_write(_promoted_file(), json.dumps({"models": entries}, ensure_ascii=False, indent=1))


def _keep_copy(folder: Path, name: str) -> Path:
    """Copy a checkpoint's model files (not its optimizer or trainer state) to models/promoted/,
    so deleting the run or rotating its checkpoints cannot take the model from students."""
    slug = re.sub(r"[^\w.-]+", "-", name).strip("-.")[:60] or "model"
    root = settings.paths().models / COPIES
    target, n = root / slug, 1
    while target.exists():
        n += 1
        target = root / f"{slug}-{n}"
    tmp = root / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(folder, tmp, ignore=shutil.ignore_patterns(*_NOT_KEPT))
        os.replace(tmp, target)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PromotionError(_("Could not copy {folder} to {target}: {error}.").format(
            folder=folder.name, target=root, error=err.strerror or err)) from None
    return target


def promote(path: str | Path, name: str, prompt_format: str = "own", run: str = "", checkpoint: str = "",
            by: str = "", default: bool = False, keep_copy: bool = False, figures: dict | None = None,
            engine: str = "hf") -> dict:
    """Register the model folder `path` under `name`; refuse a blank or taken name, a folder
    already promoted, and a folder that does not verify. With `keep_copy` the registry points at
    a copy under models/promoted/ instead of the checkpoint itself. `figures` are its evaluation
    figures, kept for comparison with later candidates; `engine` (one of ENGINES) is what runs
    it for students. Returns the new entry. (The Checkpoints page promotes through
    core.generation.promotion, which gates this on the evaluation.)"""
    name, folder = (name or "").strip(), Path(path).expanduser().resolve()
    if not name:
        raise PromotionError(_("Give the model a name before promoting it."))
    if prompt_format not in modelfolder.PROMPT_FORMATS:
        raise PromotionError(_("Prompt format {prompt_format} is not for local models; use v1, v2 or own.").format(
            prompt_format=repr(prompt_format)))
    _check_engine(engine)
    entries = promoted()
    taken = {e["name"] for e in entries} | {plain_name(m.name) for m in available()}
    if name in taken:
        raise PromotionError(_("A model named {name} already exists; choose another name.").format(name=repr(name)))
    twin = next((e for e in entries if folder in (Path(e["path"]), Path(e.get("source") or e["path"]))), None)
    if twin is not None:
        raise PromotionError(_("{folder} is already promoted as {name}.").format(folder=folder.name,
                                                                                 name=repr(twin["name"])))
    problems = modelfolder.verify(folder)  # loads the weights: only when promoting
    if problems:
        raise PromotionError(_("{folder} cannot be promoted: {problem}.").format(folder=folder.name,
                                                                                problem=problems[0].rstrip(".")))
    kept = _keep_copy(folder, name) if keep_copy else None
    entry = {"name": name, "path": str(kept or folder), "source": str(folder), "copied": kept is not None,
             "prompt_format": prompt_format, "run": run, "checkpoint": checkpoint or folder.name,
             "promoted_at": time.time(), "by": by, "default": default, "figures": figures or {}, "engine": engine}
    if default:
        entries = [{**e, "default": False} for e in entries]
    _write_promoted(entries + [entry])
    return entry


def unpromote(name: str) -> None:
    """Take a promoted model off the list; a copy it kept is deleted, a checkpoint left alone."""
    entries = promoted()
    entry = next((e for e in entries if e["name"] == name), None)
    if entry is None:
        raise PromotionError(_("No promoted model is named {name}.").format(name=repr(name)))
    _write_promoted([e for e in entries if e["name"] != name])
    copies = (settings.paths().models / COPIES).resolve()
    if entry.get("copied") and Path(entry["path"]).resolve().parent == copies:
        shutil.rmtree(entry["path"], ignore_errors=True)


def set_default(name: str | None) -> None:
    """Make one promoted model the default (None: none is); NONESTORY_DEFAULT_MODEL still wins."""
    entries = promoted()
    if name is not None and not any(e["name"] == name for e in entries):
        raise PromotionError(_("No promoted model is named {name}.").format(name=repr(name)))
    _write_promoted([{**e, "default": e["name"] == name} for e in entries])


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise PromotionError(_("Engine {engine} is not one of {engines}.").format(engine=repr(engine),
                                                                                 engines=", ".join(ENGINES)))


def engine_of(entry: dict) -> str:
    """The engine a promoted model runs on: its entry's "engine", "hf" for older entries."""
    return entry.get("engine") if entry.get("engine") in ENGINES else "hf"


def set_engine(name: str, engine: str) -> None:
    """Run the promoted model `name` on `engine` (one of ENGINES) from its next story on."""
    _check_engine(engine)
    entries = promoted()
    if not any(e["name"] == name for e in entries):
        raise PromotionError(_("No promoted model is named {name}.").format(name=repr(name)))
    _write_promoted([{**e, "engine": engine} if e["name"] == name else e for e in entries])


def promoted_present(entry: dict) -> bool:
    """Whether a promoted model's folder is still there (a run may have been deleted since)."""
    return modelfolder.is_model_folder(entry["path"])


def _promoted_models() -> list[ModelSpec]:
    return [ModelSpec(with_engine(e["name"], engine_of(e)), engine_of(e), e["path"], e.get("prompt_format") or "own",
                      "promoted") for e in promoted() if promoted_present(e)]


def _local_models() -> list[ModelSpec]:
    paths = settings.paths()
    found = _promoted_models()
    shown = {m.model for m in found}  # a promoted checkpoint is listed once, under its name
    for folder in modelfolder.models_in(paths.models):
        if str(folder.resolve()) not in shown:
            found.append(ModelSpec(f"local: {folder.name}", "hf", str(folder), modelfolder.prompt_format(folder),
                                   "local"))
    for ckpt in modelfolder.models_in(paths.runs, "*/checkpoint-*"):
        if str(ckpt.resolve()) in shown:
            continue
        found.append(ModelSpec(f"checkpoint: {ckpt.parent.name}/{ckpt.name}", "hf", str(ckpt),
                               modelfolder.prompt_format(ckpt), "checkpoint"))
    return found


def _api_model() -> list[ModelSpec]:
    if not (settings.get("OPENAI_API_KEY") or settings.get("OPENAI_BASE_URL")):
        return []
    name = settings.get("NONESTORY_OPENAI_MODEL", "gpt-4o-mini")
    return [ModelSpec(f"API: {name}", "openai", name, "chat", "api")]


def available() -> list[ModelSpec]:
    """Every model on offer, the default first."""
    models = [EXAMPLES, *_api_model(), *_local_models(), *PUBLISHED]
    default = default_model(models)
    return [default] + [m for m in models if m != default]


# What students (and teachers) may generate with: never a raw checkpoint or a folder an admin
# has not promoted. Admins see every model.
STUDENT_SOURCES = frozenset({"offline", "published", "promoted", "api"})


def for_students() -> list[ModelSpec]:
    """The models on a student's list, the default first when it is one of them."""
    return [m for m in available() if m.source in STUDENT_SOURCES]


def display_names(models: Iterable[str]) -> dict[str, str]:
    """What a page shows for each story's or job's model id: a promoted model's name, the API or
    example model's name, a hub id as it is; a checkpoint as run/checkpoint and any other folder
    by its own name, so no page shows a server path. '' stays ''. promoted.json and the API
    setting are read once for all of them."""
    models = set(models)
    known = {m.model: m.name for m in (EXAMPLES, *PUBLISHED, *_api_model())}
    promoted_names: dict[Path, str] = {}
    if any(Path(m).is_absolute() or m.startswith(("~", ".")) for m in models if m):
        for e in promoted():
            for path in (e["path"], e.get("source") or e["path"]):
                promoted_names.setdefault(Path(path).resolve(), e["name"])
    return {m: _display_name(m, known, promoted_names) for m in models}


def _display_name(model: str, known: dict[str, str], promoted_names: dict[Path, str]) -> str:
    if not model or model in known:
        return known.get(model, "")
    if not Path(model).is_absolute() and not model.startswith(("~", ".")):
        return model  # a hub id (owner/name) or an API model name
    resolved = Path(model).expanduser().resolve()
    if resolved in promoted_names:
        return promoted_names[resolved]
    if resolved.name.startswith("checkpoint-"):
        return f"checkpoint: {resolved.parent.name}/{resolved.name}"
    return f"local: {resolved.name}"


def display_name(model: str, backend: str = "") -> str:
    """display_names for one model id; with the story's or job's `backend`, the engine too
    (with_engine: "Class model · ct2 int8")."""
    name = display_names([model])[model]
    return with_engine(name, backend) if name else name


def default_model(models: list[ModelSpec] | None = None) -> ModelSpec:
    """NONESTORY_DEFAULT_MODEL (a name or model id) when set and known; else the promoted model
    marked default (when its folder is there); else the published train002 when it is in the
    local hub cache; else (a fresh offline machine) the example passage. Picking train002
    uncached still works online, and offline falls back in one line."""
    models = models or [EXAMPLES, *_api_model(), *_local_models(), *PUBLISHED]
    wanted = settings.get("NONESTORY_DEFAULT_MODEL")
    for m in models:
        if wanted and wanted in (m.name, m.model, plain_name(m.name)):
            return m
    marked = {e["name"] for e in promoted() if e.get("default")}
    for m in models:
        if m.source == "promoted" and plain_name(m.name) in marked:
            return m
    return PUBLISHED[0] if modelfolder.hub_snapshot(PUBLISHED[0].model) is not None else EXAMPLES


def find(name_or_model: str, backend: str | None = None) -> ModelSpec:
    """A registered model by name (with or without its engine) or model id; an unregistered
    local folder or hub id works too. A local model asked for on the other engine ("ct2" for a
    model listed on "hf") is the same model on that engine."""
    found = [m for m in available() if name_or_model in (m.name, m.model, plain_name(m.name))]
    for m in found:
        if backend is None or m.backend == backend:
            return m
    for m in found:
        if backend in ENGINES and m.backend in ENGINES:
            return replace(m, name=with_engine(plain_name(m.name), backend), backend=backend)
    if backend == "openai":
        return ModelSpec(f"API: {name_or_model}", "openai", name_or_model, "chat", "api")
    if backend in (None, *ENGINES):
        engine = backend or "hf"
        return ModelSpec(with_engine(name_or_model, engine), engine, name_or_model,
                         modelfolder.prompt_format(name_or_model), "local")
    raise GenerationError(_("Unknown model {model} for the {backend} backend.").format(model=repr(name_or_model),
                                                                                        backend=backend))


def spec_for_backend(backend: str, model: str | None = None) -> ModelSpec:
    """What the CLI's --backend/--model pair names."""
    if backend == "examples":
        return EXAMPLES
    if backend == "openai":
        return find(model or settings.get("NONESTORY_OPENAI_MODEL", "gpt-4o-mini"), "openai")
    if backend in ENGINES:
        return find(model or PUBLISHED[0].model, backend)
    raise GenerationError(_("Unknown backend {backend}; use examples, hf, ct2 or openai.").format(
        backend=repr(backend)))


def engine_note(spec: ModelSpec) -> str:
    """One sentence for a job whose model cannot run on the engine it asked for (CTranslate2
    missing: make_backend gives the transformers engine instead); "" when it runs as asked."""
    if spec.backend != "ct2":
        return ""
    from core.generation import ct2

    return "" if ct2.available() else _(ENGINE_MISSING)


def make_backend(spec: ModelSpec) -> Backend:
    """The backend object for a model (loading a local model happens on its first use)."""
    if spec.backend == "examples":
        from core.generation.examples import ExampleBackend

        return ExampleBackend()
    if spec.backend == "openai":
        from core.generation.openai_api import OpenAIBackend

        return OpenAIBackend(model=spec.model)
    if spec.backend == "ct2" and not engine_note(spec):
        from core.generation.ct2 import Ct2Backend

        return Ct2Backend(spec.model, prompt_format=spec.prompt_format or "own")
    if spec.backend in ENGINES:  # hf, or ct2 where CTranslate2 is missing (engine_note says so)
        from core.generation.hf import TransformersBackend  # imports torch: only when needed

        return TransformersBackend(spec.model, prompt_format=spec.prompt_format or "own")
    raise GenerationError(_("Unknown backend {backend}.").format(backend=repr(spec.backend)))
