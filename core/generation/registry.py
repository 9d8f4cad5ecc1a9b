"""The model registry: every model a student can pick, and the backend that runs it.

Hub ids of the published fine-tunes, local folders under data/models, training checkpoints
under data/runs, an API model when one is configured, and the offline example passage, which
is the default on a fresh machine with no model and no API.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core import settings
from core.generation.base import Backend, GenerationError


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what the model list shows and jobs record
    backend: str  # "hf" | "openai" | "examples"
    model: str  # hub id, local folder, API model name, or "example-passage"
    prompt_format: str = ""  # "v1" | "v2" | "own" for local models; "chat" for API models
    source: str = ""  # offline | published | local | checkpoint | api

    @property
    def key(self) -> str:
        """One worker (and one loaded copy) per key: generations of one model run in turn."""
        return f"{self.backend}:{self.model}"


EXAMPLES = ModelSpec("Example passage (offline, not AI)", "examples", "example-passage", "", "offline")
# The original project's fine-tunes of rinna/japanese-gpt2-medium: train001 was trained on
# whole stories (prompt v1), train002 on halves with a summary of the first (prompt v2).
PUBLISHED = (
    ModelSpec("BBusagi/sft-nonestory-train002", "hf", "BBusagi/sft-nonestory-train002", "v2", "published"),
    ModelSpec("BBusagi/sft-nonestory-train001", "hf", "BBusagi/sft-nonestory-train001", "v1", "published"),
)


def _local_models() -> list[ModelSpec]:
    paths = settings.paths()
    found = []
    for folder in sorted(paths.models.glob("*/config.json")) if paths.models.exists() else []:
        found.append(ModelSpec(f"local: {folder.parent.name}", "hf", str(folder.parent), _format_of(folder.parent),
                               "local"))
    for folder in sorted(paths.runs.glob("*/checkpoint-*/config.json")) if paths.runs.exists() else []:
        ckpt = folder.parent
        found.append(ModelSpec(f"checkpoint: {ckpt.parent.name}/{ckpt.name}", "hf", str(ckpt), _format_of(ckpt),
                               "checkpoint"))
    return found


def _format_of(folder: Path) -> str:
    """Models trained by training/ record their prompt format; anything else is treated as ours."""
    marker = folder / "nonestory_format.txt"
    try:
        return marker.read_text(encoding="utf-8").strip() or "own"
    except OSError:
        return "own"


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


def default_model(models: list[ModelSpec] | None = None) -> ModelSpec:
    """NONESTORY_DEFAULT_MODEL (a name or model id) when set and known; else the published
    train002 when it is in the local hub cache; else (a fresh offline machine) the example
    passage. Picking train002 uncached still works online, and offline falls back in one line."""
    wanted = settings.get("NONESTORY_DEFAULT_MODEL")
    for m in models or [EXAMPLES, *_api_model(), *_local_models(), *PUBLISHED]:
        if wanted and wanted in (m.name, m.model):
            return m
    return PUBLISHED[0] if _in_hub_cache(PUBLISHED[0].model) else EXAMPLES


def _in_hub_cache(repo_id: str) -> bool:
    """Whether a hub model's files are already downloaded (no network involved)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    # Read the cache location now, not at import, so a changed HF_HUB_CACHE/HF_HOME counts.
    cache = os.environ.get("HF_HUB_CACHE") or (os.path.join(os.environ["HF_HOME"], "hub")
                                               if os.environ.get("HF_HOME") else None)
    found = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache)
    return isinstance(found, str)


def find(name_or_model: str, backend: str | None = None) -> ModelSpec:
    """A registered model by name or model id; an unregistered local folder or hub id works too."""
    for m in available():
        if name_or_model in (m.name, m.model) and (backend is None or m.backend == backend):
            return m
    if backend == "openai":
        return ModelSpec(f"API: {name_or_model}", "openai", name_or_model, "chat", "api")
    if backend in (None, "hf"):
        return ModelSpec(name_or_model, "hf", name_or_model, _format_of(Path(name_or_model)), "local")
    raise GenerationError(f"Unknown model {name_or_model!r} for the {backend} backend.")


def spec_for_backend(backend: str, model: str | None = None) -> ModelSpec:
    """What the CLI's --backend/--model pair names."""
    if backend == "examples":
        return EXAMPLES
    if backend == "openai":
        return find(model or settings.get("NONESTORY_OPENAI_MODEL", "gpt-4o-mini"), "openai")
    if backend == "hf":
        return find(model or PUBLISHED[0].model, "hf")
    raise GenerationError(f"Unknown backend {backend!r}; use examples, hf or openai.")


def make_backend(spec: ModelSpec) -> Backend:
    """The backend object for a model (loading a local model happens on its first use)."""
    if spec.backend == "examples":
        from core.generation.examples import ExampleBackend

        return ExampleBackend()
    if spec.backend == "openai":
        from core.generation.openai_api import OpenAIBackend

        return OpenAIBackend(model=spec.model)
    if spec.backend == "hf":
        from core.generation.hf import TransformersBackend  # imports torch: only when needed

        return TransformersBackend(spec.model, prompt_format=spec.prompt_format or "own")
    raise GenerationError(f"Unknown backend {spec.backend!r}.")
