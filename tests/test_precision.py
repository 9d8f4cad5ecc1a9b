"""Precision of the N1 marks on stories nobody here wrote: every N1 match the analyzer makes in
the hand-checked sentences (tests/precision_set.py) must have a verdict, and the share judged
right must reach the bar. Needs ../shared/corpus (skipped without it)."""
from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import pytest

from core.analysis import analyze
from tests import precision_set

pytestmark = pytest.mark.skipif(not precision_set.STORIES.exists(), reason="no shared corpus")


@pytest.fixture(scope="module")
def marked():
    """(sentence, its judged rows, the N1 matches the analyzer makes there now), per sentence.
    Each story is analysed whole, as the app does, and its matches are cut to the sentence
    (offsets relative to the sentence, as the judges saw them)."""
    texts = precision_set.story_sentences()
    analysed: dict[str, list] = {}
    out = []
    for key, judged in precision_set.load().items():
        assert key in texts, f"sentence {key} of the precision set is not in the corpus any more"
        sentence, body, at = texts[key]
        if key[0] not in analysed:
            analysed[key[0]] = [m for m in analyze(body, levels=("N1",)).matches if m.level == "N1"]
        inside = [_Shifted(m.start - at, m.end - at, m.surface, m.word) for m in analysed[key[0]]
                  if at <= m.start and m.end <= at + len(sentence)]
        out.append((sentence, judged, inside))
    return out


class _Shifted(NamedTuple):
    start: int
    end: int
    surface: str
    word: str


def _tally(marked, part: str | None) -> tuple[Counter, list[str], list[str]]:
    counts, wrong, unjudged = Counter(), [], []
    for sentence, judged, matches in marked:
        verdicts = {(j.start, j.end, j.word): j for j in judged if part in (None, j.part)}
        if not verdicts:
            continue
        for m in matches:
            j = verdicts.get((m.start, m.end, m.word))
            if j is None:
                unjudged.append(f"{m.surface} -> {m.word} in {sentence}")
                continue
            counts[(j.stratum, j.ok)] += 1
            if not j.ok:
                wrong.append(f"[{j.stratum}] {m.surface} -> {m.word}: {j.note}")
        found = {(m.start, m.end, m.word) for m in matches}
        counts["ok kept"] += sum(1 for k, j in verdicts.items() if j.ok and k in found)
        counts["ok judged"] += sum(1 for j in verdicts.values() if j.ok)
    return counts, wrong, unjudged


def _precision(counts, stratum: str) -> float:
    return counts[(stratum, True)] / max(1, counts[(stratum, True)] + counts[(stratum, False)])


def test_precision_set_is_large_enough():
    rows = [j for judged in precision_set.load().values() for j in judged]
    held_out_random = [j for j in rows if j.part == "held-out" and j.stratum == "random"]
    assert len(held_out_random) >= 300
    assert sum(1 for j in rows if not j.ok) >= 50  # it holds the errors it was drawn to measure


def test_every_n1_mark_in_the_set_has_a_verdict(marked):
    _, _, unjudged = _tally(marked, None)
    assert not unjudged, "judge these new matches in context and add them to n1_precision.tsv:\n" + \
        "\n".join(unjudged)


# Each part keeps the figure it reached (held-out 0.9898 over three draws, seen 0.997, tuning
# 0.996), so a change that brings old errors back fails. The goal for held-out matches is 0.99
# (issue 10): the two draws judged and measured once after the rules were frozen reach 0.995
# and 0.991, all three draws together 0.9898; README "How words are found" lists what is left.
BARS = {"held-out": 0.989, "seen": 0.995, "tuning": 0.995}


@pytest.mark.parametrize("part", list(BARS))
def test_n1_precision_on_real_stories_meets_the_bar(marked, part):
    counts, wrong, _ = _tally(marked, part)
    random_p, other_p = _precision(counts, "random"), _precision(counts, "other")
    kept = counts["ok kept"] / counts["ok judged"]
    print(f"\n{part}: N1 precision {random_p:.3f} over {counts[('random', True)] + counts[('random', False)]}"
          f" random matches, {other_p:.3f} over other-spelling matches; right matches still found {kept:.3f}")
    if part != "held-out":  # held-out verdicts are never printed: whoever tunes the rules must not read them
        print("\n".join(wrong))
    assert random_p >= BARS[part]
    # the rules that remove wrong marks must not remove right ones
    assert kept >= 0.97
