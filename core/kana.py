"""Small, fast character-class helpers (str.translate and sets, no per-character Python loops
on the hot path)."""
from __future__ import annotations

_KATA = "".join(chr(c) for c in range(ord("ァ"), ord("ヶ") + 1))
_HIRA = "".join(chr(c - 0x60) for c in range(ord("ァ"), ord("ヶ") + 1))
_TO_HIRA = str.maketrans(_KATA, _HIRA)
_KANA = set(_KATA) | set(_HIRA) | set("ーゝゞヽヾ・ヷヸヹヺ")


def hira(text: str) -> str:
    """Katakana to hiragana (ヵ/ヶ included); everything else unchanged."""
    return text.translate(_TO_HIRA)


def is_kanji(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF \
        or 0x20000 <= o <= 0x2FFFF or ch in "々〆ヶ"


def is_kana(text: str) -> bool:
    """True for a non-empty string of kana (and the long-vowel mark) only."""
    return bool(text) and all(c in _KANA for c in text)


_KATAKANA = set(_KATA) | set("ーヽヾ・ヷヸヹヺ")


def is_katakana(text: str) -> bool:
    """True for a non-empty string of katakana (and ー) only."""
    return bool(text) and all(c in _KATAKANA for c in text)


def has_kanji(text: str) -> bool:
    return any(is_kanji(c) for c in text)


def kanji_of(text: str) -> set[str]:
    return {c for c in text if is_kanji(c)}
