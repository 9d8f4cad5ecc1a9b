"""End to end in headless Chromium, the whole loop as a student walks it (issue 13): mark every
word up to N3 known -> write a story from my words (the offline example passage) -> its score
card shows my personal coverage -> study two due cards, each with its sentence read aloud ->
take the learning words to Anki as an .apkg that opens with a note per word and its audio.

A screenshot of each step is kept in the test's tmp_path (step-N-*.png)."""
from __future__ import annotations

import json
import os
import re
import sqlite3
import zipfile
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from core.store import Database, known, study
from tests.appserver import body_text, nav, running_app, settled, wait_text

GENERATION_S = 90  # the example passage, analysed and scored, on a loaded 2-core machine
NOW_LEARNING = re.compile(r"Now learning \(the new target words it used\): (.+)\.")


def shot(page: Page, folder: Path, name: str, focus: str | None = None) -> None:
    """A screenshot of what the student sees, scrolled to `focus` first (the app scrolls inside
    its main section, so a full-page screenshot would show no more than the window)."""
    if focus:
        page.locator(focus).first.scroll_into_view_if_needed()
    page.screenshot(path=folder / f"{name}.png")


def open_profile(page: Page, name: str) -> None:
    box = page.locator(".st-key-profile_name input")
    expect(box).to_be_visible()
    settled(page)
    box.click()
    box.fill(name)
    page.locator(".st-key-profile_go button").click()
    wait_text(page, f"Profile: {name}")
    settled(page)


def choose_option(page: Page, key: str, option: str) -> None:
    """Pick `option` in the selectbox `key`, opened from the keyboard (a mouse click at its
    coordinates can miss while the page above it still grows)."""
    box = page.locator(f".st-key-{key} input[role=combobox]")
    expect(box).to_be_attached()
    settled(page)
    box.press("ArrowDown")
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)
    settled(page)


def mark_known_up_to(page: Page, level: str) -> None:
    nav(page, "Word lists", ".st-key-known_levels_go")
    choose_option(page, "known_up_to", level)
    page.locator(".st-key-known_levels_go button").click()
    wait_text(page, f"Marked every word up to {level} as known:")
    settled(page)


def write_from_my_words(page: Page) -> list[str]:
    """Generate → "Write from my words", the default model (the example passage); returns the
    words the page says are now learning."""
    nav(page, "Generate", ".st-key-gen_words_mode")
    page.locator(".st-key-gen_words_mode label").filter(has_text="Write from my words").click()
    wait_text(page, "Your words")  # the plan, with its predicted coverage
    expect(page.locator(".st-key-gen_model input")).to_have_value(re.compile("^Example passage"))
    go = page.locator(".st-key-gen_go button")
    expect(go).to_be_enabled()
    settled(page)  # a click that lands while the page is rerunning is dropped
    go.click()
    wait_text(page, "Your coverage of this story", timeout=GENERATION_S)
    expect(page.locator("span.ns-w.ns-N1").first).to_be_visible()
    settled(page)
    line = page.locator("[data-testid=stAlertContentSuccess]").filter(has_text=re.compile("^Now learning"))
    match = NOW_LEARNING.search(line.inner_text())
    assert match and match.group(1) != "none", line.inner_text()
    return match.group(1).split("、")


def check_personal_coverage(page: Page) -> None:
    """The score card's block for the open profile: known running words, the three metrics."""
    text = body_text(page)
    assert re.search(r"For hana · known running words \d+\.\d%", text), text
    assert re.search(r"Your coverage of this story\*{0,2}: \d+\.\d% known running words \(predicted \d+\.\d%\)", text)
    for label in ("Known content words", "Token miss rate", "New words"):
        metric = page.locator("[data-testid=stMetric]").filter(has_text=label)
        expect(metric).to_be_visible()
        value = metric.locator("[data-testid=stMetricValue]").inner_text()
        assert re.fullmatch(r"\d+(\.\d)?%" if label != "New words" else r"\d+", value.strip()), (label, value)


