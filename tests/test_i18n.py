"""The translation layer: every catalogue holds exactly the messages the code uses, each
translated with the same placeholders; browser and system tags map to the right language;
numbers follow the language; and the app's sidebar and navigation, walked with AppTest as a
student, a teacher and an admin in each language, show only catalogue text, and a profile keeps
the language it chose."""
from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from core import i18n, settings, store
from core.auth import hash_password
from core.store import students
from views import sidebar

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
TRANSLATED = [c for c in i18n.LANGUAGES if c != i18n.DEFAULT]


def _extracted() -> list:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    return [message for _file, _line, message, _comments, _context
            in extract_from_dir(str(ROOT), method_map, options_map)]


def code_messages() -> set[str]:
    """The message ids `make messages` extracts, by Babel's own extractor and babel.cfg (a
    plural message by its singular, as gettext keys it)."""
    return {m[0] if isinstance(m, tuple) else m for m in _extracted()} - {""}


def code_texts() -> set[str]:
    """Every English text of the code's messages, plural forms included."""
    return {t for m in _extracted() for t in (m if isinstance(m, tuple) else (m,))} - {""}


def catalogue(code: str):
    with (i18n.LOCALES / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as f:
        return read_po(f, locale=code)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_catalogue_holds_exactly_the_messages_the_code_uses(code):
    used = code_messages()
    held = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(code) if m.id}
    assert not used - held, f"{code} misses {sorted(used - held)[:5]}: run make messages and translate"
    assert not held - used, f"{code} has messages no code uses: {sorted(held - used)[:5]}"


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(code):
    for m in catalogue(code):
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings) and "fuzzy" not in m.flags, f"{code}: {m.id!r} has no (or a fuzzy) translation"
        assert all(fields(s) == fields(m.id if isinstance(m.id, str) else m.id[0]) for s in strings), \
            f"{code}: {m.id!r} and its translation name different placeholders"


def test_compiled_catalogues_are_current():
    for code in TRANSLATED:
        po = i18n.LOCALES / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
        mo = po.with_suffix(".mo")
        assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, f"{mo} is stale: run make catalogues"


@pytest.mark.parametrize(("tag", "code"), [
    ("zh-CN", "zh_Hans"), ("zh", "zh_Hans"), ("zh-SG", "zh_Hans"), ("zh-TW", "zh_Hant"), ("zh-HK", "zh_Hant"),
    ("zh-Hant-CN", "zh_Hant"), ("zh_Hans_HK", "zh_Hans"), ("ja-JP", "ja"), ("ja", "ja"), ("en-GB", "en"),
    ("zh_TW.UTF-8", "zh_Hant"), ("fr-FR", None), ("", None), (None, None)])
def test_browser_and_system_tags(tag, code):
    assert i18n.normalize(tag) == code


def test_messages_follow_the_language_in_use_and_fall_back_to_english():
    assert i18n._("Sign in") == "Sign in"
    with i18n.language("ja"):
        assert i18n._("Sign in") == "サインイン"
        with i18n.language("zh-TW"):
            assert i18n._("Sign in") == "登入"
        assert i18n._("A message no catalogue holds") == "A message no catalogue holds"
    assert i18n.current() == "en"


def test_numbers_follow_the_language():
    with i18n.language("en"):
        assert (i18n.number(12345), i18n.percent(0.1234)) == ("12,345", "12.3%")
    with i18n.language("ja"):
        assert i18n.number(1234.5, 1) == "1,234.5"
    with i18n.language("zh_Hant"):
        assert i18n.percent(0.5, 0) == "50%"


def test_errors_from_the_store_are_in_the_language_in_use(tmp_path):
    db = store.Database(tmp_path / "x.duckdb")
    with i18n.language("zh_Hans"), pytest.raises(store.StoreError, match="请输入档案名"):
        students.open_profile(db, "  ")
    with pytest.raises(store.StoreError, match="Unknown language 'fr'"):
        students.set_language(db, "hana", "fr")


# -- the app, walked in each language ----------------------------------------------------------

def _pattern(text: str) -> re.Pattern:
    """What `text` reads as once its placeholders are filled."""
    return re.compile(".+?".join(re.escape(p) for p in re.split(r"\{[^{}]*\}", text)), re.S)


def _patterns(code: str) -> list[re.Pattern]:
    """Every message of `code`'s catalogue (each plural form) as a pattern its formatted text matches."""
    return [_pattern(t) for m in catalogue(code) if m.id
            for t in (m.string if isinstance(m.string, tuple) else (m.string,))]


def _sidebar_texts(at: AppTest) -> list[str]:
    """What a person reads in the sidebar: labels, buttons, help, captions and messages."""
    texts = []
    for kind in ("text_input", "selectbox", "button", "expander"):
        for e in at.sidebar.get(kind):
            texts += [getattr(e, "label", "") or "", getattr(e, "help", "") or "",
                      getattr(e.proto, "placeholder", "") or ""]
    for kind in ("caption", "markdown", "error", "success", "warning", "info"):
        texts += [str(e.value) for e in at.sidebar.get(kind)]
    return [t.replace(":material/translate: ", "") for t in texts if t and not t.startswith("<")]


