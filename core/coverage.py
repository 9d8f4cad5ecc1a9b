"""Personal coverage: how much of a text one student already knows.

- Known share: known running content words ÷ running content words (nouns, verbs, adjectives,
  adverbs, as the score counts them; each occurrence counts, so a known word used ten times
  counts ten times).
- Token miss rate: unknown running words ÷ running words, where running words are every word
  token except symbols and proper nouns, and function words (particles, auxiliaries, する) count
  as known. It is the measure of vocabulary-controlled story generation, and 1 − miss rate is
  the lexical coverage of reading research: 95% known running words for minimal unassisted
  comprehension (Laufer 1989), 98% for comfortable reading (Hu & Nation 2000; Laufer &
  Ravenhorst-Kalovski 2010).
- New words: different headwords in the text the student does not know yet.

A word counts as known only in state "known"; "learning" words are still being learnt.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from core.analysis import Analysis, analyze
from core.i18n import N_
from core.store import Database
from core.store import coverage as stored

# The band names are keys (ADVICE, a learner's plan, the command line's JSON) and stay English;
# they, the advice and the hint are marked for the catalogue and translated where shown, with `_`.
BANDS = ((0.98, N_("98% and above")), (0.95, N_("95–98%")), (0.0, N_("below 95%")))
ADVICE = {"98% and above": N_("comfortable to read alone"),
          "95–98%": N_("readable with some effort: the band for learning new words"),
          "below 95%": N_("hard to follow without a dictionary")}
NO_KNOWN_WORDS = N_("Personal coverage appears once you mark words you know: on the Word lists page "
                    "(\"I already know every word up to N3\", or import a list) or in the word table.")


@dataclass(frozen=True)
class Coverage:
    running_words: int
    content_words: int
    known_content: int
    known_share: float  # 0..1
    miss_rate: float  # 0..1
    new_words: tuple[str, ...]  # listed words first, each kind in the order the text first uses them

    @property
    def band(self) -> str:
        return band(1 - self.miss_rate)


def band(known_running: float) -> str:
    return next(label for floor, label in BANDS if known_running >= floor)


def from_counts(heads: Mapping[str, int], running_words: int, known: Collection[str]) -> Coverage:
    """Coverage from a text's headword counts (Analysis.heads, or a stored story's)."""
    content = sum(heads.values())
    unknown = [w for w in heads if w not in known]
    missed = sum(heads[w] for w in unknown)
    running = max(running_words, content)
    return Coverage(
        running_words=running, content_words=content, known_content=content - missed,
        known_share=round((content - missed) / content, 4) if content else 1.0,
        miss_rate=round(missed / running, 4) if running else 0.0,
        new_words=tuple(unknown),
    )


def personal(a: Analysis, known: Collection[str]) -> Coverage:
    return from_counts(a.heads, a.running_words, known)


def count_old_stories(db: Database, limit: int = 200) -> int:
    """Count the headwords of stories saved before they were counted (a database from before
    migration 6), so they too get a coverage; how many were counted."""
    stories = stored.uncounted(db, limit)
    for story_id, text in stories:
        a = analyze(text)
        stored.set_heads(db, story_id, a.heads, a.running_words)
    return len(stories)
