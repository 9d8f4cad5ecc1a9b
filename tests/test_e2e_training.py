"""End to end in headless Chromium: a typed /training URL without an admin session shows only
the sign-in prompt and the page is not listed; then an admin signs in through the sidebar, opens Training,
starts a tiny-model run from the form (a real training process), watches the loss curve draw
itself, and a screenshot of the live page is kept."""
from __future__ import annotations

import os

import pytest

from core.auth import hash_password
from tests.appserver import running_app
from tests.browser import Browser, find_chromium
from tests.test_e2e_generate import nav
from tests.test_pages_training import kill_runs, write_dataset
from training.tiny import build_tiny

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (.ci/run installs it)")

CURVE = ("[...document.querySelectorAll('.js-plotly-plot .scatterlayer path.js-line')]"
         ".some(p => (p.getAttribute('d') || '').includes('L'))")  # a line through two points or more


def set_number(b: Browser, key: str, value: int) -> None:
    selector = f".st-key-{key} input"
    b.wait_for(f"document.querySelector('{selector}')")
    b.type_into(selector, str(value))
    b.press("Enter")
    b.wait_for(f"document.querySelector('{selector}').value == '{value}'")


def sign_in(b: Browser) -> None:
    """Through the sidebar form, once the page's run is over (a click that lands while the
    page reruns is dropped). Clicks go through JavaScript, not coordinates: the sidebar's page
    links appear while the first page loads and shift the expander down."""
    summary = "document.querySelector('[data-testid=stSidebar] details summary')"
    b.wait_for(summary)
    b.settled()
    b.eval(f"{summary}.click()")
    b.wait_for("document.querySelector('.st-key-signin_name input')")
    b.type_into(".st-key-signin_name input", "admin")
    b.type_into(".st-key-signin_password input", "pw")
    b.eval("document.querySelector('.st-key-signin_go button').click()")
    b.wait_for("document.body.innerText.includes('Signed in as admin')", timeout=60)


def test_admin_starts_a_run_and_sees_the_live_curve(tmp_path, monkeypatch):
    data = tmp_path / "data"
    build_tiny(data / "models" / "tiny")
    write_dataset(data / "datasets" / "small")
    monkeypatch.setenv("NONESTORY_ADMIN_PASSWORD_HASH", hash_password("pw", iterations=1000))
    env = {"NONESTORY_DATA": str(data), "NONESTORY_CACHE": os.environ["NONESTORY_CACHE"]}
    try:
        with running_app(env) as url, Browser(1280, 1000) as b:
            b.goto(url.rstrip("/") + "/training")  # typed URL, nobody signed in: the prompt, nothing else
            b.wait_for("document.body.innerText.includes('This page is for admins. Sign in from the sidebar.')")
            assert not b.eval("!!document.querySelector('.st-key-tr_start')")
            links = "[...document.querySelectorAll('[data-testid=stSidebarNav] a')].map(a => a.innerText).join('|')"
            assert "Reader" in b.eval(links) and "Training" not in b.eval(links)
            sign_in(b)
            b.wait_for(f"{links}.includes('Training')")  # listed once the admin is signed in
            nav(b, "Training", ".st-key-tr_start")
            for key, name in (("tr_model", "tiny"), ("tr_data", "small")):  # found on disk, chosen first
                b.wait_for(f"document.querySelector('.st-key-{key} input').value.includes('{name}')")
            for key, value in (("tr_cfg_max_steps", 3000), ("tr_cfg_logging_steps", 2),
                               ("tr_cfg_batch_size", 4), ("tr_cfg_max_length", 64)):
                set_number(b, key, value)
            b.settled()  # a click that lands while the page reruns is dropped
            b.click(".st-key-tr_start button")
            b.wait_for("document.querySelector('.st-key-tr_run')", timeout=60)
            b.wait_for(CURVE, timeout=90)
            b.wait_for("document.body.innerText.includes('running')", timeout=30)
            assert "Tokens / s" in b.text() and "Devices" in b.text()
            b.eval("document.querySelector('.st-key-tr_run').scrollIntoView({block: 'start'})")
            b.wait_for(CURVE)
            shot = tmp_path / "training.png"
            b.screenshot(shot)
            png = shot.read_bytes()
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 30_000
    finally:
        kill_runs()
