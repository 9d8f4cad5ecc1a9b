"""End to end in headless Chromium: the interface starts in the browser's preferred language
(a Taiwanese browser gets 繁體中文, an American one English), the sidebar's picker changes it, and
a student's profile brings back the language it chose in a new browser; <html lang> follows."""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.appserver import running_app, settled, wait_text

SIDEBAR = "[data-testid=stSidebar]"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("language") / "data"
    data.mkdir()
    env = {"NONESTORY_DATA": str(data), "NONESTORY_DB": str(data / "nonestory.duckdb"),
           "NONESTORY_CACHE": os.environ["NONESTORY_CACHE"]}
    with running_app(env) as url:
        yield url


@pytest.fixture
def browser_in(new_context):
    expect.set_options(timeout=60_000)

    def open_page(locale: str):
        context = new_context(viewport={"width": 1280, "height": 900}, locale=locale)
        context.set_default_timeout(60_000)
        return context.new_page()

    return open_page


def nav_links(page) -> list[str]:
    return [t.strip() for t in page.locator("[data-testid=stSidebarNav] a").all_inner_texts()]


def test_the_browsers_language_then_the_picker_then_the_profiles(app_url, browser_in):
    tw = browser_in("zh-TW")
    tw.goto(app_url)
    wait_text(tw, "開啟個人檔案")
    settled(tw)
    assert any("閱讀" in t for t in nav_links(tw)) and not any("Reader" in t for t in nav_links(tw))
    # the browser picks traditional-Chinese glyphs for the fonts after Source Sans
    tw.wait_for_function("document.documentElement.lang === 'zh-Hant'")
    tw.locator(".st-key-profile_name input").fill("mei")
    tw.locator(".st-key-profile_go button").click()
    wait_text(tw, "個人檔案：mei")
    settled(tw)
    picker = tw.locator(".st-key-ui_language input[role=combobox]")
    picker.press("ArrowDown")
    tw.get_by_role("option", name="日本語").click()
    wait_text(tw, "プロフィールを閉じる")
    settled(tw)
    assert any("リーダー" in t for t in nav_links(tw))

    us = browser_in("en-US")  # another browser: English until mei's profile opens
    us.goto(app_url)
    wait_text(us, "Open profile")
    settled(us)
    us.locator(".st-key-profile_name input").fill("mei")
    us.locator(".st-key-profile_go button").click()
    wait_text(us, "プロフィールを閉じる")
    expect(us.locator(SIDEBAR)).not_to_contain_text("Close profile")
