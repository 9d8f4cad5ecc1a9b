"""End to end, in real headless Chromium against the served app: two students, a teacher and an
admin, each in their own browser (their own cookies). Student A's profile has a passphrase and a
story; student B can neither list, open nor delete it; A's profile survives a reload; a student
cannot change the teacher's class list; only the admin is offered a raw checkpoint; and no page
shows a literal None."""
from __future__ import annotations

import os
import re

import pytest

from core import store
from core.analysis import analyze
from core.auth import hash_password
from core.store import students
from core.wordlists import ListWord
from tests.appserver import running_app
from tests.browser import Browser, find_chromium

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (.ci/run installs it)")

STORY = "部長は部下に早めの報告を促した。和やかな雰囲気だった。"
NONE = re.compile(r"(?<![\w-])None(?![\w-])")


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


def wait_text(browser: Browser, text: str, timeout: float = 60) -> None:
    browser.wait_for(f"document.body.innerText.includes({text!r})", timeout=timeout)


def settled(browser: Browser) -> None:
    browser.settled()


def open_profile(browser: Browser, url: str, name: str, passphrase: str = "", ok: bool = True) -> None:
    browser.goto(url)
    browser.wait_for("document.querySelector('.st-key-profile_name input')")
    browser.type_into(".st-key-profile_name input", name)
    browser.type_into(".st-key-profile_passphrase input", passphrase)
    browser.click(".st-key-profile_go button")
    if ok:  # open, and the browser holds the reopen cookie
        wait_text(browser, f"Profile: {name}")
        browser.wait_for("document.cookie.includes('nonestory_profile=')")
    else:
        wait_text(browser, "That profile has a passphrase")


def sign_in(browser: Browser, url: str, name: str, password: str) -> None:
    browser.goto(url)
    browser.wait_for("[...document.querySelectorAll('summary')].some(s => s.innerText.includes('sign-in'))")
    browser.eval("[...document.querySelectorAll('summary')].find(s => s.innerText.includes('sign-in')).click()")
    browser.wait_for("document.querySelector('.st-key-signin_name input')")
    browser.type_into(".st-key-signin_name input", name)
    browser.type_into(".st-key-signin_password input", password)
    browser.click(".st-key-signin_go button")
    wait_text(browser, f"Signed in as {name}")
    browser.wait_for("document.cookie.includes('nonestory_staff=')")


def visit(browser: Browser, url: str, path: str, expect: str) -> str:
    browser.goto(f"{url}/{path}")
    wait_text(browser, expect)
    settled(browser)
    text = browser.text()
    assert not NONE.search(text), f"/{path} shows None"
    return text


def reload(browser: Browser) -> None:
    """Reload the page and wait until the new document's script run is over."""
    browser.eval("window.__before_reload = true")
    browser.send("Page.reload")
    browser.wait_for("!window.__before_reload && !!document.querySelector('[data-testid=stSidebar]')")
    settled(browser)


def select_options(browser: Browser, key: str) -> list[str]:
    """The options a selectbox offers, read by opening it from the keyboard (focus, ArrowDown):
    a mouse click at its coordinates can miss while a table above it is still growing."""
    box = f".st-key-{key} input[role=combobox]"
    browser.wait_for(f"!!document.querySelector('{box}')")
    browser.settled()
    browser.eval(f"document.querySelector('{box}').focus()")
    browser.press("ArrowDown")
    browser.wait_for("document.querySelectorAll('[role=option]').length > 0")
    options = browser.eval("[...document.querySelectorAll('[role=option]')].map(o => o.innerText)")
    browser.press("Escape")
    return options


def model_options(browser: Browser) -> list[str]:
    return select_options(browser, "gen_model")


def test_student_b_cannot_reach_student_as_library(app_url, tmp_path):
    with Browser(1280, 900) as b:
        sidebar = "document.querySelector('[data-testid=stSidebar]').innerText"
        b.goto(app_url)
        b.wait_for("document.querySelector('.st-key-profile_name input')")
        assert "hana" not in b.eval(sidebar)  # no profile is listed
        open_profile(b, app_url, "hana", "", ok=False)
        text = visit(b, app_url, "library", "Open your profile")
        assert "Open a story" not in text
        open_profile(b, app_url, "ken")
        text = visit(b, app_url, "library", "No stories match")  # ken's library: empty
        assert "Open a story" not in text and "Profile: ken" in b.eval(sidebar)
        b.screenshot(tmp_path / "student-b-library.png")


def test_student_a_opens_with_the_passphrase_and_stays_open_after_a_reload(app_url, tmp_path):
    with Browser(1280, 900) as a:
        open_profile(a, app_url, "hana", "sakura-7")
        assert "sakura" not in a.eval("document.cookie") and "hana" not in a.eval("document.cookie")
        text = visit(a, app_url, "library", "Open a story")  # a typed URL: a new session
        assert "Profile: hana" in text
        assert any("hana's story" in o for o in select_options(a, "lib_open"))
        reload(a)
        wait_text(a, "Profile: hana")
        a.screenshot(tmp_path / "student-a-library.png")
        a.wait_for("!!document.querySelector('.st-key-profile_close button')")
        a.click(".st-key-profile_close button")
        wait_text(a, "Open profile")
        a.wait_for("!document.cookie.includes('nonestory_profile=')")
        reload(a)
        a.wait_for("document.querySelector('.st-key-profile_name input')")
        assert "Profile: hana" not in a.text()  # closed means closed, after a reload too


def test_a_student_cannot_change_the_class_list_and_gets_no_checkpoint(app_url):
    with Browser(1280, 900) as s:
        open_profile(s, app_url, "mei")
        text = visit(s, app_url, "wordlists", "Class lists are changed")
        assert "Import a personal list" in text and "changed by teachers and admins" in text
        assert not s.eval("!!document.querySelector('.st-key-wl_delete button')")
        visit(s, app_url, "generate", "Write a story")
        assert not [o for o in model_options(s) if o.startswith("checkpoint:")]


def test_teacher_and_admin_pages(app_url, tmp_path):
    with Browser(1280, 900) as t:
        sign_in(t, app_url, "teacher", "teach-pw")
        reload(t)
        wait_text(t, "Signed in as teacher")  # a reload keeps a teacher signed in
        visit(t, app_url, "review", "Download 1 stories")  # teachers read every student's stories
        visit(t, app_url, "wordlists", "Import a class list")
        t.wait_for("!!document.querySelector('.st-key-wl_delete button')")  # staff may delete class lists
        visit(t, app_url, "generate", "Write a story")
        assert not [o for o in model_options(t) if o.startswith("checkpoint:")]
        t.screenshot(tmp_path / "teacher-review.png")
    with Browser(1280, 900) as adm:
        sign_in(adm, app_url, "admin", "admin-pw")
        visit(adm, app_url, "generate", "Write a story")
        assert "checkpoint: run-x/checkpoint-2" in model_options(adm)
        visit(adm, app_url, "checkpoints", "Checkpoints")
        visit(adm, app_url, "training", "Training")
