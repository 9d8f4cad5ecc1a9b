"""End to end: the running app in real headless Chromium analyses a text, marks its N1 words,
and never runs markup injected in the text."""
from __future__ import annotations

import os

import pytest

from tests.appserver import running_app
from tests.browser import Browser, find_chromium

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (.ci/run installs it)")

TEXT = ("部長は部下に早めの報告を促した。和やかな雰囲気だった。"
        "<script>window.__pwned=1;alert(1)</script><img src=x onerror=\"window.__pwned=2;alert(2)\">")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e") / "data"
    env = {"NONESTORY_DATA": str(data), "NONESTORY_DB": str(data / "nonestory.duckdb"),
           "NONESTORY_CACHE": os.environ["NONESTORY_CACHE"]}
    with running_app(env) as url:
        yield url


def analyse(browser: Browser, url: str) -> None:
    browser.goto(url)  # the Reader is the default page, served at /
    browser.wait_for("document.querySelector('.st-key-reader_go button')")
    browser.click(".st-key-reader_text textarea")  # focus it the way a person does
    browser.insert_text(".st-key-reader_text textarea", TEXT)
    browser.click(".st-key-reader_go button")
    browser.wait_for("document.querySelector('span.ns-N1[data-word=\"促す\"]')", timeout=90)


def test_reader_marks_n1_words_and_never_runs_injected_markup(app_url, tmp_path):
    with Browser(1280, 900) as browser:
        analyse(browser, app_url)
        words = browser.eval("[...document.querySelectorAll('span.ns-N1')].map(e => e.dataset.word)")
        assert {"促す", "部下", "和やか"} <= set(words)
        # the entry script ran (shared sidebar and page list), not a bare page file
        assert "Profile name" in browser.eval("document.querySelector('[data-testid=stSidebar]').innerText")
        assert browser.eval("window.__pwned === undefined")
        assert browser.dialogs == []
        assert "<script>window.__pwned=1" in browser.text()  # shown as text
        assert browser.eval("getComputedStyle(document.querySelector('span.ns-N1')).fontWeight") == "700"
        browser.screenshot(tmp_path / "reader.png")


def test_reader_fits_a_phone_screen(app_url):
    with Browser(390, 844, mobile=True) as browser:
        analyse(browser, app_url)
        overflow = browser.eval("document.querySelector('.ns-text').scrollWidth - "
                                "document.querySelector('.ns-text').clientWidth")
        assert overflow <= 1
        assert browser.eval("document.documentElement.scrollWidth") <= 391
