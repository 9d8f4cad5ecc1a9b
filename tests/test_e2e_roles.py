"""End to end, in real headless Chromium against the served app: two students, a teacher and an
admin, each in their own browser context (their own cookies). Student A's profile has a
passphrase and a story; student B can neither list, open nor delete it; A's profile survives a
reload; a student cannot change the teacher's class list; only the admin is offered a raw
checkpoint; and no page shows a literal None."""
from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from core import store
from core.analysis import analyze
from core.auth import hash_password
from core.store import students
from core.wordlists import ListWord
from tests.appserver import body_text, running_app, settled, wait_text

STORY = "部長は部下に早めの報告を促した。和やかな雰囲気だった。"
NONE = re.compile(r"(?<![\w-])None(?![\w-])")
SIDEBAR = "[data-testid=stSidebar]"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("roles") / "data"
    ckpt = data / "runs" / "run-x" / "checkpoint-2"
    ckpt.mkdir(parents=True)
    (ckpt / "config.json").write_text("{}", encoding="utf-8")  # listed, never loaded here
    db = store.Database(data / "nonestory.duckdb")
    students.open_profile(db, "hana", "sakura-7")
    store.save_story(db, analyze(STORY), store.Story(profile="hana", title="hana's story"))
    store.save_word_list(db, "class-a", [ListWord("把握", ("把握",), "はあく", ("grasp",), 2)])
    db.close()
    env = {"NONESTORY_DATA": str(data), "NONESTORY_DB": str(data / "nonestory.duckdb"),
           "NONESTORY_CACHE": os.environ["NONESTORY_CACHE"],
           "NONESTORY_TEACHER_PASSWORD_HASH": hash_password("teach-pw", iterations=1000),
           "NONESTORY_ADMIN_PASSWORD_HASH": hash_password("admin-pw", iterations=1000)}
    with running_app(env) as url:
        yield url


def wait_cookie(page: Page, name: str, present: bool = True) -> None:
    """Wait until the page's document.cookie holds (or no longer holds) the named cookie."""
    has = f"document.cookie.includes('{name}=')"
    page.wait_for_function(has if present else f"!{has}")


def open_profile(page: Page, url: str, name: str, passphrase: str = "", ok: bool = True) -> None:
    page.goto(url)
    page.locator(".st-key-profile_name input").fill(name)
    page.locator(".st-key-profile_passphrase input").fill(passphrase)
    page.locator(".st-key-profile_go button").click()
    if ok:  # open, and the browser holds the reopen cookie
        wait_text(page, f"Profile: {name}")
        wait_cookie(page, "nonestory_profile")
    else:
        wait_text(page, "That profile has a passphrase")


def sign_in(page: Page, url: str, name: str, password: str) -> None:
    page.goto(url)
    summary = page.locator("summary").filter(has_text="sign-in")
    expect(summary).to_be_visible()
    settled(page)  # a rerun would rerender the expander under the click
    summary.click()
    page.locator(".st-key-signin_name input").fill(name)
    page.locator(".st-key-signin_password input").fill(password)
    page.locator(".st-key-signin_go button").click()
    wait_text(page, f"Signed in as {name}")
    wait_cookie(page, "nonestory_staff")


def visit(page: Page, url: str, path: str, expect_text: str) -> str:
    """Open a typed URL (a new session), wait for its run to end; the page must not show None."""
    page.goto(f"{url}/{path}")
    wait_text(page, expect_text)
    settled(page)
    text = body_text(page)
    assert not NONE.search(text), f"/{path} shows None"
    return text


def reload(page: Page) -> None:
    """Reload the page (Playwright waits for the new document's load) and its script run."""
    page.reload()
    expect(page.locator(SIDEBAR)).to_be_attached()
    settled(page)


def select_options(page: Page, key: str) -> list[str]:
    """The options a selectbox offers, read by opening it from the keyboard (focus, ArrowDown):
    a mouse click at its coordinates can miss while a table above it is still growing."""
    box = page.locator(f".st-key-{key} input[role=combobox]")
    expect(box).to_be_attached()
    settled(page)
    box.press("ArrowDown")  # focuses it first
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    texts = options.all_inner_texts()
    page.keyboard.press("Escape")
    return texts


def model_options(page: Page) -> list[str]:
    return select_options(page, "gen_model")


def test_student_b_cannot_reach_student_as_library(app_url, new_page, tmp_path):
    b = new_page()
    b.goto(app_url)
    expect(b.locator(".st-key-profile_name input")).to_be_visible()
    assert "hana" not in b.locator(SIDEBAR).inner_text()  # no profile is listed
    open_profile(b, app_url, "hana", "", ok=False)
    text = visit(b, app_url, "library", "Open your profile")
    assert "Open a story" not in text
    open_profile(b, app_url, "ken")
    text = visit(b, app_url, "library", "No stories match")  # ken's library: empty
    assert "Open a story" not in text and "Profile: ken" in b.locator(SIDEBAR).inner_text()
    b.screenshot(path=tmp_path / "student-b-library.png")


def test_student_a_opens_with_the_passphrase_and_stays_open_after_a_reload(app_url, new_page, tmp_path):
    a = new_page()
    open_profile(a, app_url, "hana", "sakura-7")
    cookies = a.evaluate("document.cookie")
    assert "sakura" not in cookies and "hana" not in cookies
    text = visit(a, app_url, "library", "Open a story")  # a typed URL: a new session
    assert "Profile: hana" in text
    assert any("hana's story" in o for o in select_options(a, "lib_open"))
    reload(a)
    wait_text(a, "Profile: hana")
    a.screenshot(path=tmp_path / "student-a-library.png")
    a.locator(".st-key-profile_close button").click()
    wait_text(a, "Open profile")
    wait_cookie(a, "nonestory_profile", present=False)
    reload(a)
    expect(a.locator(".st-key-profile_name input")).to_be_attached()
    assert "Profile: hana" not in body_text(a)  # closed means closed, after a reload too


def test_a_student_cannot_change_the_class_list_and_gets_no_checkpoint(app_url, new_page):
    s = new_page()
    open_profile(s, app_url, "mei")
    text = visit(s, app_url, "wordlists", "Class lists are changed")
    assert "Import a personal list" in text and "changed by teachers and admins" in text
    assert s.locator(".st-key-wl_delete button").count() == 0
    visit(s, app_url, "generate", "Write a story")
    assert not [o for o in model_options(s) if o.startswith("checkpoint:")]


def test_teacher_and_admin_pages(app_url, new_page, tmp_path):
    t = new_page()
    sign_in(t, app_url, "teacher", "teach-pw")
    reload(t)
    wait_text(t, "Signed in as teacher")  # a reload keeps a teacher signed in
    visit(t, app_url, "review", "Download 1 story")  # teachers read every student's stories
    visit(t, app_url, "wordlists", "Import a class list")
    expect(t.locator(".st-key-wl_delete button")).to_be_attached()  # staff may delete class lists
    visit(t, app_url, "generate", "Write a story")
    assert not [o for o in model_options(t) if o.startswith("checkpoint:")]
    t.screenshot(path=tmp_path / "teacher-review.png")
    adm = new_page()  # a browser of their own: no teacher cookie
    sign_in(adm, app_url, "admin", "admin-pw")
    visit(adm, app_url, "generate", "Write a story")
    assert "checkpoint: run-x/checkpoint-2" in model_options(adm)
    visit(adm, app_url, "checkpoints", "Checkpoints")
    visit(adm, app_url, "training", "Training")
