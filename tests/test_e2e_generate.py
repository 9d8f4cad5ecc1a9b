"""End to end in headless Chromium at phone width: a student writes a story (offline example
passage), watches it arrive, and finds it in the Library after leaving the page."""
from __future__ import annotations

import os
import re

import pytest

from tests.appserver import running_app
from tests.browser import Browser, find_chromium

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (.ci/run installs it)")


def nav(browser: Browser, title: str, marker: str) -> None:
    """Click a sidebar page link until the page's marker element shows (a click that lands
    during a rerun of the current page is dropped by Streamlit)."""
    link = f"[...document.querySelectorAll('[data-testid=stSidebarNav] a')].find(a => a.innerText.includes('{title}'))"
    for _ in range(6):
        browser.wait_for(link)
        browser.eval(f"{link}.click()")
        try:
            browser.wait_for(f"document.querySelector('{marker}')", timeout=10)
            return
        except AssertionError:
            continue
    raise AssertionError(f"could not open the {title} page")


def test_story_is_written_shown_and_kept_in_the_library(tmp_path):
    data = tmp_path / "data"
    env = {"NONESTORY_DATA": str(data), "NONESTORY_CACHE": os.environ["NONESTORY_CACHE"]}
    with running_app(env) as url, Browser(1280, 900) as b:
        b.goto(url)
        b.wait_for("document.querySelector('.st-key-profile input')")
        b.click(".st-key-profile input")
        b.insert_text(".st-key-profile input", "hana")
        b.press("Enter")
        nav(b, "Generate", ".st-key-gen_words_mode")
        paste = "[...document.querySelectorAll('.st-key-gen_words_mode label')].find(l => l.innerText.includes('Paste'))"
        b.wait_for(paste)
        b.eval(f"{paste}.click()")
        b.wait_for("document.querySelector('.st-key-gen_paste input')")
        b.click(".st-key-gen_paste input")
        b.insert_text(".st-key-gen_paste input", "把握, 促す, 和やか")
        b.press("Enter")
        b.wait_for("document.querySelector('.st-key-gen_go button:not([disabled])') && "
                   "document.body.innerText.includes('Write a story')")
        started = ("document.body.innerText.includes('Job #') || "
                   "document.querySelector('span.ns-N1[data-word=\"把握\"]')")
        for _ in range(3):  # a click that lands while the page is rerunning is dropped: retry
            b.click(".st-key-gen_go button")
            try:
                b.wait_for(started, timeout=15)
                break
            except AssertionError:
                continue
        b.wait_for("document.querySelector('span.ns-N1[data-word=\"把握\"]')", timeout=90)
        assert "saved to hana" in b.text()
        b.screenshot(tmp_path / "generate.png")
        nav(b, "Library", "[role=tab]")
        # the table is drawn on a canvas; the words-met tab is text: the story's N1 words are there
        tab = "[...document.querySelectorAll('[role=tab]')].find(t => t.innerText.includes('Words I have met'))"
        for _ in range(3):
            b.wait_for(tab)
            b.eval(f"{tab}.click()")
            try:
                b.wait_for("document.body.innerText.includes('N1 words met')", timeout=20)
                break
            except AssertionError:
                continue
        assert re.search(r"(^|\s)[1-9][0-9,]* / [0-9,]+ N1 words met", b.text())
