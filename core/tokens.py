"""fugashi + unidic-lite tokenization with character offsets, for input of any size.

MeCab crashes the whole process on a single string of about 1.5 million characters, so
text is cut into chunks at paragraph and sentence ends before it reaches the tagger.

Reading `node.feature` builds a 29-field namedtuple through Python-level CSV parsing and
costs more than the tokenization itself; the fields we need all come before the first
field that can hold a quoted comma (the accent types), so `feature_raw.split` is exact
for them and several times cheaper.
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import fugashi

MAX_CHUNK = 8_000  # characters handed to MeCab at once; far below the crash size
_SENTENCE_ENDS = "。！？!?．"

# Indexes into UniDic's feature CSV (unidic-lite, 29 fields).
POS1, POS2, LFORM, LEMMA, ORTH_BASE, GOSHU, KANA, KANA_BASE = 0, 1, 6, 7, 10, 12, 17, 18
_NEEDED = 19


@dataclass(slots=True)
class Token:
    """One morpheme. Readings are UniDic's katakana; `lemma` has UniDic's '-gloss' removed."""

    surface: str
    start: int
    end: int
    pos1: str
    pos2: str
    lemma: str
    lform: str
    orth_base: str
    kana: str
    kana_base: str
    goshu: str


@functools.cache
def tagger() -> fugashi.Tagger:
    """One tagger per process: creating it loads the dictionary."""
    return fugashi.Tagger()


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


def split_feature(node) -> list[str]:
    """The first 19 UniDic fields of a node; [] past pos fields for unknown words."""
    surface = node.surface
    if "," in surface or '"' in surface:
        return list(node.feature)  # the surface is quoted in the CSV: let fugashi parse it
    return node.feature_raw.split(",", _NEEDED)


def tokenize(text: str) -> list[Token]:
    """Every morpheme of `text` with its span; text[t.start:t.end] == t.surface."""
    out: list[Token] = []
    tag = tagger()
    for offset, piece in chunks(text):
        pos = offset
        for node in tag(piece):
            surface = node.surface
            pos += len(node.white_space)
            f = split_feature(node)
            if len(f) > KANA_BASE:
                lemma = f[LEMMA].partition("-")[0] or f[LEMMA]
                out.append(Token(surface, pos, pos + len(surface), f[POS1], f[POS2], lemma,
                                 f[LFORM], f[ORTH_BASE], f[KANA], f[KANA_BASE], f[GOSHU]))
            else:  # unknown word: no lemma or reading in the dictionary
                out.append(Token(surface, pos, pos + len(surface), f[POS1], f[POS2] if len(f) > 1 else "*",
                                 surface, "", surface, "", "", ""))
            pos += len(surface)
    return out
