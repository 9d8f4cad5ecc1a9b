"""One place for paths, environment variables and secrets.

Precedence: environment variable > `.streamlit/secrets.toml` > default. Secrets are read
here and handed to the code that needs them; nothing here writes them anywhere.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _secrets_file() -> Path:
    return Path(os.environ.get("NONESTORY_SECRETS", ROOT / ".streamlit" / "secrets.toml"))


def read_secrets() -> dict:
    """The secrets file as a dict; {} when there is none or it cannot be parsed."""
    path = _secrets_file()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def get(name: str, default: str | None = None) -> str | None:
    """An environment variable, else the same key in secrets.toml, else `default`."""
    if os.environ.get(name):
        return os.environ[name]
    value = read_secrets().get(name)
    return str(value) if value not in (None, "") else default


@dataclass(frozen=True)
class Paths:
    data: Path
    db: Path
    cache: Path
    runs: Path
    models: Path
    datasets: Path


def paths() -> Paths:
    """Runtime locations, re-read on every call so tests can point them at tmp dirs."""
    data = Path(get("NONESTORY_DATA") or ROOT / "data")
    return Paths(
        data=data,
        db=Path(get("NONESTORY_DB") or data / "nonestory.duckdb"),
        # Derived vocabulary indexes live here; safe to delete, rebuilt on demand.
        cache=Path(get("NONESTORY_CACHE") or data / "cache"),
        runs=Path(get("NONESTORY_RUNS") or data / "runs"),
        models=Path(get("NONESTORY_MODELS") or data / "models"),
        # Prepared training datasets (training.prepare output folders) the Training page lists.
        datasets=Path(get("NONESTORY_DATASETS") or data / "datasets"),
    )
