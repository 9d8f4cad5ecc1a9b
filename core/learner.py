"""Generate from my words: which target words a student's next story carries, and what the
story did for them once it is written.

The targets are the student's due words (learning words whose review is due, core.store.study)
and new N1 words (no state for the profile yet; for the example passage, only words it has an
example sentence for). New words the student has already met in their own stories come first,
most met first: a second meeting in context is how reading teaches a word, and the Library
holds the first one. The rest follow in an order shuffled per profile (and per "draw"), so it
is stable across reruns of a page and differs between students.

How many: as many unknown target words as keep the story's predicted known running words
(1 − token miss rate, core.coverage) at or above AIM, a point inside the 95–98% band: 95% is
the floor for reading without help, 98% comfortable reading, and the band between is where
new words are learnt from context. The prediction is

    running words    = story characters ÷ characters per running word
    predicted misses = base miss rate + targets × uses per target ÷ running words

where the base miss rate is the share of running words the student does not know that are not
target words. Both come from the student's last stories by the same model when there are any;
otherwise from the constants below, measured on the original project's first run (1,000
GPT-4o-mini stories, ../shared/corpus, with the analyzer of this repository). At most MOST;
at least one word of each kind the student has (one due word to review and one new word), even
where the band is already out of reach, or the story would teach nothing. Due words take the
slots first, but never all of them while new words remain: every such story brings a new word.

Mind the scale: an N1-dense story is dense in unknown words by design. A student who knows N5-N3
misses about 10% of a GPT story's running words before any target (N2 and N1 words it uses
anyway, and words on no JLPT list), so the plan then says "below 95%" with one word rather than
pretend; marking known words (the Word lists page) is what moves the figure.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from core import store, vocab
from core.analysis import Analysis, analyze
from core.coverage import band, personal
from core.generation.base import GenerationRequest
from core.generation.examples import default_index
from core.i18n import N_
from core.store import known as known_store
from core.store import study

# Measured on the first run's 1,000 stories (bodies as parse_answer gives them):
CHARS_PER_RUNNING_WORD = 1.76  # Score.chars ÷ Analysis.running_words: mean 1.7625, median 1.7623
USES_PER_TARGET = 1.18  # occurrences of a target word the story uses: mean 1.18, median 1
# Running words that are content words of each level and not target words, ÷ running words
# (a word under the easiest level that lists it); OUTSIDE_SHARE: content words on no JLPT list.
# Together with the targets' 3.5% they are the 39% of running words that are content words.
LEVEL_SHARES = {"N5": 0.0842, "N4": 0.0716, "N3": 0.0957, "N2": 0.0148, "N1": 0.0297}
OUTSIDE_SHARE = 0.0558
AIM = 0.96  # predicted known running words at least this: the band's 95% floor plus a point of margin
LEAST, MOST = 1, 12  # unknown target words in one story (plan raises the floor to 2 when it has both kinds)
RECENT = 5  # the student's last stories by the model that the prediction learns from
# Expected story length in characters, by backend (what the request's settings ask for):
CHARS_PER_TOKEN = 2.0  # rinna's sentencepiece packs about two Japanese characters into a token
CHAT_CHARS = 1500  # the chat prompt asks for about 1,500 characters
API_TOKENS_PER_LOCAL_TOKEN = 3  # as core.generation.openai_api sizes max_tokens
EXAMPLE_EXTRA = 40  # an example passage overshoots min_chars by part of a sentence, plus its label


@dataclass(frozen=True)
class Sizing:
    """How many unknown target words a story of this length can carry, and the coverage that
    predicts."""

    chars: int
    running_words: int
    base_miss: float  # unknown running words that are not target words ÷ running words
    count: int  # unknown target words (due and new together)
    predicted_miss: float

    @property
    def predicted_known(self) -> float:
        return 1 - self.predicted_miss

    @property
    def band(self) -> str:
        return band(self.predicted_known)


def size_targets(chars: int, base_miss: float, chars_per_word: float = CHARS_PER_RUNNING_WORD,
                 uses: float = USES_PER_TARGET, aim: float = AIM, least: int = LEAST, most: int = MOST,
                 available: int | None = None) -> Sizing:
    """The most unknown target words (within least..most, and at most `available`) that keep
    the predicted known running words at or above `aim`. Pure arithmetic; see the module doc."""
    running = max(1, round(max(chars, 1) / max(chars_per_word, 0.01)))
    uses = max(uses, 0.01)
    room = math.floor(((1 - aim) - base_miss) * running / uses + 1e-9)
    count = min(most, max(least, room))
    if available is not None:
        count = min(count, max(available, 0))
    predicted = min(1.0, base_miss + count * uses / running)
    return Sizing(int(chars), running, round(base_miss, 4), count, round(predicted, 4))


def default_base_miss(known: Collection[str], levels: Mapping[str, Collection[str]]) -> float:
    """The base miss rate of a GPT story for a student with no stories yet: each level's share of
    running words times the part of that level's words the student does not know, plus the words
    on no JLPT list (counted unknown). `levels`: level -> its words (core.vocab.level_words)."""
    miss, known = OUTSIDE_SHARE, set(known)
    for level, share in LEVEL_SHARES.items():
        words = set(levels.get(level, ()))
        miss += share * (1 - len(words & known) / len(words)) if words else share
    return round(miss, 4)


def observed(stories: Iterable[tuple[Analysis, Sequence[str]]], known: Collection[str]
             ) -> tuple[float, float] | None:
    """(base miss rate, characters per running word) over a student's stories, each an analysis
    with the target words it was written around (its target words count as known here: they
    are the part a plan sets itself); None when there is no story with words."""
    misses, chars, running = [], 0, 0
    for a, targets in stories:
        if not a.running_words:
            continue
        aimed = set(targets) | {m.word for m in a.matches if m.sense.targets}
        misses.append(personal(a, set(known) | aimed).miss_rate)
        chars += a.score.chars
        running += a.running_words
    if not misses:
        return None
    return round(sum(misses) / len(misses), 4), chars / running


def expected_chars(backend: str, request: GenerationRequest) -> int:
    """The length in characters a request's settings ask of a backend ("examples", "openai", "hf")."""
    if backend == "examples":
        return request.min_chars + EXAMPLE_EXTRA
    if backend == "openai":
        return min(CHAT_CHARS, request.max_new_tokens * API_TOKENS_PER_LOCAL_TOKEN)
    return round(request.max_new_tokens * CHARS_PER_TOKEN)


