"""Sentences of a text with their offsets: what the Reader reads aloud one by one, and what a
study card or an Anki card quotes around a word.

A sentence ends at 。！？!? (and a closing quote right after one, 「…。」), or at a line break;
blank pieces are dropped. Offsets are into the original text, so a word's span stays valid.
"""
from __future__ import annotations

from typing import NamedTuple

ENDS = "。！？!?"
OPEN, CLOSE = "「『（(", "」』）)"
QUOTE_LIMIT = 160  # a card quotes at most this many characters around its word


class Sentence(NamedTuple):
    start: int
    end: int
    text: str  # text[start:end], without surrounding whitespace


def _cuts(text: str) -> list[int]:
    """Where sentences end: after a run of 。！？ outside brackets (inside 「…？」と聞いた the
    sentence goes on), after a closing bracket that a line break, the end or another quote
    follows (「はい。」「いいえ。」 is two), and at every line break."""
    cuts, depth, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in OPEN:
            depth += 1
        elif c in CLOSE and depth:
            depth -= 1
            after = text[i + 1:i + 2]
            if not depth and (not after or after in "\n" or after in OPEN):
                cuts.append(i + 1)
        elif c == "\n":
            depth = 0
            cuts.append(i + 1)
        elif c in ENDS and not depth:
            while i + 1 < n and text[i + 1] in ENDS:
                i += 1
            cuts.append(i + 1)
        i += 1
    return cuts + [n]


def sentences(text: str) -> list[Sentence]:
    out, begin = [], 0
    for cut in _cuts(text):
        piece = text[begin:cut]
        stripped = piece.strip()
        if stripped:
            start = begin + len(piece) - len(piece.lstrip())
            out.append(Sentence(start, start + len(stripped), stripped))
        begin = cut
    return out


def sentence_at(text: str, offset: int) -> Sentence | None:
    """The sentence that holds character `offset`, cut to QUOTE_LIMIT characters around it
    (a run-on paragraph with no 。 is still one short quote)."""
    for s in sentences(text):
        if s.start <= offset < s.end:
            if s.end - s.start <= QUOTE_LIMIT:
                return s
            lo = max(s.start, offset - QUOTE_LIMIT // 2)
            hi = min(s.end, lo + QUOTE_LIMIT)
            return Sentence(lo, hi, text[lo:hi])
    return None
