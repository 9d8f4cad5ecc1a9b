"""Shared fixtures. Every test gets its own data directory (database, cache, runs), so no
test can read or damage another's state or the developer's data/."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The JLPT index cache is shared by the whole session (it is derived data, safe to share).
os.environ.setdefault("NONESTORY_CACHE", str(ROOT / "data" / "cache"))


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("NONESTORY_DATA", str(data))
    monkeypatch.setenv("NONESTORY_DB", str(data / "nonestory.duckdb"))
    monkeypatch.setenv("NONESTORY_SECRETS", str(tmp_path / "secrets.toml"))
    return data
