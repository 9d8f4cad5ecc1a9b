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
