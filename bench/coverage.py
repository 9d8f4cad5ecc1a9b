"""Personal coverage's cost: analysing a ~1,500-character story with and without it.

    .venv/bin/python bench/coverage.py [--stories 20] [--repeat 15]

"without" runs the analyzer with the coverage bookkeeping taken out (TokenStats as it was before
coverage: no covered-token or headword counting, no heads); "with" is the real analyzer plus
core.coverage.personal against a student who knows N5-N3. Both analyse the same corpus stories
of about 1,500 characters (../shared/corpus), alternating story by story; each story's best of
--repeat is kept; prints both, the ratio and the load average.
The acceptance bar (issue 13) is: coverage adds at most 10%.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "stories_train1.jsonl"

from core import analysis, score  # noqa: E402
from core.coverage import personal  # noqa: E402
from core.tokens import MORPH, SURFACE  # noqa: E402
from core.vocab import level_words  # noqa: E402


class WithoutCoverage(score.TokenStats):
    """TokenStats as it was before personal coverage."""

    def add(self, tokens, matches) -> None:
        if not tokens:
            return
        self.per_morph.update(t[MORPH] for t in tokens)
        self.tokens += len(tokens)
        self.last_surface = tokens[-1][SURFACE]
        self.content_in_matches += sum(
            m.content if m.last - m.first == 1 else sum(tokens[i][MORPH].content for i in range(m.first, m.last))
            for m in matches)

    def drop(self, match) -> None:
        self.content_in_matches -= match.content

    def heads(self, *_) -> tuple[dict, int]:
        return {}, 0


def stories(n: int) -> list[str]:
    if not CORPUS.exists():
        sys.exit(f"The corpus is not at {CORPUS}; this bench needs real stories.")
    texts = [json.loads(line)["text"] for line in CORPUS.open(encoding="utf-8")]
    near = sorted(texts, key=lambda t: abs(len(t) - 1500))[:n]
    return near


def once(text: str, known: frozenset[str], with_coverage: bool) -> float:
    analysis.TokenStats = score.TokenStats if with_coverage else WithoutCoverage
    start = time.perf_counter()
    a = analysis.analyze(text)
    if with_coverage:
        personal(a, known)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stories", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    texts = stories(args.stories)
    known = frozenset(w for lv in ("N5", "N4", "N3") for w in level_words(lv))
    for t in texts:  # warm: dictionary, index and morpheme memo
        once(t, known, True), once(t, known, False)
    # Each story alternates the two sides, many times over; a side's time for a story is its
    # best, so a slow moment of a shared machine costs both sides alike or neither.
    best = {side: [float("inf")] * len(texts) for side in (False, True)}
    for r in range(args.repeat):
        for i, t in enumerate(texts):
            # who goes first alternates too: the second run of a text finds it warm in the caches
            for side in ((False, True) if (r + i) % 2 else (True, False)):
                best[side][i] = min(best[side][i], once(t, known, side))
    best = {side: sum(times) for side, times in best.items()}
    per = {side: 1000 * t / len(texts) for side, t in best.items()}
    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"{len(texts)} corpus stories, mean {mean_chars:,.0f} characters; per story the best of {args.repeat}, "
          "sides alternated story by story")
    print(f"analysis without coverage: {per[False]:.2f} ms/story")
    print(f"analysis with coverage:    {per[True]:.2f} ms/story (incl. personal() for a N5-N3 student)")
    print(f"ratio with/without: {best[True] / best[False]:.3f} ({100 * (best[True] / best[False] - 1):+.1f}%)")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