def word_grid(page: Page) -> Locator:
    """The word table (the grid with a "mine" column). It draws on a canvas; its cells are read
    from the table it keeps for screen readers, which holds the rows in view."""
    return page.locator("[data-testid=stDataFrame]").filter(
        has=page.locator("[role=columnheader]", has_text=re.compile("^mine$")))


def word_table(page: Page) -> dict[str, str]:
    """The word table's rows in view, as word -> its "mine" state."""
    grid = word_grid(page)
    expect(grid.locator("[role=gridcell]").first).to_be_attached()
    header = grid.locator("[role=columnheader]").all_inner_texts()
    assert header[:4] == ["word", "reading", "level", "mine"], header
    rows = grid.locator("[role=row]").evaluate_all(
        "rows => rows.map(r => [...r.querySelectorAll('[role=gridcell]')].map(c => c.innerText.trim()))")
    return {cells[0]: cells[3] for cells in rows if len(cells) >= 4}


def mark_learning(page: Page, word: str) -> None:
    """With the word table's "Mark words" control: choose `word`, press Learning."""
    box = page.locator(".st-key-gen_mark_words input")
    expect(box).to_be_visible()
    settled(page)
    box.click()
    box.fill(word)
    page.get_by_role("option", name=word, exact=True).click()
    chosen = page.locator(".st-key-gen_mark_words [data-tag]").filter(has_text=word)
    expect(chosen).to_be_visible()
    settled(page)
    page.locator(".st-key-gen_mark_learning button").click()
    wait_text(page, "1 word now learning.")
    settled(page)


def study_card(page: Page, folder: Path, n: int) -> str:
    """Reveal the due card, check its sentence is read aloud (a WAV the browser can fetch),
    grade it Good; returns the word."""
    reveal = page.locator(".st-key-study_reveal button")
    expect(reveal).to_be_visible()
    settled(page)
    reveal.click()
    expect(page.locator(".st-key-study_rate_3 button")).to_be_visible()
    settled(page)
    player = page.locator("audio")
    expect(player).to_have_count(1)
    src = player.get_attribute("src") or player.locator("source").get_attribute("src")
    assert src, "the audio element has no source"
    reply = page.request.get(page.evaluate("s => new URL(s, document.baseURI).href", src))
    assert reply.ok, reply.status
    assert reply.headers["content-type"].startswith("audio/"), reply.headers["content-type"]
    body = reply.body()
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE" and len(body) > 1000
    word = page.locator("[data-testid=stMain] h2").last.inner_text().split("【")[0].strip()
    shot(page, folder, f"step-4{n}-study-revealed", "audio")
    page.locator(".st-key-study_rate_3 button").click()
    wait_text(page, f"{word}: Good — next review")
    settled(page)
    return word


def download_deck(page: Page, folder: Path, learning: list[str]) -> Path:
    nav(page, "Word lists", ".st-key-deck_build")
    chosen = page.locator(".st-key-deck_words [data-tag]")
    expect(chosen).to_have_count(len(learning))  # the learning words, chosen by default
    assert sorted(chosen.all_inner_texts()) == sorted(learning)
    settled(page)
    page.locator(".st-key-deck_build button").click()
    n = len(learning)
    wait_text(page, f"{n} cards: {n} with a sentence from your stories, {n} with audio.")
    button = page.locator(".st-key-deck_download button")
    expect(button).to_be_visible()
    settled(page)
    shot(page, folder, "step-5-deck", ".st-key-deck_download")
    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "NoneStory-hana.apkg"
    path = folder / download.suggested_filename
    download.save_as(path)
    return path


