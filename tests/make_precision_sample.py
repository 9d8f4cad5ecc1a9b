"""Draw the sentences of the hand-checked N1 precision set (tests/data/n1_precision.tsv).

The original project's first run (../shared/corpus/stories_train1.jsonl, 1,000 stories) is cut
in two by line: stories 1-500 are the tuning half (read while the matching rules are changed),
stories 501-1000 the held-out half, which nobody tuning the rules reads. This script samples
held-out sentences and writes every N1 match in them, in context, for a person to judge:

    .venv/bin/python tests/make_precision_sample.py OUT.tsv [--matches 360] [--seed 10] [--other 120]

Sentences already in the set are never drawn again, so a new draw extends it. Each story is
analysed whole, as the app and the test do, so a name found elsewhere in the story counts.

Two strata, both random: `random` sentences drawn until they hold `--matches` N1 matches, and
`other` sentences holding a match reached through another spelling or reading than the
headword's (a kana spelling, a lemma variant) -- the matches most likely to be wrong.
Not collected by pytest (no test_ prefix); kept so the set can be redrawn and extended.
"""
from __future__ import annotations

import argparse
import functools
import csv
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.analysis import Match, analyze  # noqa: E402
from core.generation.prompts import parse_answer  # noqa: E402
from core.kana import kanji_of  # noqa: E402
from tests.precision_set import load, sentences, sha  # noqa: E402
from tests.shared import CORPUS  # noqa: E402

HALVES = {"held-out": range(500, 1000), "tuning": range(0, 500)}  # 0-based line numbers
COLUMNS = ("custom_id", "stratum", "sentence", "start", "end", "surface", "word", "reading", "meanings",
           "verdict", "note")


def other_spelling(m: Match) -> bool:
    """The surface does not spell the headword: kana for kanji, or other kanji."""
    spellings = [s.strip("〜") for s in m.entry.spellings] or [m.word]
    surface = kanji_of(m.surface)
    return not any(kanji_of(s) and surface and kanji_of(s) & surface or s[:1] == m.surface[:1]
                   for s in spellings)


def half_sentences(half: str) -> list[tuple[str, str, str, int]]:
    """(custom_id, sentence, its story's body, where it starts there) for the half's stories,
    leaving out sentences already in the set."""
    done = set(load())
    out = []
    with open(CORPUS / "stories_train1.jsonl", encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n in HALVES[half]:
                d = json.loads(line)
                body = parse_answer(d["text"]).body
                out += [(d["custom_id"], s, body, body.find(s)) for s in sentences(body)
                        if (d["custom_id"], sha(s)) not in done]
    return out


@functools.lru_cache(maxsize=64)
def _n1_in(body: str) -> tuple[Match, ...]:
    return tuple(m for m in analyze(body, levels=("N1",)).matches if m.level == "N1")


def n1_matches(sentence: str, body: str, at: int) -> list[Match]:
    """The N1 matches of the whole story that lie in the sentence (offsets still the story's)."""
    return [m for m in _n1_in(body) if at <= m.start and m.end <= at + len(sentence)]


def rows(custom_id: str, stratum: str, sentence: str, matches: list[Match], at: int) -> list[dict]:
    return [{"custom_id": custom_id, "stratum": stratum, "sentence": sentence, "start": m.start - at,
             "end": m.end - at, "surface": m.surface, "word": m.word, "reading": m.reading,
             "meanings": "; ".join(m.meanings[:3]), "verdict": "", "note": ""}
            for m in matches]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--matches", type=int, default=360, help="N1 matches in the random stratum")
    ap.add_argument("--other", type=int, default=120, help="matches in the other-spelling stratum")
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--half", choices=HALVES, default="held-out", help="which half of the corpus to draw from")
    args = ap.parse_args()
    pool = half_sentences(args.half)
    random.Random(args.seed).shuffle(pool)
    picked, counts = [], {"random": 0, "other": 0}
    for custom_id, sentence, body, at in pool:
        matches = n1_matches(sentence, body, at)
        found = rows(custom_id, "random", sentence, matches, at)
        if found and counts["random"] < args.matches:
            stratum = "random"
        elif any(other_spelling(m) for m in matches) and counts["other"] < args.other:
            stratum = "other"
        else:
            continue
        for r in found:
            r["stratum"] = stratum
        picked += found
        counts[stratum] += len(found)
        if counts["random"] >= args.matches and counts["other"] >= args.other:
            break
    with open(args.out, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(picked)
    print(f"{len(picked)} matches in {len({(r['custom_id'], r['sentence']) for r in picked})} sentences: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
