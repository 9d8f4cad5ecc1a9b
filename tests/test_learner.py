"""Generate from my words: the sizing arithmetic with numbers, the word choice, and the plan and
its aftermath on a real DuckDB file with the real analyzer and word lists."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core import learner, settings, store, vocab
from core.analysis import analyze
from core.generation.base import GenerationRequest
from core.generation.examples import ExampleBackend, default_index
from core.store import known, study

UP_TO_N3 = ("N5", "N4", "N3")


@pytest.fixture
def db():
    database = store.Database(settings.paths().db)
    yield database
    database.close()


def knows_up_to_n3(db: store.Database, profile: str = "hana") -> None:
    known.set_states(db, profile, [w for lv in UP_TO_N3 for w in vocab.level_words(lv)], "known", how="levels")


# ---- sizing: pure arithmetic ------------------------------------------------------------------

@pytest.mark.parametrize("chars, base, per_word, uses, count, predicted, band", [
    # 1,000 running words, 1% missed: room for 30 at 4%, capped at 12 -> 2.2% missed
    (1760, 0.01, 1.76, 1.0, 12, 0.022, "95–98%"),
    # 500 running words, 2% missed, 1.25 uses each: (0.04 - 0.02) x 500 / 1.25 = 8 words -> 4.0%
    (880, 0.02, 1.76, 1.25, 8, 0.04, "95–98%"),
    # the same story for a student who already misses 10%: one word, and the band is out of reach
    (880, 0.10, 1.76, 1.25, 1, 0.1025, "below 95%"),
    # 200 running words, nothing missed, one use each: 8 words -> 4.0%
    (200, 0.0, 1.0, 1.0, 8, 0.04, "95–98%"),
    # a tiny story: still at least one word
    (10, 0.0, 1.76, 1.18, 1, 0.1967, "below 95%"),  # 6 running words: 1.18 / 6
])
def test_size_targets_keeps_the_predicted_coverage_at_the_aim(chars, base, per_word, uses, count, predicted, band):
    s = learner.size_targets(chars, base, per_word, uses)
    assert (s.count, s.predicted_miss, s.band) == (count, predicted, band)
    assert s.running_words == round(chars / per_word)


def test_size_targets_never_offers_more_than_are_available():
    assert learner.size_targets(1760, 0.0, 1.76, 1.0, available=3).count == 3
    assert learner.size_targets(1760, 0.0, 1.76, 1.0, available=0).count == 0


def test_default_base_miss_weighs_each_level_by_its_share():
    levels = {"N5": ["a", "b"], "N4": ["c"], "N3": ["d"], "N2": ["e"], "N1": ["f", "g"]}
    nothing = learner.default_base_miss(set(), levels)
    assert nothing == round(learner.OUTSIDE_SHARE + sum(learner.LEVEL_SHARES.values()), 4)
    # half of N5 known, all of N4 and N3: N5's share halves, N4's and N3's go
    shares = learner.LEVEL_SHARES
    assert learner.default_base_miss({"a", "c", "d"}, levels) == round(
        learner.OUTSIDE_SHARE + shares["N5"] / 2 + shares["N2"] + shares["N1"], 4)


def test_default_base_miss_for_a_student_up_to_n3_is_about_ten_percent():
    levels = {lv: vocab.level_words(lv) for lv in learner.LEVEL_SHARES}
    known_words = {w for lv in UP_TO_N3 for w in levels[lv]}
    assert 0.095 <= learner.default_base_miss(known_words, levels) <= 0.105  # measured on the corpus: 0.1004


def test_observed_counts_a_storys_target_words_as_known():
    text = "部長は部下に報告を促した。彼は状況を把握した。"
    a = analyze(text, targets=("促す",))
    base, per_word = learner.observed([(a, ("促す",))], {"部長", "報告", "状況"})
    assert base == round(2 / a.running_words, 4)  # 部下 and 把握 missed; 促す is a target
    assert per_word == pytest.approx(a.score.chars / a.running_words)
    assert learner.observed([], set()) is None


@pytest.mark.parametrize("backend, request_kw, chars", [
    ("examples", {"min_chars": 200}, 240),
    ("hf", {"max_new_tokens": 600}, 1200),
    ("openai", {"max_new_tokens": 600}, 1500),
    ("openai", {"max_new_tokens": 100}, 300),
])
def test_expected_chars_follows_each_backends_length_setting(backend, request_kw, chars):
    assert learner.expected_chars(backend, GenerationRequest(**request_kw)) == chars


# ---- which words ----------------------------------------------------------------------------

def test_choose_fills_with_due_words_but_keeps_a_slot_for_a_new_one():
    assert learner.choose(["a", "b", "c"], ["x", "y"], 3) == (("a", "b"), ("x",))
    assert learner.choose(["a"], ["x", "y", "z"], 3) == (("a",), ("x", "y"))
    assert learner.choose(["a", "b"], [], 3) == (("a", "b"), ())
    assert learner.choose([], ["x", "y"], 1) == ((), ("x",))


def test_new_word_order_puts_met_words_first_and_is_stable_per_seed():
    words = [f"w{i}" for i in range(30)]
    order = learner.new_word_order(words, {"w0": "known", "w5": "learning"}, {"w9": 1, "w7": 3}, "hana:0")
    assert order[:2] == ["w7", "w9"] and "w0" not in order and "w5" not in order and len(order) == 28
    assert order == learner.new_word_order(words, {"w0": "known", "w5": "learning"}, {"w9": 1, "w7": 3}, "hana:0")
    assert order != learner.new_word_order(words, {"w0": "known", "w5": "learning"}, {"w9": 1, "w7": 3}, "hana:1")


# ---- the plan and the aftermath, on a real database ------------------------------------------

def test_plan_for_a_student_up_to_n3_with_no_stories_uses_the_corpus_default(db):
    knows_up_to_n3(db)
    plan = learner.plan(db, "hana", GenerationRequest(max_new_tokens=600), "hf", "some/model")
    assert plan.basis.startswith("your known words")
    assert plan.sizing.base_miss == pytest.approx(0.099, abs=0.006)
    assert plan.due == () and len(plan.new) == 1  # 10% missed already: one word, honestly below 95%
    assert plan.sizing.band == "below 95%"
    assert plan.new[0] in vocab.level_words("N1")


def test_plan_beyond_the_band_still_reviews_one_due_word_and_brings_one_new_one(db):
    knows_up_to_n3(db)
    known.set_states(db, "hana", ["促す", "和やか"], "learning")
    plan = learner.plan(db, "hana", GenerationRequest(max_new_tokens=600), "hf", "some/model",
                        now=datetime.now() + timedelta(seconds=1))
    assert len(plan.due) == 1 and plan.due[0] in {"促す", "和やか"} and len(plan.new) == 1
    assert plan.sizing.count == 2 and plan.sizing.predicted_miss == pytest.approx(
        plan.sizing.base_miss + 2 * learner.USES_PER_TARGET / plan.sizing.running_words, abs=1e-4)


def test_plan_puts_due_words_first_and_learns_the_base_from_the_students_stories(db):
    # Every word of a stored example passage known: its miss rate is 0, so a long story has room.
    request = GenerationRequest(targets=("把握",), seed=1, min_chars=600)
    text = "".join(ExampleBackend().stream(request))
    a = analyze(text, targets=request.targets)
    known.set_states(db, "hana", list(a.heads), "known", how="import")
    store.save_story(db, a, store.Story(profile="hana", source="generated", backend="examples",
                                        model="example-passage", targets=request.targets))
    known.set_states(db, "hana", ["促す", "和やか"], "learning")
    plan = learner.plan(db, "hana", GenerationRequest(min_chars=600), "examples", "example-passage",
                        now=datetime.now() + timedelta(seconds=1))
    assert plan.basis == "your last stories by this model"
    assert plan.sizing.base_miss == 0.0 and plan.sizing.count > 3
    assert set(plan.due) == {"促す", "和やか"} and plan.targets[:2] == plan.due
    assert len(plan.targets) == plan.sizing.count and plan.sizing.band == "95–98%"
    index = default_index()
    assert all(index.by_word.get(w) for w in plan.new)  # the example passage has a sentence for each


def test_plan_prefers_new_words_met_in_the_students_stories(db):
    knows_up_to_n3(db)
    store.save_story(db, analyze("彼は状況を把握した。"), store.Story(profile="hana"))
    plan = learner.plan(db, "hana", GenerationRequest(), "hf", "m")
    assert plan.new == ("把握",)


def test_settle_records_coverage_and_puts_used_new_targets_into_learning(db):
    knows_up_to_n3(db)
    known.set_states(db, "hana", ["促す"], "learning")
    a = analyze("部長は部下に報告を促した。彼は状況を把握した。", targets=("把握", "促す", "和やか"))
    out = learner.settle(db, "hana", a, learn=True)
    assert out["learning"] == ["把握"]  # used and new; 促す was learning already, 和やか unused
    states = known.word_states(db, "hana")
    assert (states["把握"], states["促す"], states.get("和やか")) == ("learning", "learning", None)
    assert "把握" in out["new_words"] and "部長" not in out["new_words"]
    assert 0 < out["known"] < 1 and out["band"] == "below 95%"
    assert "把握" in study.due_words(db, "hana")  # a learning word is due for its first review


def test_settle_without_learn_changes_no_state(db):
    knows_up_to_n3(db)
    before = known.word_states(db, "hana")
    learner.settle(db, "hana", analyze("彼は状況を把握した。", targets=("把握",)), learn=False)
    assert known.word_states(db, "hana") == before