def new_word_order(candidates: Sequence[str], states: Mapping[str, str], met: Mapping[str, int],
                   seed: str) -> list[str]:
    """`candidates` without a state: those in `met` (word -> times met) first, most met first,
    then the rest shuffled by `seed`."""
    fresh = [w for w in dict.fromkeys(candidates) if w not in states]
    seen = sorted((w for w in fresh if met.get(w)), key=lambda w: -met[w])
    rest = [w for w in fresh if not met.get(w)]
    random.Random(seed).shuffle(rest)
    return seen + rest


def choose(due: Sequence[str], new: Sequence[str], count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(due words, new words) for `count` slots: due words first, but one slot stays for a new
    word while there is one."""
    take_due = tuple(due[:max(count - 1, 0)] if new else due[:count])
    return take_due, tuple(new[:max(count - len(take_due), 0)])


@dataclass(frozen=True)
class Plan:
    due: tuple[str, ...]
    new: tuple[str, ...]
    sizing: Sizing
    basis: str  # where the prediction's figures come from, in words (English: shown through `_`)

    @property
    def targets(self) -> tuple[str, ...]:
        return self.due + self.new

    def to_json(self) -> dict:
        """What a story written from this plan records in its params."""
        return {"due": list(self.due), "new": list(self.new), "predicted_miss": self.sizing.predicted_miss,
                "base_miss": self.sizing.base_miss, "running_words": self.sizing.running_words}


def _recent(db: store.Database, profile: str, model: str, analyze_fn: Callable[..., Analysis]
            ) -> list[tuple[Analysis, Sequence[str]]]:
    rows = store.list_stories(db, store.StoryFilter(profile=profile, source="generated", models=(model,)),
                              limit=RECENT, columns=("id", "text", "targets"))
    return [(analyze_fn(r["text"], targets=tuple(r["targets"] or ())), r["targets"] or ()) for r in rows]


def _new_words(db: store.Database, profile: str, states: Mapping[str, str], backend: str, seed: str) -> list[str]:
    """N1 words without a state, in new_word_order; for the example passage only those it has an
    example sentence for (it cannot use a word it has no sentence for)."""
    met = {r["word"]: r["count"] for r in store.words_met(db, profile, "N1")}
    words = vocab.level_words("N1")
    if backend == "examples":
        index = default_index()
        words = [w for w in words if index.by_word.get(w)]
    return new_word_order(words, states, met, seed)


def plan(db: store.Database, profile: str, request: GenerationRequest, backend: str, model: str,
         draw: int = 0, now: datetime | None = None, analyze_fn: Callable[..., Analysis] = analyze) -> Plan:
    """The target words of `profile`'s next story by `model` with `request`'s length settings.
    `draw` changes which new words (another shuffle); `analyze_fn` lets a page pass its cache."""
    states = known_store.word_states(db, profile)
    knows = {w for w, s in states.items() if s == "known"}
    due = study.due_words(db, profile, now=now, limit=MOST)
    seen = observed(_recent(db, profile, model, analyze_fn), knows)
    if seen:
        base, per_word = seen
        basis = N_("your last stories by this model")
    else:
        base = default_base_miss(knows, {lv: vocab.level_words(lv) for lv in LEVEL_SHARES})
        per_word, basis = CHARS_PER_RUNNING_WORD, N_("your known words and the first run's 1,000 stories")
    new = _new_words(db, profile, states, backend, f"{profile}:{draw}")
    least = max(LEAST, bool(due) + bool(new))  # one word of each kind the student has
    sizing = size_targets(expected_chars(backend, request), base, per_word, least=least,
                          available=len(due) + len(new))
    take_due, take_new = choose(due, new, sizing.count)
    return Plan(take_due, take_new, sizing, basis)


def target_headwords(a: Analysis) -> list[str]:
    """The headwords of the target words a story used, in order of first use."""
    return list(dict.fromkeys(m.word for m in a.matches if m.sense.targets))


def settle(db: store.Database, profile: str, a: Analysis, learn: bool) -> dict:
    """After a story for `profile` is saved: its real personal coverage and new words; with
    `learn` (a story from the student's words), the target words it used that were new to the
    student enter "learning" (and so their reviews). Returns what the job records."""
    c = personal(a, known_store.known_words(db, profile))
    learning: list[str] = []
    if learn:
        states = known_store.word_states(db, profile)
        learning = [w for w in target_headwords(a) if w not in states]
        known_store.set_states(db, profile, learning, "learning", how="generate")
    return {"known": round(1 - c.miss_rate, 4), "known_share": c.known_share, "miss_rate": c.miss_rate,
            "band": c.band, "new_words": list(c.new_words), "learning": learning}
