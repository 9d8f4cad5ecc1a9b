"""One generation from request to stored story: n candidates, each analysed, the best kept.

The original author concluded that N1 density should judge stories after generation rather
than during training. Candidates are ranked by target coverage, then by N1 density discounted
by the share of repeated sentences (a model stuck in a loop scores its density only once).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.analysis import Analysis, analyze
from core.generation.base import Backend, Draft, GenerationError, GenerationRequest
from core.i18n import _

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")


def repeated_sentence_rate(text: str) -> float:
    """Share of sentences that repeat an earlier one (0 = none, 0.5 = half are repeats)."""
    sentences = [s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) > 3]
    return 1 - len(set(sentences)) / len(sentences) if sentences else 0.0


@dataclass(frozen=True)
class Candidate:
    draft: Draft
    analysis: Analysis
    repeat_rate: float
    seed: int | None

    @property
    def rank_key(self) -> tuple[float, float]:
        s = self.analysis.score
        return (s.target_coverage or 0.0, s.n1_density * (1 - self.repeat_rate))

    def summary(self) -> dict:
        s = self.analysis.score
        return {"seed": self.seed, "coverage": s.target_coverage, "n1_density": s.n1_density,
                "unique_n1": s.unique_n1, "repeated": round(self.repeat_rate, 3), "chars": s.chars,
                "title": self.draft.title}


class Cancelled(Exception):
    """The user cancelled the job."""


def candidate_seeds(request: GenerationRequest) -> list[int | None]:
    """Candidate i uses seed + i, so a run is reproducible and candidates differ."""
    if request.seed is None:
        return [None] * request.n
    return [request.seed + i for i in range(request.n)]


def produce(backend: Backend, request: GenerationRequest, on_delta: Callable[[int, str], None] | None = None,
            cancel: threading.Event | None = None) -> list[Candidate]:
    """All candidates, best first. `on_delta(candidate_index, text)` sees the text as it streams."""
    candidates = []
    for i, seed in enumerate(candidate_seeds(request)):
        one = replace(request, seed=seed, n=1)
        pieces = []
        for delta in backend.stream(one):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            pieces.append(delta)
            if on_delta:
                on_delta(i, delta)
        draft = backend.finish(one, "".join(pieces))
        if not draft.text.strip():
            raise GenerationError(_("The model returned an empty story; try another seed or a higher temperature."))
        candidates.append(Candidate(draft, analyze(draft.text, targets=request.targets),
                                    repeated_sentence_rate(draft.text), seed))
    return sorted(candidates, key=lambda c: c.rank_key, reverse=True)


def produce_batch(backend: Backend, requests: list[GenerationRequest]) -> list[Candidate]:
    """One story per request through the backend's batch path (one `generate` on a local model)."""
    drafts = backend.generate_batch(requests)
    return [Candidate(d, analyze(d.text, targets=r.targets), repeated_sentence_rate(d.text), r.seed)
            for d, r in zip(drafts, requests)]
