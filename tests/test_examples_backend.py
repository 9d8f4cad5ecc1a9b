"""The offline example-passage backend, on the real JLPT lists and the real analyzer."""
from __future__ import annotations

import pytest

from core import vocab
from core.analysis import analyze
from core.generation.base import Draft, GenerationError, GenerationRequest
from core.generation.examples import LABEL, ExampleBackend, ExampleIndex, compose, passage

TARGETS = ("把握", "促す", "和やか")


def _text(backend: ExampleBackend, request: GenerationRequest) -> str:
    return "".join(backend.stream(request))


def _examples(word: str) -> set[str]:
    return {ja for e in vocab.jlpt().entries if e.word == word for ja, _ in e.examples}


@pytest.fixture(scope="module")
def backend() -> ExampleBackend:
    return ExampleBackend()


def test_backend_satisfies_protocol_names(backend):
    assert (backend.name, backend.model) == ("examples", "example-passage")
    assert all(callable(getattr(backend, m)) for m in ("stream", "finish", "generate_batch"))


def test_passage_contains_an_example_of_each_target(backend):
    text = _text(backend, GenerationRequest(targets=TARGETS, seed=1))
    for word in TARGETS:
        assert _examples(word), word
        assert any(ja in text for ja in _examples(word)), word


def test_analysis_reports_targets_used(backend):
    text = _text(backend, GenerationRequest(targets=TARGETS, seed=2))
    score = analyze(text, targets=TARGETS).score
    assert set(score.targets_used) == set(TARGETS)
    assert score.targets_missed == ()


def test_passage_same_seed_identical(backend):
    request = GenerationRequest(targets=TARGETS, seed=7)
    assert _text(backend, request) == _text(backend, request)


def test_passage_different_seed_differs(backend):
    texts = {_text(backend, GenerationRequest(targets=TARGETS, seed=s)) for s in range(3)}
    assert len(texts) == 3


def test_passage_no_targets_is_n1_examples_of_min_chars(backend):
    request = GenerationRequest(seed=3, min_chars=200)
    pairs = compose(request)
    n1 = {ja for e in vocab.jlpt().entries if e.level == "N1" for ja, _ in e.examples}
    assert all(ja in n1 for ja, _ in pairs)
    text = _text(backend, request)
    assert len(text) >= 200
    assert sum(len(ja) for ja, _ in pairs) >= 200
    assert backend.finish(request, text).title == "例文で読む：N1の例文"


def test_passage_ends_with_label(backend):
    text = _text(backend, GenerationRequest(targets=TARGETS, seed=4))
    assert text.rstrip().endswith(LABEL)


def test_stream_pieces_concatenate_to_finished_text(backend):
    request = GenerationRequest(targets=TARGETS, seed=5)
    pieces = list(backend.stream(request))
    assert len(pieces) > 3  # sentence by sentence, not one block
    draft = backend.finish(request, "".join(pieces))
    assert draft == Draft(text="".join(pieces), title="例文で読む：把握・促す・和やか")
    assert draft.text == passage(compose(request))


def test_compose_keeps_english_translations():
    pairs = compose(GenerationRequest(targets=("和やか",), seed=1))
    assert ("彼らは和やかに食事をした。", "They ate peacefully.") in pairs
    assert all(ja and en for ja, en in pairs)


def test_conjugated_target_finds_entry_through_analyzer(backend):
    text = _text(backend, GenerationRequest(targets=("促した",), seed=1))
    assert any(ja in text for ja in _examples("促す"))


def test_target_without_examples_skipped(backend):
    request = GenerationRequest(targets=("xyz", "把握"), seed=1)
    text = _text(backend, request)
    assert any(ja in text for ja in _examples("把握"))
    assert "xyz" not in text
    assert backend.finish(request, text).title == "例文で読む：把握"


def test_all_impossible_targets_fill_with_n1(backend):
    text = _text(backend, GenerationRequest(targets=("xyz", "qqq"), seed=1, min_chars=50))
    assert len(text) >= 50


def test_empty_vocabulary_raises_generation_error():
    empty = ExampleBackend(ExampleIndex.from_entries([]))
    with pytest.raises(GenerationError, match="No example sentences"):
        list(empty.stream(GenerationRequest(targets=("xyz",), seed=1)))


def test_impossible_targets_without_filler_raise_generation_error():
    # Entries without examples are not indexed at all: nothing to write with.
    entries = [e for e in vocab.jlpt().entries if not e.examples][:50]
    backend = ExampleBackend(ExampleIndex.from_entries(entries))
    with pytest.raises(GenerationError):
        list(backend.stream(GenerationRequest(targets=("xyz", entries[0].word), seed=1)))


def test_generate_batch_one_draft_per_request(backend):
    requests = [GenerationRequest(targets=TARGETS, seed=1), GenerationRequest(targets=("把握",), seed=2)]
    drafts = backend.generate_batch(requests)
    assert len(drafts) == 2
    assert drafts[0].text == _text(backend, requests[0])
    assert drafts[1].title == "例文で読む：把握"
    assert all(d.text.endswith(LABEL) for d in drafts)


def test_a_premise_is_kept_with_the_passage_but_cannot_steer_it(backend):
    from core.generation.examples import IGNORES_PLOT

    plain = GenerationRequest(targets=TARGETS, seed=6)
    asked = GenerationRequest(targets=TARGETS, seed=6, premise="舞台は海辺の町。", continues="前の話の終わり。",
                              continued_from=3)
    assert _text(backend, asked) == _text(backend, plain)  # the same sentences: nothing pretends to follow it
    draft = backend.finish(asked, _text(backend, asked))
    assert draft.prompt == "前情提要：前の話の終わり。\n設定：舞台は海辺の町。"
    assert draft.warning == IGNORES_PLOT and "cannot follow a premise" in draft.warning
    assert backend.finish(plain, _text(backend, plain)).prompt == ""
