"""End to end: the running app in real headless Chromium analyses a text, marks its N1 words,
and never runs markup injected in the text."""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from tests.appserver import body_text, running_app

TEXT = ("部長は部下に早めの報告を促した。和やかな雰囲気だった。"
        "<script>window.__pwned=1;alert(1)</script><img src=x onerror=\"window.__pwned=2;alert(2)\">")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e") / "data"
    env = {"NONESTORY_DATA": str(data), "NONESTORY_DB": str(data / "nonestory.duckdb"),
           "NONESTORY_CACHE": os.environ["NONESTORY_CACHE"]}
    with running_app(env) as url:
        yield url


def analyse(page: Page, url: str) -> None:
    page.goto(url)  # the Reader is the default page, served at /
    text = page.locator(".st-key-reader_text textarea")
    text.click()  # focus it the way a person does
    text.fill(TEXT)
    page.locator(".st-key-reader_go button").click()
    expect(page.locator('span.ns-N1[data-word="促す"]')).to_be_visible(timeout=90_000)


def test_reader_marks_n1_words_and_never_runs_injected_markup(app_url, new_page, tmp_path):
    page = new_page(1280, 900)
    dialogs: list[str] = []  # every JS dialog the page opens, dismissed at once
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    analyse(page, app_url)
    words = page.locator("span.ns-N1").evaluate_all("spans => spans.map(s => s.dataset.word)")
    assert {"促す", "部下", "和やか"} <= set(words)
    # the entry script ran (shared sidebar and page list), not a bare page file
    assert "Profile name" in page.locator("[data-testid=stSidebar]").inner_text()
    assert page.evaluate("window.__pwned === undefined")
    assert dialogs == []
    assert "<script>window.__pwned=1" in body_text(page)  # shown as text
    expect(page.locator("span.ns-N1").first).to_have_css("font-weight", "700")
    page.screenshot(path=tmp_path / "reader.png")


def test_reader_fits_a_phone_screen(app_url, new_page):
    page = new_page(390, 844, mobile=True)
    analyse(page, app_url)
    overflow = page.locator(".ns-text").evaluate("t => t.scrollWidth - t.clientWidth")
    assert overflow <= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