def open_apkg(path: Path, folder: Path) -> tuple[int, list[list[str]], dict[str, str]]:
    """(note count, each note's fields, media map) of an .apkg, opened as Anki does: a zip
    holding the SQLite collection and a JSON media map (zip member name -> file name)."""
    with zipfile.ZipFile(path) as apkg:
        names = apkg.namelist()
        assert "collection.anki2" in names and "media" in names, names
        media = json.loads(apkg.read("media"))
        for index in media:
            assert apkg.read(index)[:4] == b"RIFF"
        (folder / "collection.anki2").write_bytes(apkg.read("collection.anki2"))
    with sqlite3.connect(folder / "collection.anki2") as con:
        notes = con.execute("SELECT count(*) FROM notes").fetchone()[0]
        fields = [flds.split("\x1f") for (flds,) in con.execute("SELECT flds FROM notes")]
    return notes, fields, media


def test_student_walks_the_loop_from_known_words_to_an_anki_deck(tmp_path, new_page):
    data = tmp_path / "data"
    env = {"NONESTORY_DATA": str(data), "NONESTORY_DB": str(data / "nonestory.duckdb"),
           "NONESTORY_CACHE": os.environ["NONESTORY_CACHE"]}
    page = new_page(1280, 900)
    with running_app(env) as url:
        page.goto(url)
        open_profile(page, "hana")

        mark_known_up_to(page, "N3")  # 1. "I already know every word up to N3"
        shot(page, tmp_path, "step-1-known", "[data-testid=stAlertContentSuccess]")

        learning = write_from_my_words(page)  # 2. a story from my words
        check_personal_coverage(page)  # 3. the score card's personal coverage
        shot(page, tmp_path, "step-2-story", '[data-testid=stMetric]:has-text("Token miss rate")')
        table = word_table(page)  # its "mine" column: the target word it used is learning now
        assert set(table.values()) <= {"new", "learning", "known"}, table
        assert all(table[w] == "learning" for w in learning if w in table), table
        if len(learning) < 2:  # one more of the story's N1 words, a new one, from the word table
            n1 = set(page.locator("span.ns-w.ns-N1[data-word]").evaluate_all("s => s.map(e => e.dataset.word)"))
            fresh = [w for w, state in table.items() if state == "new" and w in n1]
            assert fresh, f"no new N1 word in view in the word table: {table}"
            mark_learning(page, fresh[0])
            row = word_grid(page).locator("[role=row]").filter(
                has=page.locator("[role=gridcell]", has_text=re.compile(f"^{re.escape(fresh[0])}$")))
            expect(row.locator("[role=gridcell]").nth(3)).to_have_text("learning", timeout=15_000)
            learning.append(fresh[0])
            shot(page, tmp_path, "step-3-marked", '[data-testid=stAlertContentSuccess]:has-text("1 word now learning")')

        nav(page, "Study", ".st-key-study_reveal")  # 4. two due cards, with audio
        expect(page.locator("[data-testid=stMain]")).to_contain_text(f"{len(learning)} due")
        studied = [study_card(page, tmp_path, n) for n in (1, 2)]
        assert len(set(studied)) == 2 and set(studied) <= set(learning)
        if len(learning) == 2:
            wait_text(page, "Nothing is due. 2 words are learning; the next is due in")
        else:
            expect(page.locator(".st-key-study_reveal button")).to_be_visible()
        shot(page, tmp_path, "step-4-studied")

        deck = download_deck(page, tmp_path, learning)  # 5. the learning words to Anki

    notes, fields, media = open_apkg(deck, tmp_path)
    db = Database(data / "nonestory.duckdb")  # the app is stopped: its database is free
    try:
        states = known.word_states(db, "hana")
        log = study.review_log(db, "hana")
    finally:
        db.close()
    learning_now = sorted(w for w, s in states.items() if s == "learning")
    assert learning_now == sorted(learning)
    assert [(r["word"], r["rating"]) for r in log] == [(w, 3) for w in studied]  # both grades, Good, kept
    assert notes == len(learning_now)
    assert sorted(f[0] for f in fields) == learning_now  # Word is the note's first field
    sounds = [re.fullmatch(r"\[sound:(nonestory-\w+\.wav)\]", f[-1]) for f in fields]  # and Audio its last
    assert all(sounds), [f[-1] for f in fields]
    assert set(media.values()) == {m.group(1) for m in sounds}  # every sound is in the deck
