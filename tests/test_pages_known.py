"""The Word lists page's "Words I know" (AppTest): a student marks levels as known and imports
a list of known words; bad files get one sentence; staff and students without a profile do not
see it."""
from __future__ import annotations


from streamlit.testing.v1 import AppTest

from core import settings
from core.store import known
from core.vocab import level_words
from tests import pages
from views.common import _database



def open_page(profile: str | None = "hana", role: str | None = None) -> AppTest:
    return pages.open_page("wordlists.py", profile, role)


def db():
    return _database(str(settings.paths().db))


def test_marking_every_word_up_to_a_level_makes_them_known():
    at = open_page()
    at.selectbox(key="known_up_to").set_value("N4")
    at.button(key="known_levels_go").click().run()
    expected = set(level_words("N5")) | set(level_words("N4"))
    assert known.known_words(db(), "hana") == expected
    assert [s.value for s in at.success] == [f"Marked every word up to N4 as known: {len(expected):,} newly known."]
    assert any(f"Known: {len(expected):,}" in c.value for c in at.caption)
    at.button(key="known_levels_go").click().run()  # again: nothing new
    assert at.success[0].value.endswith(f"0 newly known, {len(expected):,} already were.")


def test_an_imported_file_stores_headwords_and_a_bad_file_is_one_sentence():
    at = open_page()
    at.file_uploader(key="known_file").set_value(("mine.txt", "促した\n把握、和やか\n".encode(), "text/plain"))
    at.button(key="known_import_go").click().run()
    assert known.known_words(db(), "hana") == {"促す", "把握", "和やか"}  # 促した is stored as 促す
    assert "Marked the 3 words of mine.txt as known" in at.success[0].value
    at.file_uploader(key="known_file").set_value(("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "text/plain"))  # renamed image
    at.button(key="known_import_go").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["This file is not a list of words; upload a .txt or .csv file, "
                                           "or Anki's \"Notes in Plain Text\" export."]
    assert known.known_words(db(), "hana") == {"促す", "把握", "和やか"}  # what was saved stays


def test_only_a_student_with_an_open_profile_sees_it():
    for at in (open_page(profile=None), open_page(profile=None, role="teacher")):
        assert not [b for b in at.button if b.key == "known_levels_go"]
    assert known.state_counts(db(), "hana") == {"learning": 0, "known": 0}
