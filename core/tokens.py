"""fugashi + unidic-lite tokenization with character offsets, for input of any size.

MeCab crashes the whole process on a single string of about 1.5 million characters, so
text is cut into chunks at paragraph and sentence ends before it reaches the tagger.

Speed: fugashi's node objects (`node.feature` parses 29 CSV fields in Python) cost more than
MeCab itself. Instead MeCab prints one string per chunk (each morpheme's leading whitespace,
surface and feature CSV), and running text repeats the same few thousand morphemes, so each
distinct record is parsed once into a `Morph` shared by every token that has it.
"""
from __future__ import annotations

import csv
import functools
from collections.abc import Iterator

import fugashi

from core.kana import hira, is_kana
from core.pos import is_content

MAX_CHUNK = 8_000  # characters handed to MeCab at once; far below the crash size
_SENTENCE_ENDS = "。！？!?．"
_MEMO_LIMIT = 300_000  # distinct morphemes kept; unidic-lite has about this many entries



_NOT_RUNNING = frozenset({"補助記号", "記号", "空白"})


class Morph:
    """What the dictionary says of one morpheme; shared by all its tokens. Readings are
    hiragana; `lemma` has UniDic's '-gloss' suffix removed (私-代名詞 -> 私)."""

    __slots__ = ("pos1", "pos2", "lemma", "lform", "orth_base", "kana", "kana_base", "goshu", "readings",
                 "base_readings", "content", "running", "person", "glue", "surface")

    def __init__(self, pos1: str, pos2: str, lemma: str, lform: str, orth_base: str, kana: str,
                 kana_base: str, goshu: str):
        self.pos1, self.pos2, self.lemma, self.goshu = pos1, pos2, lemma, goshu
        self.lform, self.orth_base, self.kana, self.kana_base = hira(lform), orth_base, hira(kana), hira(kana_base)
        # Dictionary-form readings; `readings` adds the surface reading (a nominalised stem
        # such as 自惚れ reads as its noun).
        self.base_readings = frozenset(r for r in (self.lform, self.kana_base, hira(orth_base)) if r)
        self.readings = self.base_readings | ({self.kana} if self.kana else set())
        self.content = is_content(pos1, pos2, lemma, bool(lform or kana))
        # A running word for coverage: not a symbol, punctuation or space, not a proper noun.
        self.running = pos1 not in _NOT_RUNNING and pos2 != "固有名詞"
        self.person = False  # a person's name or part of one (UniDic: 固有名詞,人名)
        self.glue = 0  # GLUE_* bits: what this morpheme says about a word written against it
        self.surface = ""  # as written: a Morph is made per MeCab record, which includes the surface

    def __repr__(self) -> str:
        return f"Morph({self.lemma}/{self.pos1}/{self.kana})"


# What a morpheme tells about the word written right against it (see analysis._stray): a
# name part (翔 in 翔太; 乃, only ever a name part now) makes a lone kanji beside it part of the
# name; a lone kana UniDic could not place (ひ|まり) makes the kana beside it a fragment too.
GLUE_NAME, GLUE_KANA = 1, 2
_GLUE_KANA_POS = frozenset({"名詞", "記号"})


# A token is a plain tuple (surface, start, end, morph) with text[start:end] == surface:
# a NamedTuple's Python-level constructor alone would cost 15% of tokenization.
Token = tuple  # (str, int, int, Morph)
SURFACE, START, END, MORPH = 0, 1, 2, 3


@functools.cache
def tagger() -> fugashi.Tagger:
    """fugashi's UniDic tagger with node objects, for callers that want fugashi's own API."""
    return fugashi.Tagger()


# MeCab writes each morpheme as its preceding whitespace, its surface and its whole feature
# CSV (%H: cheaper for MeCab than picking fields with %f[N]); ASCII record/unit separators keep
# that unambiguous (they are blanked out of the input first). A record (surface + features)
# names one morpheme and is parsed once; the whitespace gives each token's offset without
# searching the text for it.
_F, _R = "\x1f", "\x1e"
# NUL too: MeCab reads a C string, so everything after one would be silently dropped.
_BLANK_SEPARATORS = str.maketrans(_F + _R + "\0", "   ")
# UniDic feature columns we read: pos1, pos2, pos3, lForm, lemma, orthBase, goshu, kana, kanaBase
_POS1, _POS2, _POS3, _LFORM, _LEMMA, _ORTH_BASE, _GOSHU, _KANA, _KANA_BASE = 0, 1, 2, 6, 7, 10, 12, 17, 18
_NEEDED = _KANA_BASE + 1


@functools.cache
def _fast_tagger() -> fugashi.GenericTagger:
    import unidic_lite

    node = f"%pS{_R}%m{_F}%H{_R}"
    # An empty output-format-type makes MeCab use our formats instead of the dicrc's.
    return fugashi.GenericTagger(f"-d {unidic_lite.DICDIR} -r /dev/null --output-format-type= "
                                 f"--node-format={node} --unk-format={node} --eos-format=")


_memo: dict[str, Morph] = {}


def _features(csv_line: str) -> list[str]:
    f = csv_line.split(",", _NEEDED)
    if '"' in csv_line and any(x.startswith('"') for x in f[:_NEEDED]):
        f = next(csv.reader([csv_line]))  # a quoted field holding a comma (the lemma of ，)
    f = ["" if x == "*" else x for x in f[:_NEEDED]]  # UniDic's "*" is an empty column
    return f + [""] * (_NEEDED - len(f))  # unknown words and symbols have fewer columns


def _morph(record: str) -> Morph:
    surface, _, csv_line = record.partition(_F)
    f = _features(csv_line)
    if f[_LEMMA]:
        m = Morph(f[_POS1], f[_POS2] or "*", f[_LEMMA].partition("-")[0] or f[_LEMMA], f[_LFORM],
                  f[_ORTH_BASE], f[_KANA], f[_KANA_BASE], f[_GOSHU])
    else:  # unknown to the dictionary: no lemma or reading
        m = Morph(f[_POS1], f[_POS2] or "*", surface, "", surface, "", "", "")
    m.person, m.surface = f[_POS3] == "人名", surface
    m.glue = (GLUE_NAME if m.person or surface == "乃" else 0) | (
        GLUE_KANA if len(surface) == 1 and m.pos1 in _GLUE_KANA_POS and is_kana(surface) else 0)
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
    _memo[record] = m
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
    """Every morpheme of `text` with its span (text[start:end] == surface)."""
    out: list[Token] = []
    for offset, piece in chunks(text):
        out += tokenize_piece(piece, offset)
    return out


def tokenize_piece(piece: str, offset: int = 0) -> list[Token]:
    """Tokens of one chunk (at most MAX_CHUNK characters), spans shifted by `offset`."""
    out: list[Token] = []
    append, memo_get = out.append, _memo.get
    if _F in piece or _R in piece or "\0" in piece:
        piece = piece.translate(_BLANK_SEPARATORS)  # same length: offsets stay right
    parts = _fast_tagger().parse(piece).split(_R)
    pos = offset
    for space, record in zip(parts[0::2], parts[1::2]):  # the last part is the empty tail
        m = memo_get(record) or _morph(record)
        start = pos + len(space)
        surface = m.surface
        pos = start + len(surface)
        append((surface, start, pos, m))
    return out
