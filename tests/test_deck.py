"""Anki decks: a real .apkg (zip + SQLite collection + media) with stable ids, cards made from
a student's own stories, and the Word lists page's panel (AppTest)."""
from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from pathlib import Path

import genanki
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from core import deck, settings, store
from core.analysis import analyze
from core.audio import sentence_wav
from core.deck import DeckCard, DeckError, build_deck, cards_for
from core.store import known
from tests import pages
from views.common import _database

STORY = "部長は部下に報告を促した。彼は状況を把握していた。"


def open_apkg(data: bytes, tmp_path: Path) -> tuple[sqlite3.Connection, dict[str, str], zipfile.ZipFile]:
    """The package's collection (as SQLite) and its media map, checking both are there."""
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None and {"collection.anki2", "media"} <= set(z.namelist())
    path = tmp_path / "collection.anki2"
    path.write_bytes(z.read("collection.anki2"))
    return sqlite3.connect(path), json.loads(z.read("media")), z


def notes(con: sqlite3.Connection) -> dict[str, list[str]]:
    return {guid: flds.split("\x1f") for guid, flds in con.execute("SELECT guid, flds FROM notes")}


def card(word: str, audio: bytes | None = None) -> DeckCard:
    return DeckCard(word, "よみ", ("a meaning", "<i>another</i>"), f"<b>{word}</b>。", f"<b>{word}</b>。", audio)


def test_the_deck_is_a_valid_apkg_with_a_note_per_word_and_its_audio(tmp_path):
    wav = sentence_wav("把握した。")
    data = build_deck("hana", [card("把握", wav), card("促す"), card("把握")])  # 把握 twice: one note
    con, media, z = open_apkg(data, tmp_path)
    found = notes(con)
    assert set(found) == {genanki.guid_for("nonestory", "hana", w) for w in ("把握", "促す")}
    fields = found[genanki.guid_for("nonestory", "hana", "把握")]
    assert fields[:3] == ["把握", "よみ", "a meaning; &lt;i&gt;another&lt;/i&gt;"]  # plain text escaped
    assert fields[5] == f"[sound:{media['0']}]" and z.read("0") == wav and len(media) == 1
    assert found[genanki.guid_for("nonestory", "hana", "促す")][5] == ""
    models = json.loads(con.execute("SELECT models FROM col").fetchone()[0])
    decks = json.loads(con.execute("SELECT decks FROM col").fetchone()[0])
    assert str(deck.MODEL_ID) in models and decks[str(deck.deck_id("hana"))]["name"] == "NoneStory::hana"


