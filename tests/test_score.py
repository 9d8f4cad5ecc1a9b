"""Score formulas, and jReadability computed from our tokens equals the library's value."""
from __future__ import annotations

import jreadability
import pytest

from core.analysis import analyze
from core.score import band
from core.tokens import tagger

TEXTS = [
    "部長は部下に早めの報告を促した。",
    "和やかな雰囲気の中で、彼女は状況を把握した。しかし、問題はまだ残っている！本当に？",
    "今日は天気がいいです。散歩に行きましょう。",
    "文末に句点がない文",
    "彼は「なぜだ」と叫んだ．そして黙った。\n\n次の日、彼は旅立った。",
]


@pytest.mark.parametrize("text", TEXTS)
def test_readability_equals_jreadability(text):
    ours = analyze(text).score.readability
    assert ours == pytest.approx(jreadability.compute_readability(text, tagger()), abs=1e-3)


def test_readability_of_empty_text_is_none_not_a_division_by_zero():
    s = analyze("").score
    assert s.readability is None and s.readability_band.startswith("n/a")


def test_n1_density_counts_content_words_only():
    # content words: 部長 部下 報告 促し (する/ある/こと excluded) -> 部下, 促す are N1
    s = analyze("部長は部下に報告を促した。").score
    assert s.n1_content == 2
    assert s.n1_density == pytest.approx(100 * 2 / s.content_words)
    assert s.unique_n1 == 2
    assert s.n1_per_1000_chars == pytest.approx(1000 * 2 / s.chars, abs=0.01)


def test_level_counts_have_every_level_and_outside():
    s = analyze("部長は部下に報告を促した。").score
    assert set(s.level_counts) == {"N5", "N4", "N3", "N2", "N1", "outside"}
    assert s.level_counts["N1"] == 2


@pytest.mark.parametrize("value, label", [(0.2, "upper-advanced"), (2.0, "lower-advanced"),
                                          (3.0, "upper-intermediate"), (4.0, "lower-intermediate"),
                                          (5.0, "upper-elementary"), (6.0, "lower-elementary"),
                                          (9.0, "lower-elementary")])
def test_readability_band_labels(value, label):
    assert band(value).endswith(label)
