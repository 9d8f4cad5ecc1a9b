"""An `Analysis` as one JSON document (`python -m core analyze --json`), and back.

A 1M-character text has ~250,000 matches but only ~5,000 distinct words, so each word's
record (headword, reading, level, meanings, lists) is written once in `words` and every
match is a short array pointing at it:

    {"format": "nonestory-analysis", "version": 2, "text": "...",
     "words": [{"word", "reading", "level", "meanings", "source", "lists", "targets"}, ...],
     "matches": [[start, end, word], [start, end, word, ruby], ...], "score": {...}}

`start`/`end` index `text` (the input as decoded, newlines normalised); `word` indexes
`words`; `ruby` (the occurrence's reading, hiragana) is present only where it differs from
the word's `reading` (促し reads うながし, the headword 促す うながす). The README documents
the schema; version 1 was the unversioned format that repeated every field in every match.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from core.analysis import Analysis, Match, collector_paused

FORMAT = "nonestory-analysis"
VERSION = 2


class AnalysisJSONError(ValueError):
    """A document this module cannot read, in one sentence."""


class MatchRecord(NamedTuple):
    """One match read back from a document: its span and its word's fields, flattened."""

    start: int
    end: int
    surface: str
    ruby: str
    word: str
    reading: str
    level: str
    meanings: tuple[str, ...]
    source: str
    lists: tuple[str, ...]
    targets: tuple[str, ...]


class _Words(dict):
    """(sense, ruby) -> the encoded tail of a match row (',3]' or ',3,"うながし"]'), adding
    the sense to `records` the first time it is met. Encoding each pair once is what keeps
    writing cheap: a row then costs one dict lookup and one f-string."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict = {}
        self.records: list[dict] = []

    def __missing__(self, key: tuple) -> str:
        sense, ruby = key
        w = self.ids.get(sense)
        if w is None:
            w = self.ids[sense] = len(self.records)
            e = sense.entry
            self.records.append({"word": e.word, "reading": e.reading, "level": sense.level,
                                 "meanings": list(e.meanings), "source": e.source, "lists": list(sense.lists),
                                 "targets": list(sense.targets)})
        tail = self[key] = f",{w}]" if ruby == sense.entry.reading else f",{w},{_dumps(ruby)}]"
        return tail


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def dumps(analysis: Analysis) -> str:
    """The document as one line of JSON (no trailing newline)."""
    words = _Words()
    # Right after an analysis the heap holds millions of young objects, so the next collection
    # would be a full pass over them (~0.15 s, as long as writing the rows) that frees nothing.
    with collector_paused():
        rows = _rows(analysis.matches, words)
        return (f'{{"format": "{FORMAT}", "version": {VERSION}, "text": {_dumps(analysis.text)}, '
                f'"words": {_dumps(words.records)}, "matches": [{rows}], '
                f'"score": {_dumps(analysis.score.to_json())}}}')


def _rows(matches: Sequence[Match], words: _Words, batch: int = 4096) -> str:
    # In batches: a quarter of a million row strings alive at once cost more in fresh memory
    # than in formatting; a batch's strings are freed and their memory reused by the next.
    return ",".join([",".join([f"[{m.start},{m.end}{words[m.sense, m.ruby]}" for m in matches[i:i + batch]])
                     for i in range(0, len(matches), batch)])


def to_json(analysis: Analysis) -> dict:
    """The document as Python objects. Parsed from `dumps` so the two can never disagree."""
    return json.loads(dumps(analysis))


def read_matches(doc: dict) -> list[MatchRecord]:
    """Every match of a parsed document, with its word's fields and its surface text."""
    found = _found(doc)
    if found:
        raise AnalysisJSONError(f"Expected a {FORMAT} document of version {VERSION}, found {found}; "
                                "re-run `python -m core analyze --json` to get the current format.")
    text, words = doc["text"], doc["words"]
    out = []
    for start, end, w, *ruby in doc["matches"]:
        word = words[w]
        out.append(MatchRecord(start, end, text[start:end], ruby[0] if ruby else word["reading"], word["word"],
                               word["reading"], word["level"], tuple(word["meanings"]), word["source"],
                               tuple(word["lists"]), tuple(word["targets"])))
    return out


def _found(doc: object) -> str:
    """'' when `doc` is a document of this version, else what it is instead."""
    if not isinstance(doc, dict) or ("format" in doc and doc["format"] != FORMAT):
        return "something else"
    if "version" not in doc:
        return "an unversioned (version 1) document" if "matches" in doc else "something else"
    return "" if doc["version"] == VERSION else f"version {doc['version']!r}"


__all__ = ["FORMAT", "VERSION", "AnalysisJSONError", "MatchRecord", "dumps", "read_matches", "to_json"]
