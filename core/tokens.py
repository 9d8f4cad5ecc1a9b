"""fugashi + unidic-lite tokenization with character offsets, for input of any size.

MeCab crashes the whole process on a single string of about 1.5 million characters, so
text is cut into chunks at paragraph and sentence ends before it reaches the tagger.

Speed: fugashi's node objects (`node.feature` parses 29 CSV fields in Python) cost more than
MeCab itself. Instead MeCab prints only the fields we need, one string per chunk, and running
text repeats the same few thousand morphemes, so each distinct record is parsed once into a
`Morph` shared by every token that has it.
"""
from __future__ import annotations

import functools
from collections.abc import Iterator

import fugashi

from core.kana import hira
from core.pos import is_content

MAX_CHUNK = 8_000  # characters handed to MeCab at once; far below the crash size
_SENTENCE_ENDS = "。！？!?．"
_MEMO_LIMIT = 300_000  # distinct morphemes kept; unidic-lite has about this many entries



class Morph:
    """What the dictionary says of one morpheme; shared by all its tokens. Readings are
    hiragana; `lemma` has UniDic's '-gloss' suffix removed (私-代名詞 -> 私)."""

    __slots__ = ("pos1", "pos2", "lemma", "lform", "orth_base", "kana", "kana_base", "goshu", "readings",
                 "base_readings", "content", "person")

    def __init__(self, pos1: str, pos2: str, lemma: str, lform: str, orth_base: str, kana: str,
                 kana_base: str, goshu: str):
        self.pos1, self.pos2, self.lemma, self.goshu = pos1, pos2, lemma, goshu
        self.lform, self.orth_base, self.kana, self.kana_base = hira(lform), orth_base, hira(kana), hira(kana_base)
        # Dictionary-form readings; `readings` adds the surface reading (a nominalised stem
        # such as 自惚れ reads as its noun).
        self.base_readings = frozenset(r for r in (self.lform, self.kana_base, hira(orth_base)) if r)
        self.readings = self.base_readings | ({self.kana} if self.kana else set())
        self.content = is_content(pos1, pos2, lemma, bool(lform or kana))
        self.person = False  # a person's name or part of one (UniDic: 固有名詞,人名)

    def __repr__(self) -> str:
        return f"Morph({self.lemma}/{self.pos1}/{self.kana})"


# A token is a plain tuple (surface, start, end, morph) with text[start:end] == surface:
# a NamedTuple's Python-level constructor alone would cost 15% of tokenization.
Token = tuple  # (str, int, int, Morph)
SURFACE, START, END, MORPH = 0, 1, 2, 3


@functools.cache
def tagger() -> fugashi.Tagger:
    """fugashi's UniDic tagger with node objects, for callers that want fugashi's own API."""
    return fugashi.Tagger()


# MeCab formats each morpheme itself (C speed) with only the fields we read: surface, pos1,
# pos2, lForm, lemma, orthBase, goshu, kana, kanaBase, pos3. ASCII unit/record separators keep the
# output unambiguous; they are blanked out of the input first.
_F, _R = "\x1f", "\x1e"
_FIELDS = ("%m", "%f[0]", "%f[1]", "%f[6]", "%f[7]", "%f[10]", "%f[12]", "%f[17]", "%f[18]", "%f[2]")
_BLANK_SEPARATORS = str.maketrans(_F + _R, "  ")


@functools.cache
def _fast_tagger() -> fugashi.GenericTagger:
    import unidic_lite

    node = _F.join(_FIELDS) + _R
    unk = _F.join(("%m", "%f[0]", "%f[1]") + ("",) * 7) + _R
    # An empty output-format-type makes MeCab use our formats instead of the dicrc's.
    return fugashi.GenericTagger(f"-d {unidic_lite.DICDIR} -r /dev/null --output-format-type= "
                                 f"--node-format={node} --unk-format={unk} --eos-format=")


_memo: dict[str, Morph] = {}


def _morph(record: str, surface: str) -> Morph:
    f = record.split(_F)
    f += [""] * (len(_FIELDS) - len(f))  # MeCab stops at the first field an entry lacks (。 has no kana)
    if f[4]:
        m = Morph(f[1], f[2] or "*", f[4].partition("-")[0] or f[4], f[3], f[5], f[7], f[8], f[6])
    else:  # unknown to the dictionary: no lemma or reading
        m = Morph(f[1], f[2] or "*", surface, "", surface, "", "", "")
    m.person = f[9] == "人名"
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
    if _F in piece or _R in piece:
        piece = piece.translate(_BLANK_SEPARATORS)  # same length: offsets stay right
    pos, find = 0, piece.find
    for record in _fast_tagger().parse(piece).split(_R):
        if not record:
            continue
        surface = record[:record.index(_F)]
        start = find(surface, pos)
        pos = start + len(surface)
        append((surface, offset + start, offset + pos, memo_get(record) or _morph(record, surface)))
    return out
