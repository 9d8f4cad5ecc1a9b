"""A teacher's list must find a word wherever the same word at a built-in level is found, with
the reading written the ways teachers write it (long vowels, a trailing う, ず/づ, じ/ぢ),
as a kana-only entry, or under another spelling of the word."""
from __future__ import annotations

import pytest

from core.analysis import analyze, fold
from core.kana import is_kana
from core.wordlists import ListWord
from tests.test_gold import load_gold

LIST = "class-a"


def _word(word: str, reading: str, variants: tuple[str, ...] | None = None) -> ListWord:
    return ListWord(word, variants or (word,), reading, ("a meaning",), 1)


def _spans(text: str, words: list[ListWord]) -> set[tuple[int, int]]:
    return {(m.start, m.end) for m in analyze(text, levels=(), lists={LIST: words}).matches if LIST in m.lists}


def _long_vowels(reading: str) -> str:
    """The reading as a careless list writes it: おう/えい lengthened with ー."""
    return reading.replace("おう", "おー").replace("こう", "こー").replace("そう", "そー").replace("とう", "とー")


def _swap_z(reading: str) -> str:
    return reading.translate(str.maketrans("ずづじぢ", "づずぢじ"))


VARIANTS = {
    "as listed": lambda r: r,
    "trailing う": lambda r: r + "う",
    "long vowel ー": _long_vowels,
    "ず/づ じ/ぢ": _swap_z,
}


def _built_in_n1() -> list[tuple[str, object]]:
    """Every N1 match the built-in level finds in the gold sentences."""
    found = []
    for sentence, _, _ in load_gold("n1_gold.tsv") + load_gold("n1_heldout.tsv"):
        found += [(sentence, m) for m in analyze(sentence, levels=("N1",)).matches if m.level == "N1"]
    return found


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_custom_list_finds_every_built_in_match_with_reading_variants(variant):
    built_in = _built_in_n1()
    assert len(built_in) >= 300
    missed = []
    for sentence, m in built_in:
        reading = VARIANTS[variant](m.reading)
        if (m.start, m.end) not in _spans(sentence, [_word(m.word, reading)]):
            missed.append(f"{m.word} ({reading}) in {sentence}")
    assert not missed, f"{len(missed)} of {len(built_in)} missed:\n" + "\n".join(missed[:20])


def test_custom_list_finds_every_built_in_match_under_each_spelling():
    missed = []
    for sentence, m in _built_in_n1():
        for spelling in m.entry.spellings:
            word = spelling.strip("〜")
            if not spelling.startswith("〜") and not spelling.endswith("〜") and \
                    (m.start, m.end) not in _spans(sentence, [_word(word, m.reading)]):
                missed.append(f"{word} ({m.reading}) in {sentence}")
    assert not missed, "\n".join(missed[:20])


def test_custom_kana_only_entry_finds_the_kanji_and_kana_spellings():
    words = [_word("もたらす", "もたらす"), _word("かつて", "")]
    text = "技術の進歩は社会に大きな変化を齎した。彼はかつて教師だった。新しい風をもたらした。"
    spans = _spans(text, words)
    assert {text[s:e] for s, e in spans} == {"齎し", "かつて", "もたらし"}


@pytest.mark.parametrize("text,word,reading,expected", [
    ("彼女は愛想よく客を迎えた。", "愛想", "あいそう", "愛想"),  # UniDic reads あいそ
    ("事態を収拾するために奔走した。", "奔走", "ほんそお", "奔走"),
    ("少しずつ慣れてきた。", "少しずつ", "すこしづつ", "少しずつ"),
    ("相手の意図を汲み取った。", "汲み取る", "くみとる", "汲み取っ"),
    ("彼は道を近づいてきた。", "近付く", "ちかずく", "近づい"),  # UniDic lemma variant and ず/づ
    ("経験を活かして働く。", "生かす", "いかす", "活かし"),
])
def test_custom_list_reading_and_spelling_tolerance(text, word, reading, expected):
    spans = _spans(text, [_word(word, reading)])
    assert {text[s:e] for s, e in spans} == {expected}


def test_custom_list_tolerance_does_not_join_different_words():
    # 見込む (verb) and 見込み (noun) differ by a kana; folding must not make them one.
    text = "合格の見込みは十分ある。"
    assert _spans(text, [_word("見込む", "みこむ")]) == set()
    # a katakana name is not a teacher's kanji word
    assert _spans("エリは笑った。", [_word("襟", "えり")]) == set()


def test_fold_joins_ways_of_writing_one_reading_only():
    assert fold("あいそう") == fold("あいそ") == fold("あいそー")
    assert fold("ほんそう") == fold("ほんそお")
    assert fold("すこしづつ") == fold("すこしずつ")
    assert fold("はなぢ") == fold("はなじ")
    assert fold("けいざい") == fold("けえざい")
    assert fold("かく") != fold("かう") and fold("みこむ") != fold("みこみ")
    assert all(is_kana(fold(r)) for r in ("りょう", "ちゅうい", "がっこう"))