def _english_catalogue() -> list[re.Pattern]:
    return [_pattern(t) for t in code_texts()]


def _walk(role: str, code: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[sidebar.LANGUAGE] = code
    if role != "student":
        at.session_state["role"], at.session_state["user"] = role, role
    else:
        at.session_state["profile"] = "hana"
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def staff(monkeypatch):
    monkeypatch.setenv("NONESTORY_TEACHER_PASSWORD_HASH", hash_password("pw", iterations=1000))
    monkeypatch.setenv("NONESTORY_ADMIN_PASSWORD_HASH", hash_password("pw", iterations=1000))


@pytest.mark.parametrize("code", list(i18n.LANGUAGES))
@pytest.mark.parametrize("role", ["student", "teacher", "admin"])
def test_the_sidebar_shows_only_catalogue_text_in_each_language(staff, role, code):
    at = _walk(role, code)
    patterns = _patterns(code) if code != i18n.DEFAULT else _english_catalogue()
    shown = _sidebar_texts(at)
    assert shown
    stray = [t for t in shown if not any(p.fullmatch(t) for p in patterns)]
    assert not stray, f"{role} in {code} sees text that is not in the catalogue: {stray}"
    if code != i18n.DEFAULT:  # and none of it is still English where a translation exists
        english = {m for m in code_messages() if not fields(m)} - {"Language"}
        assert not [t for t in shown if t in english and i18n.translations(code).gettext(t) != t]


def test_a_profile_keeps_the_language_it_chose(staff):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert at.button(key="profile_go").label == "Open profile"  # no browser language here: English
    at.text_input(key="profile_name").input("mei")
    at.button(key="profile_go").click().run()
    at.selectbox(key=sidebar.LANGUAGE).set_value("zh_Hant").run()
    assert at.button(key="profile_close").label == "關閉個人檔案"
    db = store.Database(settings.paths().db)
    assert students.language_of(db, "mei") == "zh_Hant"
    db.close()
    again = AppTest.from_file(APP, default_timeout=60)  # another session: English until mei opens
    again.run()
    again.text_input(key="profile_name").input("mei")
    again.button(key="profile_go").click().run()
    assert again.button(key="profile_close").label == "關閉個人檔案"


# -- every page, as each role, in each language ------------------------------------------------

PAGES = {"student": ["reader.py", "generate.py", "library.py", "wordlists.py", "study.py"],
         "teacher": ["reader.py", "review.py", "wordlists.py"],
         "admin": ["training.py", "checkpoints.py", "review.py"]}
_LABELLED = ("button", "text_input", "text_area", "selectbox", "multiselect", "radio", "checkbox", "toggle",
             "slider", "number_input", "expander", "tab", "metric", "download_button", "date_input")
_VALUED = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")


def _main_texts(at: AppTest) -> list[str]:
    """What a person reads in the page (not the sidebar): headings, text, messages, labels, help."""
    texts = []
    for kind in _LABELLED:
        for e in at.main.get(kind):
            texts += [getattr(e, "label", "") or "", getattr(e, "help", "") or ""]
    for kind in _VALUED:
        texts += [str(e.value) for e in at.main.get(kind)]
    return [t for t in texts if t and not t.lstrip().startswith("<")]


@pytest.fixture
def some_data():
    """A story of hana's and a class word list, so the pages show their tables and forms."""
    from core.analysis import analyze
    from core.wordlists import ListWord

    db = store.Database(settings.paths().db)
    store.save_story(db, analyze("部長は状況を把握し、部下に報告を促した。"), store.Story(profile="hana", title="朝"))
    store.save_word_list(db, "class-a", [ListWord("把握", ("把握",), "はあく", ("grasp",), 2)])
    db.close()


@pytest.mark.parametrize("code", TRANSLATED)
@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_shows_only_catalogue_text(staff, some_data, role, code):
    patterns = _patterns(code)
    with i18n.language(code):  # AppTest formats option labels in this thread
        at = _walk(role, code)
        for page in PAGES[role]:
            at.switch_page(f"views/pages/{page}").run()
            assert not at.exception, (page, at.exception)
            shown = _main_texts(at)
            assert shown, page
            stray = [t for t in shown if not _from_catalogue(t, patterns)]
            assert not stray, f"{page} as {role} in {code} shows text that is not in the catalogue: {stray}"


DATA = {"hana", "class-a", "admin", "teacher"}  # what some_data and the roles put on the pages


def _from_catalogue(text: str, patterns: list[re.Pattern]) -> bool:
    """Whether `text` is a catalogue message (placeholders filled), or a list of them (a
    Markdown bullet, lines, parts joined by " · "), or data: words without a Latin letter (the
    stories' Japanese, drawn words, numbers and dates) or the names some_data gave."""
    if any(p.fullmatch(text) for p in patterns):
        return True
    parts = [q.strip() for line in text.splitlines() for q in line.removeprefix("- ").split(" · ")]
    if len(parts) > 1 or parts[0] != text:
        return all(_from_catalogue(q, patterns) for q in parts if q)
    return not re.search(r"[A-Za-z]", text) or text in DATA
