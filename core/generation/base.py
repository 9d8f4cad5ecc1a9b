"""The request every backend takes, the interface every backend offers, and its error."""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from core.i18n import _

GENRES = ("学園", "異能力", "恋愛", "バトル", "ハーレム", "乙女")
STYLES = ("文学風", "評論風", "論述風")
# The original answers' 設定 paragraphs (first run, 1,000 answers) ran 66-305 characters, median
# 128: room for one such paragraph, not for a second story smuggled into the prompt.
PREMISE_MAX = 300
SUMMARY_MAX = 300  # the 前情提要 of the story a continuation follows (prompts.story_summary)


def one_line(text: str | None) -> str:
    """Text on one line: line breaks and runs of spaces become one space, and none is left
    between two Japanese characters (a premise typed over two lines reads as one)."""
    text = " ".join(str(text or "").split())
    return re.sub(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", "", text)


class GenerationError(Exception):
    """A problem the user can act on (model missing, API down, bad key, out of memory), in one
    sentence; the job fails with it and the app stays up."""


@dataclass(frozen=True)
class GenerationRequest:
    """What to write and how. Same seed + same settings + same model = the same story."""

    targets: tuple[str, ...] = ()
    genres: tuple[str, ...] = ("学園", "恋愛")  # two of GENRES
    style: str = "文学風"  # one of STYLES
    max_new_tokens: int = 600
    min_chars: int = 200  # keep generating (or report) below this many characters
    temperature: float = 0.9
    top_p: float = 0.95
    repetition_penalty: float = 1.1
    no_repeat_ngram_size: int = 0
    seed: int | None = None
    n: int = 1  # candidates for best-of-n
    premise: str = ""  # 設定: where, who, what happens; "" = the model's choice (one line, see PREMISE_MAX)
    continues: str = ""  # 前情提要: a summary of the story this one follows; "" = a new story
    continued_from: int | None = None  # the id of that story, recorded with the new one
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # One line each: the completion formats put them on a line of their own.
        object.__setattr__(self, "premise", one_line(self.premise))
        object.__setattr__(self, "continues", one_line(self.continues))
        problems = []
        if len(self.premise) > PREMISE_MAX:
            problems.append(_("The premise has {count} characters; keep it to {limit} or fewer.").format(
                count=len(self.premise), limit=PREMISE_MAX))
        if len(self.continues) > SUMMARY_MAX:
            problems.append(_("The summary of the earlier story must be at most {limit} characters.").format(
                limit=SUMMARY_MAX))
        if not 1 <= self.max_new_tokens <= 4096:
            problems.append(_("Max new tokens must be between 1 and 4096."))
        if not 0.0 <= self.temperature <= 2.0:
            problems.append(_("Temperature must be between 0 and 2."))
        if not 0.0 < self.top_p <= 1.0:
            problems.append(_("Top-p must be above 0 and at most 1."))
        if not 1.0 <= self.repetition_penalty <= 2.0:
            problems.append(_("Repetition penalty must be between 1 and 2."))
        if not 0 <= self.no_repeat_ngram_size <= 10:
            problems.append(_("No-repeat n-gram size must be between 0 and 10."))
        if not 1 <= self.n <= 8:
            problems.append(_("The number of candidates must be between 1 and 8."))
        if self.style not in STYLES:
            problems.append(_("Style must be one of {styles}.").format(styles=", ".join(STYLES)))
        if not self.genres or any(g not in GENRES for g in self.genres):
            problems.append(_("Genres must come from {genres}.").format(genres=", ".join(GENRES)))
        if problems:
            raise GenerationError(problems[0])

    @property
    def genre(self) -> str:
        """The genre pair as stories show and store it: 恋愛・異能力. Prompts write it the way
        each model was trained (prompts.genre_text: 恋愛×異能力 for v2)."""
        return "・".join(self.genres)

    def with_seed(self, seed: int | None) -> GenerationRequest:
        return replace(self, seed=seed)


@dataclass(frozen=True)
class Draft:
    """A backend's finished output for one request: the text and what it parsed out of it."""

    text: str
    title: str = ""
    style: str = ""
    genre: str = ""
    prompt: str = ""
    warning: str = ""  # e.g. "the answer had no 本文： header; kept as it came"


class Backend(Protocol):
    """Every backend streams text deltas for one request and can do several at once."""

    name: str  # "hf", "openai", "examples"
    model: str  # what to store as the story's model

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the story's text as it is produced. Raises GenerationError."""
        ...

    def finish(self, request: GenerationRequest, text: str) -> Draft:
        """Turn the streamed text into a Draft (parse headers, trim to a sentence end)."""
        ...

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Draft]:
        """Several stories; a local model batches them through one `generate` call."""
        ...
