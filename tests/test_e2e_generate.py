"""End to end in headless Chromium: a student writes a story (offline example passage),
watches it arrive, and finds it in the Library after leaving the page."""
from __future__ import annotations

import os
import re

from playwright.sync_api import expect

from tests.appserver import body_text, nav, running_app, settled, wait_text

N1_WORD = 'span.ns-N1[data-word="把握"]'


def test_story_is_written_shown_and_kept_in_the_library(tmp_path, new_page):
    data = tmp_path / "data"
    env = {"NONESTORY_DATA": str(data), "NONESTORY_CACHE": os.environ["NONESTORY_CACHE"]}
    page = new_page(1280, 900)
    with running_app(env) as url:
        page.goto(url)
        name = page.locator(".st-key-profile_name input")
        name.click()
        name.fill("hana")
        page.locator(".st-key-profile_go button").click()
        wait_text(page, "Profile: hana")
        nav(page, "Generate", ".st-key-gen_words_mode")
        page.locator(".st-key-gen_words_mode label").filter(has_text="Paste").click()
        paste = page.locator(".st-key-gen_paste input")
        paste.click()
        paste.fill("把握, 促す, 和やか")
        paste.press("Enter")
        expect(page.locator(".st-key-gen_go button")).to_be_enabled()
        wait_text(page, "Write a story")
        settled(page)  # a click that lands while the page is rerunning is dropped
        page.locator(".st-key-gen_go button").click()
        expect(page.get_by_text("Job #").or_(page.locator(N1_WORD)).first).to_be_visible()  # started
        expect(page.locator(N1_WORD).first).to_be_visible(timeout=90_000)
        assert "saved to hana" in body_text(page)
        page.screenshot(path=tmp_path / "generate.png")
        nav(page, "Library", "[role=tab]")
        # the table is drawn on a canvas; the words-met tab is text: the story's N1 words are there
        tab = page.get_by_role("tab", name="Words I have met")
        expect(tab).to_be_visible()
        settled(page)
        tab.click()
        wait_text(page, "N1 words met")
        assert re.search(r"(^|\s)[1-9][0-9,]* / [0-9,]+ N1 words met", body_text(page))
