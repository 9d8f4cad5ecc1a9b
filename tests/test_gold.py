"""Precision and recall of N1 detection on a hand-annotated set of sentences
(tests/data/n1_gold.tsv: our own sentences, traps included)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from core.analysis import analyze

DATA = Path(__file__).parent / "data"
# n1_gold.tsv was used while the matching rules were developed; n1_heldout.tsv was written
# afterwards by an annotator who never ran the analyzer, and is the honest measurement.
SETS = ["n1_gold.tsv", "n1_heldout.tsv"]


def load_gold(name: str = "n1_gold.tsv") -> list[tuple[str, set[str], str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(r["sentence"], {w for w in r["n1_words"].split("|") if w}, r["note"]) for r in rows]


def test_gold_set_is_large_enough_and_has_traps():
    gold = load_gold()
    assert len(gold) >= 150
    assert sum(1 for _, words, _ in gold if not words) >= 50


@pytest.mark.parametrize("name", SETS)
def test_n1_precision_and_recall_meet_the_bar(name):
    tp = fp = fn = 0
    errors = []
    for sentence, expected, note in load_gold(name):
        found = set(analyze(sentence).score.n1_words)
        tp += len(found & expected)
        fp += len(found - expected)
        fn += len(expected - found)
        if found != expected:
            errors.append(f"{sentence}  extra={sorted(found - expected)} missed={sorted(expected - found)}  ({note})")
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    print(f"\n{name}: N1 precision {precision:.3f}  recall {recall:.3f}  (tp {tp}, fp {fp}, fn {fn})")
    print("\n".join(errors))
    assert precision >= 0.97 and recall >= 0.95, "\n".join(errors)
