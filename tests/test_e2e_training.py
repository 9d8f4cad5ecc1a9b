"""End to end in headless Chromium: a typed /training URL without an admin session shows only
the sign-in prompt and the page is not listed; then an admin signs in through the sidebar, opens Training,
starts a tiny-model run from the form (a real training process), watches the loss curve draw
itself, and a screenshot of the live page is kept."""
from __future__ import annotations

import os
import re

from playwright.sync_api import Page, expect

from core.auth import hash_password
from tests.appserver import body_text, nav, running_app, settled, wait_text
from tests.test_pages_training import kill_runs, write_dataset
from training.tiny import build_tiny

CURVE = ("[...document.querySelectorAll('.js-plotly-plot .scatterlayer path.js-line')]"
         ".some(p => (p.getAttribute('d') || '').includes('L'))")  # a line through two points or more
NAV_LINKS = "[data-testid=stSidebarNav] a"


def set_number(page: Page, key: str, value: int) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(str(value))
    box.press("Enter")
    expect(box).to_have_value(str(value))


def sign_in(page: Page) -> None:
    """Through the sidebar form, once the page's run is over (a rerun would rerender the
    expander under the click)."""
    summary = page.locator("[data-testid=stSidebar] summary").filter(has_text="sign-in")
    expect(summary).to_be_visible()
    settled(page)
    summary.click()
    page.locator(".st-key-signin_name input").fill("admin")
    page.locator(".st-key-signin_password input").fill("pw")
    page.locator(".st-key-signin_go button").click()
    wait_text(page, "Signed in as admin")


def test_admin_starts_a_run_and_sees_the_live_curve(tmp_path, monkeypatch, new_page):
    data = tmp_path / "data"
    build_tiny(data / "models" / "tiny")
    write_dataset(data / "datasets" / "small")
    monkeypatch.setenv("NONESTORY_ADMIN_PASSWORD_HASH", hash_password("pw", iterations=1000))
    env = {"NONESTORY_DATA": str(data), "NONESTORY_CACHE": os.environ["NONESTORY_CACHE"]}
    page = new_page(1280, 1000)
    try:
        with running_app(env) as url:
            page.goto(url.rstrip("/") + "/training")  # typed URL, nobody signed in: the prompt, nothing else
            wait_text(page, "This page is for admins. Sign in from the sidebar.")
            assert page.locator(".st-key-tr_start").count() == 0
            expect(page.locator(NAV_LINKS).filter(has_text="Reader")).to_be_visible()
            expect(page.locator(NAV_LINKS).filter(has_text="Training")).to_have_count(0)
            sign_in(page)
            expect(page.locator(NAV_LINKS).filter(has_text="Training")).to_be_visible()  # listed once signed in
            nav(page, "Training", ".st-key-tr_start")
            for key, name in (("tr_model", "tiny"), ("tr_data", "small")):  # found on disk, chosen first
                expect(page.locator(f".st-key-{key} input")).to_have_value(re.compile(re.escape(name)))
            for key, value in (("tr_cfg_max_steps", 3000), ("tr_cfg_logging_steps", 2),
                               ("tr_cfg_batch_size", 4), ("tr_cfg_max_length", 64)):
                set_number(page, key, value)
            settled(page)  # a click that lands while the page reruns is dropped
            page.locator(".st-key-tr_start button").click()
            expect(page.locator(".st-key-tr_run")).to_be_attached()
            # The run is a real process: importing torch and transformers, tokenising and four
            # steps. With other test processes on both cores (a CI run beside a developer's) this
            # took over 90 s once. The wait returns as soon as the line is drawn; its limit is for
            # a loaded machine, not a guess at an idle one's speed.
            page.wait_for_function(CURVE, timeout=240_000)
            wait_text(page, "running", timeout=30)
            text = body_text(page)
            assert "Tokens / s" in text and "Devices" in text
            page.locator(".st-key-tr_run").evaluate("run => run.scrollIntoView({block: 'start'})")
            page.wait_for_function(CURVE)
            shot = tmp_path / "training.png"
            page.screenshot(path=shot)
            png = shot.read_bytes()
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 30_000
    finally:
        kill_runs()
