"""fugashi + unidic-lite tokenization with character offsets, for input of any size.

MeCab crashes the whole process on a single string of about 1.5 million characters, so
text is cut into chunks at paragraph and sentence ends before it reaches the tagger.

Speed: reading `node.feature` builds a 29-field namedtuple through Python-level CSV parsing
and costs more than MeCab itself. Everything we need about a morpheme is fixed by its
`feature_raw` string, and running text repeats the same few thousand morphemes, so each
distinct string is parsed once into a `Morph` and shared by every token that has it.
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import NamedTuple

import fugashi

from core.kana import hira
from core.pos import is_content

MAX_CHUNK = 8_000  # characters handed to MeCab at once; far below the crash size
_SENTENCE_ENDS = "。！？!?．"
_MEMO_LIMIT = 300_000  # distinct morphemes kept; unidic-lite has about this many entries

# Indexes into UniDic's feature CSV (unidic-lite, 29 fields).
POS1, POS2, LFORM, LEMMA, ORTH_BASE, GOSHU, KANA, KANA_BASE = 0, 1, 6, 7, 10, 12, 17, 18


class Morph:
    """What the dictionary says of one morpheme; shared by all its tokens. Readings are
    hiragana; `lemma` has UniDic's '-gloss' suffix removed (私-代名詞 -> 私)."""

    __slots__ = ("pos1", "pos2", "lemma", "lform", "orth_base", "kana", "kana_base", "goshu", "readings",
                 "content")

    def __init__(self, pos1: str, pos2: str, lemma: str, lform: str, orth_base: str, kana: str,
                 kana_base: str, goshu: str):
        self.pos1, self.pos2, self.lemma, self.goshu = pos1, pos2, lemma, goshu
        self.lform, self.orth_base, self.kana, self.kana_base = hira(lform), orth_base, hira(kana), hira(kana_base)
        # Dictionary-form readings, plus the surface reading for nominalised stems (自惚れ).
        self.readings = frozenset(r for r in (self.lform, self.kana_base, hira(orth_base), self.kana) if r)
        self.content = is_content(pos1, pos2, lemma, bool(lform or kana))

    def __repr__(self) -> str:
        return f"Morph({self.lemma}/{self.pos1}/{self.kana})"


class Token(NamedTuple):
    """One morpheme occurrence: text[start:end] == surface."""

    surface: str
    start: int
    end: int
    morph: Morph

    pos1 = property(lambda self: self.morph.pos1)
    pos2 = property(lambda self: self.morph.pos2)
    lemma = property(lambda self: self.morph.lemma)
    kana = property(lambda self: self.morph.kana)
    goshu = property(lambda self: self.morph.goshu)


@functools.cache
def tagger() -> fugashi.Tagger:
    """One tagger per process: creating it loads the dictionary."""
    return fugashi.Tagger()


_memo: dict[str, Morph] = {}


def morph_of(node) -> Morph:
    raw = node.feature_raw
    m = _memo.get(raw)
    if m is not None:
        return m
    surface = node.surface
    if "," in surface or '"' in surface:  # the CSV quotes such surfaces: let fugashi parse it
        f = [x or "" for x in node.feature]
    else:
        f = raw.split(",", KANA_BASE + 1)
    if len(f) <= KANA_BASE:  # unknown word: the features are generic, so do not memoise
        return Morph(f[POS1], f[POS2] if len(f) > 1 else "*", surface, "", surface, "", "", "")
    lemma = f[LEMMA].partition("-")[0] or f[LEMMA]
    m = Morph(f[POS1], f[POS2], lemma, f[LFORM], f[ORTH_BASE], f[KANA], f[KANA_BASE], f[GOSHU])
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
    _memo[raw] = m
    return m


def chunks(text: str, size: int = MAX_CHUNK) -> Iterator[tuple[int, str]]:
    """(offset, piece) pairs covering `text`, cut after a newline or sentence end when
    one exists in the second half of the window, else after whitespace, else anywhere."""
    pos, n = 0, len(text)
    while pos < n:
        end = min(pos + size, n)
        if end < n:
            end = _cut_point(text, pos + size // 2, end)
        yield pos, text[pos:end]
        pos = end


def _cut_point(text: str, lo: int, hi: int) -> int:
    cut = text.rfind("\n", lo, hi)
    if cut < 0:
        cut = max(text.rfind(c, lo, hi) for c in _SENTENCE_ENDS)
    if cut < 0:
        cut = max(text.rfind(" ", lo, hi), text.rfind("\u3000", lo, hi))
    return cut + 1 if cut >= 0 else hi


def tokenize(text: str) -> list[Token]:
    """Every morpheme of `text` with its span."""
    out: list[Token] = []
    append, tag, memo_get, new = out.append, tagger(), _memo.get, Token
    for offset, piece in chunks(text):
        pos = offset
        for node in tag(piece):
            surface = node.surface
            ws = node.white_space
            if ws:
                pos += len(ws)
            end = pos + len(surface)
            append(new(surface, pos, end, memo_get(node.feature_raw) or morph_of(node)))
            pos = end
    return out
