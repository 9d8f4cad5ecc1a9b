"""The local transformers backend on a real tiny GPT-2 built in this session (and a rinna-style
sentencepiece model), loaded through the same code path as published models. No network:
offline mode is on for every test."""
from __future__ import annotations

import io
import json
import shutil
import threading
import time

import pytest
import sentencepiece as spm
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from core.generation import hf, loading, local, prompts
from core.generation.base import GenerationError, GenerationRequest
from core.generation.hf import TransformersBackend, generation_kwargs
from core.generation.local import summary_of, whole_sentences
from core.generation.loading import load_model
from training.tiny import build_tiny, corpus_sentences

WORDS = ("把握", "促す")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> str:
    return str(build_tiny(tmp_path_factory.mktemp("hf") / "tiny"))


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def backend(model: str, fmt: str = "own") -> TransformersBackend:
    return TransformersBackend(model, prompt_format=fmt, device="cpu")


def request(**kw) -> GenerationRequest:
    return GenerationRequest(**{"targets": WORDS, "max_new_tokens": 24, "seed": 7, **kw})


def bare_generate(model: str, req: GenerationRequest, max_new_tokens: int | None = None) -> tuple[str, int]:
    """What plain `model.generate` writes for the request's own-format prompt: (text, new tokens)."""
    loaded = load_model(model, "cpu")
    ids = loaded.tokenizer(prompts.own_format(req), add_special_tokens=False, return_tensors="pt")["input_ids"]
    torch.manual_seed(req.seed)
    out = loaded.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                **generation_kwargs(req, loaded.eos_id, max_new_tokens or req.max_new_tokens))
    new = out[0, ids.shape[1]:]
    return loaded.tokenizer.decode(new, skip_special_tokens=True), len(new)


# -- devices -----------------------------------------------------------------------------------

def test_pick_device_is_cpu_without_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert loading.pick_device() == "cpu"


