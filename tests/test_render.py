"""HTML rendering: every piece of text escaped, levels coloured, furigana on demand."""
from __future__ import annotations

import re

import pytest

from core.analysis import analyze
from core.render import page, render_text, ruby

ATTACKS = ["<script>alert(1)</script>", '<img src=x onerror="alert(2)">', "</ruby></div><b>x</b>",
           "\" onmouseover=\"alert(3)", "&lt;script&gt;"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_markup_in_text_is_escaped_never_live(attack):
    html = render_text(analyze(f"彼は状況を把握した。{attack}促した。"), furigana=True)
    assert "<script" not in html and "<img" not in html and "<b>x" not in html
    assert 'onmouseover="' not in html
    # the text itself survives, escaped, so the reader sees exactly what was pasted
    import html as html_mod
    assert attack in html_mod.unescape(re.sub(r"<[^>]+>", "", html))


def test_n1_words_marked_bold_with_level_and_tooltip():
    html = render_text(analyze("部下に報告を促した。"))
    assert 'class="ns-w ns-N1"' in html and 'data-word="促す"' in html
    assert 'class="ns-tip"' in html and "to urge" in html
    assert 'tabindex="0"' in html  # a tap focuses the word and shows the tooltip on phones


def test_unselected_levels_are_not_marked():
    html = render_text(analyze("部長は部下に報告を促した。"), levels=["N1"])
    assert "ns-N4" not in html and "ns-N3" not in html and "ns-N1" in html


@pytest.mark.parametrize("surface, reading, expected", [
    ("促し", "うながし", "<ruby>促<rt>うなが</rt></ruby>し"),
    ("和やか", "なごやか", "<ruby>和<rt>なご</rt></ruby>やか"),
    ("把握", "はあく", "<ruby>把握<rt>はあく</rt></ruby>"),
    ("お茶", "おちゃ", "お<ruby>茶<rt>ちゃ</rt></ruby>"),
    ("あえて", "あえて", "あえて"),
])
def test_ruby_covers_only_the_kanji(surface, reading, expected):
    assert expected in ruby(surface, reading)


def test_furigana_appears_only_when_asked():
    a = analyze("状況を把握した。")
    assert "<rt>" not in render_text(a)
    assert "<ruby>把握<rt>はあく</rt></ruby>" in render_text(a, furigana=True)


def test_page_is_a_complete_document_for_phones():
    html = page(analyze("把握"), title="<x>")
    assert html.startswith("<!doctype html>") and 'name="viewport"' in html and "&lt;x&gt;" in html


def test_words_on_a_chosen_custom_list_show_as_the_list_even_when_they_are_jlpt_words():
    from core.analysis import analyze
    from core.render import render_text
    from core.wordlists import ListWord

    lists = {"クラスA": [ListWord("愛想", ("愛想",), "あいそう", ("amiability",), 1)]}
    a = analyze("彼女は愛想よく客を迎えた。", levels=(), lists=lists)
    html = render_text(a, levels=())  # no JLPT level chosen, only the teacher's list
    assert 'class="ns-w ns-list"' in html and ">愛想<" in html
    assert "クラスA · N1" in html  # the tooltip names the list and the word's level


def test_spreadsheet_errors_are_never_shown_as_meanings():
    from core import vocab

    entries = [e for e in vocab.jlpt().entries if e.word in ("畳", "歳", "ヶ月")]
    assert entries and all("#NAME?" not in e.meanings for e in entries)


def test_the_colour_key_names_the_chosen_levels_and_lists_in_their_colours():
    from core.render import legend
    from core.wordlists import ListWord

    a = analyze("部長は部下に報告を促した。", lists={"class-a": [ListWord("報告", ("報告",), "ほうこく", ("report",), 2)]},
                targets=["促す"])
    html = legend(["N1", "N3"], a)
    assert html.index(">N3<") < html.index(">N1<")  # easiest first, as the text reads
    assert 'class="ns-key ns-N3"' in html and "custom list" in html and "target word" in html
    assert ">N2<" not in html and legend([], analyze("")) == ""


def test_no_meaning_in_the_index_is_cut_inside_brackets():
    from core import vocab

    cut = [(e.word, m) for e in vocab.jlpt().entries for m in e.meanings if m.count("(") != m.count(")")]
    assert cut == []


# --- furigana for every word above a level -------------------------------------------------------

def readings(html: str) -> dict[str, str]:
    """Each <ruby> base -> its reading, in the order they appear."""
    return dict(re.findall(r"<ruby>([^<]+)<rt>([^<]+)</rt></ruby>", html))


STORY = "部長は部下に報告を促した。老舗の店に転入した。"


@pytest.mark.parametrize("above, got, none", [
    # 報告 is N3, 部長 N4, 部下 and 促す N1; 老舗 and 転入 are on no list: above every level
    ("N3", {"部下": "ぶか", "促": "うなが", "老舗": "しにせ", "転入": "てんにゅう"}, ["報告", "部長", "店"]),
    ("N1", {"老舗": "しにせ", "転入": "てんにゅう"}, ["部下", "促", "報告"]),
    ("N5", {"部長": "ぶちょう", "部下": "ぶか", "報告": "ほうこく", "転入": "てんにゅう"}, ["店"]),
    ("all", {"部長": "ぶちょう", "店": "みせ", "老舗": "しにせ"}, []),
])
def test_words_above_the_chosen_level_get_readings_highlighted_or_not(above, got, none):
    html = render_text(analyze(STORY), levels=["N1"], furigana=above)
    found = readings(html)
    assert got.items() <= found.items()
    assert not set(none) & set(found)
    assert html.count('class="ns-w') == 2  # still only the chosen level (N1) is marked


def test_furigana_off_or_for_highlighted_words_is_as_before():
    a = analyze(STORY)
    assert "<rt>" not in render_text(a, levels=["N1"])
    assert set(readings(render_text(a, levels=["N1"], furigana=True))) == {"部下", "促"}


@pytest.mark.parametrize("text, expected", [
    ("食べる", "<ruby>食<rt>た</rt></ruby>べる"),  # okurigana stays outside
    ("荷物の取り扱いに注意", "<ruby>取<rt>と</rt></ruby>り<ruby>扱<rt>あつか</rt></ruby>い"),
    ("お茶を飲む", "お<ruby>茶<rt>ちゃ</rt></ruby>を<ruby>飲<rt>の</rt></ruby>む"),
])
def test_readings_cover_only_the_kanji(text, expected):
    assert expected in render_text(analyze(text), levels=[], furigana="all")


@pytest.mark.parametrize("text, bare", [
    ("三人で2024年に三本の木を植えた。", ["三", "人", "2024", "年", "本"]),  # numbers and their counters
    ("「把握」、！？", ["「", "」", "、"]),
    ("翔太は笑った。", ["翔太"]),  # a name: UniDic's reading is one guess of several
    ("何を食べる？", ["何"]),  # なに or なん: MeCab guesses
])
def test_numbers_symbols_names_and_guesses_get_no_reading(text, bare):
    found = readings(render_text(analyze(text), levels=[], furigana="all"))
    assert not set(bare) & set(found)


def test_words_between_unmarked_words_are_read_in_a_long_text():
    text = "。".join(["老舗の店に転入した"] * 3000)  # past one tokenizer chunk (8,000 characters)
    html = render_text(analyze(text), levels=["N1"], furigana="N1")
    assert html.count("<ruby>老舗<rt>しにせ</rt></ruby>") == 3000


@pytest.mark.parametrize("attack", ATTACKS)
def test_markup_is_escaped_with_readings_over_every_word(attack):
    html = render_text(analyze(f"老舗に転入した。{attack}促した。"), furigana="all")
    assert "<script" not in html and "<img" not in html and "<b>x" not in html and 'onmouseover="' not in html
    import html as html_mod
    assert attack in html_mod.unescape(re.sub(r"<rt>[^<]*</rt>|<[^>]+>", "", re.sub(
        r'<span class="ns-tip".*?</span></span>', "", html)))


def test_an_unknown_furigana_mode_is_a_bug():
    with pytest.raises(ValueError):
        render_text(analyze("把握"), furigana="N6")


def test_a_card_sentence_marks_its_word_and_reads_its_kanji():
    from core.render import card_sentence

    text = "部長は部下に報告を<促した>。"
    assert card_sentence(text, 10, 12) == "部長は部下に報告を&lt;<b>促し</b>た&gt;。"
    html = card_sentence(text, 10, 12, "うながし", furigana=True)
    assert "<b><ruby>促<rt>うなが</rt></ruby>し</b>" in html and "<ruby>部長<rt>ぶちょう</rt></ruby>" in html
    assert "&lt;" in html and "<促" not in html
    assert "<b>" not in card_sentence(text, 5, 99)  # a span outside the sentence marks nothing
