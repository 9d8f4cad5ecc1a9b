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
    """Click a sidebar page link once the current run is over (a click during a rerun is
    dropped by Streamlit), then wait for the page's marker element."""
    link = f"[...document.querySelectorAll('[data-testid=stSidebarNav] a')].find(a => a.innerText.includes('{title}'))"
    browser.wait_for(link)
    browser.settled()
    browser.eval(f"{link}.click()")
    browser.wait_for(f"document.querySelector('{marker}')", timeout=60)
    browser.settled()


def test_story_is_written_shown_and_kept_in_the_library(tmp_path):
    data = tmp_path / "data"
    env = {"NONESTORY_DATA": str(data), "NONESTORY_CACHE": os.environ["NONESTORY_CACHE"]}
    with running_app(env) as url, Browser(1280, 900) as b:
        b.goto(url)
        b.wait_for("document.querySelector('.st-key-profile_name input')")
        b.click(".st-key-profile_name input")
        b.insert_text(".st-key-profile_name input", "hana")
        b.click(".st-key-profile_go button")
        b.wait_for("document.body.innerText.includes('Profile: hana')")
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
        b.settled()  # a click that lands while the page is rerunning is dropped
        b.click(".st-key-gen_go button")
        b.wait_for(started, timeout=60)
        b.wait_for("document.querySelector('span.ns-N1[data-word=\"把握\"]')", timeout=90)
        assert "saved to hana" in b.text()
        b.screenshot(tmp_path / "generate.png")
        nav(b, "Library", "[role=tab]")
        # the table is drawn on a canvas; the words-met tab is text: the story's N1 words are there
        tab = "[...document.querySelectorAll('[role=tab]')].find(t => t.innerText.includes('Words I have met'))"
        b.wait_for(tab)
        b.settled()
        b.eval(f"{tab}.click()")
        b.wait_for("document.body.innerText.includes('N1 words met')", timeout=60)
        assert re.search(r"(^|\s)[1-9][0-9,]* / [0-9,]+ N1 words met", b.text())
