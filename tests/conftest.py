"""Shared fixtures. Every test gets its own data directory (database, cache, runs), so no
test can read or damage another's state or the developer's data/."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

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


# ---- end-to-end tests: pytest-playwright driving Debian's chromium ------------------------------
# pytest-playwright's fixtures (browser, new_context, page...) launch the browser named here:
# Debian's chromium through executable_path, never a browser Playwright downloads. Playwright
# starts it headless and, as root needs, without the sandbox (its default: chromium_sandbox=False).


def find_chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = find_chromium()
    if executable is None:  # every test that needs a browser skips, before its app starts
        pytest.skip("Chromium is not installed (.ci/run installs it)")
    return {**browser_type_launch_args, "executable_path": executable}


@pytest.fixture(scope="session")
def base_url():
    """No base URL: each test starts its own app on a free port. (pytest-playwright 0.10's own
    base_url fixture is a method, which pytest 9 warns about on every run.)"""
    return None


@pytest.fixture
def new_page(new_context):
    """new_page(width, height, mobile=False) -> a Page in a browser context of its own: one per
    person, so each has their own cookies. The app reruns slowly on a loaded 2-core machine, so
    actions and expect() wait up to 60 s (Playwright's defaults are 30 s and 5 s)."""
    expect.set_options(timeout=60_000)

    def open_page(width: int = 1280, height: int = 900, *, mobile: bool = False):
        context = new_context(viewport={"width": width, "height": height}, is_mobile=mobile)
        context.set_default_timeout(60_000)
        return context.new_page()

    return open_page