@pytest.mark.parametrize("bf16, expected", [(True, torch.bfloat16), (False, torch.float16)])
def test_dtype_half_on_gpus_full_on_cpu(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert loading.dtype_for("cuda") == expected
    assert loading.dtype_for("mps") == torch.float16
    assert loading.dtype_for("cpu") == torch.float32


# -- streaming and sampling ----------------------------------------------------------------------

def test_stream_pieces_join_to_what_generate_writes(tiny):
    pieces = list(backend(tiny).stream(request()))
    assert len(pieces) >= 3
    text, new_tokens = bare_generate(tiny, request())
    assert "".join(pieces) == text
    assert new_tokens == 24


def test_stream_releases_kana_token_by_token_and_never_half_a_character(tiny):
    """Both engines stream through local.TextPieces. The stock streamer waits for a space or a
    kanji, so kana-only text would come in one burst; ours releases each whole character."""
    from transformers import TextIteratorStreamer

    tokenizer = load_model(tiny, "cpu").tokenizer
    text = "ありがとうございました。\nそれはちょっとむずかしいですね。"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    pieces = local.TextPieces(tokenizer)
    ours = [p for p in [pieces.add(i) for i in ids] + [pieces.end()] if p]
    assert "".join(ours) == text
    assert not any("\ufffd" in p for p in ours)
    assert len(ours) >= len(ids) // 2
    stock = TextIteratorStreamer(tokenizer, skip_special_tokens=True)
    for token in ids:
        stock.put(torch.tensor([token]))
    stock.end()
    assert len([p for p in stock if p]) < len(ours)


def test_stream_same_seed_same_text_other_seed_other_text(tiny):
    b = backend(tiny)
    first = "".join(b.stream(request(seed=11)))
    assert "".join(b.stream(request(seed=11))) == first
    assert "".join(b.stream(request(seed=12))) != first


def test_temperature_zero_is_greedy_and_ignores_seed(tiny):
    b = backend(tiny)
    texts = {"".join(b.stream(request(temperature=0, seed=s))) for s in (None, 1, 2)}
    assert len(texts) == 1


@pytest.mark.parametrize("limit", [1, 5])
def test_max_new_tokens_respected(tiny, limit):
    streamed = "".join(backend(tiny).stream(request(max_new_tokens=limit)))
    text, new_tokens = bare_generate(tiny, request(max_new_tokens=limit))
    assert new_tokens <= limit
    assert streamed == text


def test_min_new_tokens_hook_forces_length(tiny):
    text, new_tokens = bare_generate(tiny, request(max_new_tokens=30, extra={"min_new_tokens": 30}))
    assert new_tokens == 30


def test_finish_trims_to_sentence_and_warns_when_short(tiny):
    b = backend(tiny)
    draft = b.finish(request(min_chars=200), "\n今日は晴れた。明日は雨が降る。その次の日は")
    assert draft.text == "今日は晴れた。明日は雨が降る。"
    assert "fewer than the 200" in draft.warning
    assert draft.prompt == prompts.own_format(request())
    assert b.finish(request(min_chars=5), "今日は晴れた。").warning == ""


@pytest.mark.parametrize("fmt", ["v1", "own", "v2"])
def test_prompt_formats_all_run(tiny, fmt):
    b = backend(tiny, fmt)
    pieces = list(b.stream(request(max_new_tokens=20)))
    assert "".join(pieces).strip()
    draft = b.finish(request(), "".join(pieces))
    assert draft.prompt == prompts.prompt_for(fmt, request())
    if fmt == "v2":  # two halves, a blank line between
        assert pieces.count("\n\n") == 1
        first, second = "".join(pieces).split("\n\n", 1)
        assert first and second


def test_v2_second_half_is_prompted_with_the_summary(tiny, monkeypatch):
    seen = []
    real = hf.stream_text

    def spy(loaded, prompt, req, max_new, seed):
        seen.append((prompt, max_new, seed))
        return real(loaded, prompt, req, max_new, seed)

    monkeypatch.setattr(hf, "stream_text", spy)
    text = "".join(backend(tiny, "v2").stream(request(max_new_tokens=21, seed=3)))
    first_half = text.split("\n\n", 1)[0]
    assert seen[0] == (prompts.published_v2_first(request()), 10, 3)
    assert seen[1] == (prompts.published_v2_second(request(), summary_of(first_half)), 11, 4)


def test_summary_is_the_first_sentence_cut_to_60_chars():
    assert summary_of("\n彼は状況を把握した。 そして母に促された。") == "彼は状況を把握した。"
    assert summary_of("「おはよう。」と彼は言った。") == "「おはよう。」"
    assert summary_of("終わらない文" * 20) == ("終わらない文" * 20)[:60]


def test_whole_sentences_drops_an_unfinished_tail():
    assert "".join(whole_sentences(["今日は", "晴れ。明日", "は雨。」あさ", "っては"])) == "今日は晴れ。明日は雨。」"
    assert "".join(whole_sentences(["句点のない", "文"])) == "句点のない文"


# -- batches -------------------------------------------------------------------------------------

def test_batch_of_three_matches_one_by_one_greedy(tiny):
    """Left padding must not change what a row writes: prompts of different lengths (different
    target words) give the same text batched as streamed alone."""
    b = backend(tiny)
    reqs = [request(temperature=0, targets=t) for t in [(), WORDS, ("把握", "促す", "曖昧", "顕著", "緩和")]]
    drafts = b.generate_batch(reqs)
    assert len(drafts) == 3
    for req, draft in zip(reqs, drafts):
        assert draft.text == b.finish(req, "".join(b.stream(req))).text
        assert draft.prompt == prompts.own_format(req)


def test_batch_seeded_is_reproducible(tiny):
    b = backend(tiny)
    reqs = [request(seed=5), request(seed=99), request(seed=None)]  # the first request's seed counts
    assert b.generate_batch(reqs) == b.generate_batch(reqs)
    assert b.generate_batch([]) == []


def test_batch_v2_has_two_halves(tiny):
    drafts = backend(tiny, "v2").generate_batch([request(max_new_tokens=20)] * 2)
    assert len(drafts) == 2 and all("\n\n" in d.text for d in drafts)


# -- loading and the cache -----------------------------------------------------------------------

def test_cache_returns_the_same_model_object(tiny):
    loaded = load_model(tiny, "cpu")
    assert load_model(tiny, "cpu") is loaded
    assert load_model(tiny + "/", "cpu") is loaded  # one folder, one copy
    assert backend(tiny).loaded().model is loaded.model


def test_registered_in_memory_model_serves_its_id(tiny):
    """Benchmarks build a full-size model in memory and hand it to the cache under an id."""
    source = load_model(tiny, "cpu")
    registered = loading.register("bench/in-memory", source.model, source.tokenizer, device="cpu")
    assert load_model("bench/in-memory", "cpu") is registered
    assert "".join(backend("bench/in-memory").stream(request())) == "".join(backend(tiny).stream(request()))


def test_concurrent_sessions_share_one_copy(tiny, tmp_path):
    folder = shutil.copytree(tiny, tmp_path / "copy")
    found = []
    threads = [threading.Thread(target=lambda: found.append(load_model(str(folder), "cpu"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 4 and all(f is found[0] for f in found)


def _one_clean_line(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message and 'File "' not in message


def test_missing_hub_model_offline_is_one_line():
    with pytest.raises(GenerationError) as err:
        load_model("nobody/no-such-model", "cpu")
    _one_clean_line(str(err.value))
    assert "nobody/no-such-model" in str(err.value) and "not downloaded" in str(err.value)


def test_missing_local_folder_is_one_line(tmp_path):
    for missing in (str(tmp_path / "no" / "such" / "model"), "./no-such-folder"):
        with pytest.raises(GenerationError, match="does not exist") as err:
            load_model(missing, "cpu")
        _one_clean_line(str(err.value))


def test_folder_that_is_not_a_model_is_one_line(tmp_path):
    with pytest.raises(GenerationError, match="no config.json") as err:
        load_model(str(tmp_path), "cpu")
    _one_clean_line(str(err.value))


def test_folder_without_weights_is_one_line(tiny, tmp_path):
    folder = shutil.copytree(tiny, tmp_path / "broken")
    (folder / "model.safetensors").unlink()
    with pytest.raises(GenerationError, match="Could not load model") as err:
        list(backend(str(folder)).stream(request()))
    _one_clean_line(str(err.value))
    assert str(folder) in str(err.value)


def test_unknown_prompt_format_is_refused(tiny):
    with pytest.raises(GenerationError, match="not for local models"):
        TransformersBackend(tiny, prompt_format="chat")


# -- failures during generation ------------------------------------------------------------------

@pytest.fixture
def failing_generate(tiny, monkeypatch):
    """Make the cached model's generate fail like a GPU running out of memory."""
    loaded = load_model(tiny, "cpu")

    def boom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(loaded.model, "generate", boom)
    return loaded


def test_out_of_memory_in_the_thread_reaches_the_consumer(tiny, failing_generate):
    with pytest.raises(GenerationError) as err:
        list(backend(tiny).stream(request()))
    assert str(err.value) == hf.OOM_MESSAGE
    assert failing_generate.lock.acquire(blocking=False)  # released for the next job
    failing_generate.lock.release()


def test_out_of_memory_in_a_batch(tiny, failing_generate):
    with pytest.raises(GenerationError, match="Out of memory"):
        backend(tiny).generate_batch([request(), request()])


def test_a_bug_in_generate_is_not_disguised(tiny, monkeypatch):
    loaded = load_model(tiny, "cpu")
    monkeypatch.setattr(loaded.model, "generate", lambda *a, **k: (_ for _ in ()).throw(KeyError("bug")))
    with pytest.raises(KeyError):
        list(backend(tiny).stream(request()))


def test_prompt_and_tokens_beyond_the_context_are_refused(tiny):
    with pytest.raises(GenerationError, match="context of 1024 tokens"):
        list(backend(tiny).stream(request(max_new_tokens=1024)))


def test_closing_the_stream_stops_generation(tiny):
    """A cancelled job or a closed tab must not keep the model busy for hundreds of tokens."""
    loaded = load_model(tiny, "cpu")
    stream = backend(tiny).stream(request(max_new_tokens=900, extra={"min_new_tokens": 900}))
    next(stream)
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 2
    assert loaded.lock.acquire(blocking=False)
    loaded.lock.release()


# -- rinna-style models --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def rinna_like(tmp_path_factory) -> str:
    """A folder shaped like rinna/japanese-gpt2-medium: sentencepiece spiece.model, T5Tokenizer
    named in tokenizer_config.json, eos </s>, a GPT-2 on top."""
    folder = tmp_path_factory.mktemp("rinna") / "rinna-like"
    folder.mkdir()
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_sentences()[::20]), model_writer=model, vocab_size=1000,
        model_type="unigram", character_coverage=0.98, hard_vocab_limit=False, unk_id=1, bos_id=-1,
        eos_id=0, pad_id=-1, eos_piece="</s>", minloglevel=2, num_threads=1)
    (folder / "spiece.model").write_bytes(model.getvalue())
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "T5Tokenizer", "do_lower_case": True, "eos_token": "</s>", "unk_token": "<unk>",
        "pad_token": "</s>"}))  # no extra_ids: the loader must add none, as rinna's card says
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=1000, n_positions=256, n_embd=32, n_layer=1, n_head=2,
                        bos_token_id=0, eos_token_id=0, pad_token_id=0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return str(folder)


def test_rinna_tokenizer_is_lower_cased_and_adds_no_eos(rinna_like):
    loaded = load_model(rinna_like, "cpu")
    tok = loaded.tokenizer
    assert tok.tokenize("N1単語ABC") == tok.tokenize("n1単語abc")
    assert len(tok) <= loaded.model.config.vocab_size
    assert hf._encode(loaded, "学校へ行く")[-1] != tok.eos_token_id
    assert "".join(backend(rinna_like, "v1").stream(request(max_new_tokens=10)))


def test_byte_level_folder_named_nonestory_is_not_lower_cased(tiny, tmp_path):
    folder = shutil.copytree(tiny, tmp_path / "nonestory" / "runs" / "r1" / "checkpoint-10")
    tok = load_model(str(folder), "cpu").tokenizer
    assert tok.tokenize("ABC") != tok.tokenize("abc")


# -- premise and sequels -------------------------------------------------------------------------

PREMISE = "舞台は海辺の町。"


@pytest.mark.parametrize("fmt", ["v1", "own", "v2"])
@pytest.mark.parametrize("premise, continues", [("", ""), (PREMISE, ""), (PREMISE, "前の話は雨の夜に終わった。")])
def test_each_format_is_prompted_with_the_premise_as_it_can_take_it(tiny, monkeypatch, fmt, premise, continues):
    seen = []
    real = hf.stream_text

    def spy(loaded, prompt, req, max_new, seed):
        seen.append(prompt)
        return real(loaded, prompt, req, max_new, seed)

    monkeypatch.setattr(hf, "stream_text", spy)
    req = request(max_new_tokens=20, premise=premise, continues=continues)
    b = backend(tiny, fmt)
    text = "".join(b.stream(req))
    assert text.strip() and b.finish(req, text).prompt == seen[0] == prompts.prompt_for(fmt, req)
    plain = prompts.prompt_for(fmt, request())
    if not premise:  # no premise, no change: trained models depend on it
        assert seen[0] == plain
    elif fmt == "v1":  # trained without one: the bare line
        assert seen[0] == plain
    elif fmt == "own":
        assert seen[0] == plain.replace("\n【本文】：", "".join(
            [f"\n【前情提要】：{continues}" if continues else "", f"\n【設定】：{premise}\n【本文】："]))
    else:  # v2: the first half through the trained 【前情提要】 line; the second half as trained
        assert seen[0] == prompts.published_v2_second(req, continues + premise)
        assert seen[1] == prompts.published_v2_second(req, summary_of(text.split("\n\n", 1)[0]))


def test_a_finished_story_drops_bytes_that_are_no_character():
    """A byte-level model's stray bytes decode as U+FFFD; the saved story leaves them out."""
    draft = local.LocalBackend("any", "own").finish(request(min_chars=0), "彼は\ufffd静かに笑った。\ufffd\ufffdそして")
    assert draft.text == "彼は静かに笑った。"