def test_a_re_export_updates_the_same_notes(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    first = notes(open_apkg(build_deck("hana", [card("把握"), card("促す")]), tmp_path / "a")[0])
    again = notes(open_apkg(build_deck("hana", [card("促す"), card("把握"), card("和やか")]), tmp_path / "b")[0])
    assert set(first) < set(again)  # the same guids, plus the new word's
    assert deck.deck_id("hana") == deck.deck_id("hana") != deck.deck_id("ken")
    assert genanki.guid_for("nonestory", "ken", "把握") not in again


@pytest.mark.parametrize("profile, cards, message", [
    ("hana", [], "Choose at least one word for the deck."),
    ("hana", [card("  ")], "Choose at least one word for the deck."),
    ("  ", [card("把握")], "Open a profile to build its deck."),
])
def test_nothing_to_build_is_one_sentence(profile, cards, message):
    with pytest.raises(DeckError) as err:
        build_deck(profile, cards)
    assert str(err.value) == message


def test_a_file_name_any_system_takes():
    assert deck.file_name("hana") == "NoneStory-hana.apkg"
    assert deck.file_name('a/b:c*"d e') == "NoneStory-a_b_c_d_e.apkg"


def db() -> store.Database:
    return _database(str(settings.paths().db))


def save(text: str, profile: str = "hana", targets: tuple[str, ...] = ()) -> int:
    return store.save_story(db(), analyze(text, targets=targets),
                            store.Story(profile=profile, source="pasted", title=text[:10], targets=targets))


def test_cards_come_from_the_students_stories_then_the_word_list():
    story = save(STORY)
    save("別の人の話を促した。", profile="ken")  # another student's story is never quoted
    got = {c.word: c for c in cards_for(db(), "hana", ["促す", "把握", "和やか", "ふわふわ星人", "促す"])}
    assert list(got) == ["促す", "把握", "和やか", "ふわふわ星人"]
    urge = got["促す"]
    assert (urge.reading, urge.meanings[0], urge.source) == ("うながす", "to urge", f"story #{story}")
    assert urge.sentence == "部長は部下に報告を<b>促し</b>た。"
    assert "<b><ruby>促<rt>うなが</rt></ruby>し</b>" in urge.furigana and "<ruby>部長<rt>ぶちょう</rt></ruby>" in urge.furigana
    assert urge.audio == sentence_wav("部長は部下に報告を促した。")
    assert got["把握"].sentence == "彼は状況を<b>把握</b>していた。"
    calm = got["和やか"]  # in no story of hana's: the word list's example sentence
    assert calm.source == "example sentence" and calm.reading == "なごやか" and "<b>和やか</b>" in calm.sentence
    assert got["ふわふわ星人"] == DeckCard("ふわふわ星人")  # on no list, in no story: the word alone


def test_cards_without_audio_and_a_custom_word_from_a_story():
    save("会議でふわふわ星人を見た。", targets=("ふわふわ星人",))  # a target word: on no list
    (c,) = cards_for(db(), "hana", ["ふわふわ星人"], audio=False)
    assert c.audio is None and c.sentence == "会議で<b>ふわふわ星人</b>を見た。" and c.source.startswith("story")


# --- the Word lists page's panel -------------------------------------------------------------------

@pytest.fixture
def added(monkeypatch) -> list[tuple]:
    """What each download button was given: (bytes, mimetype, file_name)."""
    seen, add = [], MediaFileManager.add

    def spy(self, data, mimetype, coordinates, file_name=None, **kwargs):
        seen.append((data, mimetype, file_name))
        return add(self, data, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", spy)
    return seen


def open_page(profile: str | None = "hana", role: str | None = None) -> AppTest:
    return pages.open_page("wordlists.py", profile, role)


def test_the_panel_builds_a_deck_of_learning_words_and_offers_it(added, tmp_path):
    save(STORY)
    known.set_states(db(), "hana", ["促す", "把握"], "learning", "study")
    known.set_states(db(), "hana", ["部長"], "known", "levels")
    at = open_page()
    assert at.multiselect(key="deck_words").value == ["促す", "把握"]  # the learning words, chosen
    at.toggle(key="deck_add_known").set_value(True).run()
    at.multiselect(key="deck_known_words").set_value(["部長"])
    at.toggle(key="deck_audio").set_value(False)
    at.button(key="deck_build").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "3 cards: 3 with a sentence from your stories."
    assert at.download_button(key="deck_download").label == "Download NoneStory-hana.apkg"
    data, _, name = next(a for a in added if a[2] and a[2].endswith(".apkg"))
    assert name == "NoneStory-hana.apkg"
    con, media, _ = open_apkg(data, tmp_path)
    assert set(notes(con)) == {genanki.guid_for("nonestory", "hana", w) for w in ("促す", "把握", "部長")}
    assert media == {}


def test_an_empty_choice_is_one_line_and_builds_nothing():
    known.set_states(db(), "hana", ["促す"], "learning", "study")
    at = open_page()
    at.multiselect(key="deck_words").set_value([])
    at.button(key="deck_build").click().run()
    assert not at.exception
    assert [i.value for i in at.info] == ["Choose at least one word for the deck."]
    assert not at.download_button


def test_only_a_student_with_an_open_profile_sees_the_panel():
    for at in (open_page(profile=None), open_page(profile=None, role="teacher")):
        assert not [b for b in at.button if b.key == "deck_build"]
