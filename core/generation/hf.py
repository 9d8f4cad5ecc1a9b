"""The local transformers backend: a model from `loading` (hub id or local folder, loaded once
per process and device), streamed token by token from a worker thread. Every failure a user
can cause (out of memory, prompt too long, and the loading errors) is one sentence in a
GenerationError.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from core import modelfolder
from core.generation import prompts
from core.generation.base import Draft, GenerationError, GenerationRequest
from core.generation.loading import LoadedModel, load_model

OOM_MESSAGE = "Out of memory while generating; lower max new tokens or use a smaller model."
SUMMARY_CHARS = 60  # v2's 【前情提要】 is one sentence; keep a runaway first sentence short


# -- generation --------------------------------------------------------------------------------

def generation_kwargs(request: GenerationRequest, eos_id: int, max_new_tokens: int) -> dict:
    """`generate` arguments for a request; temperature 0 means greedy decoding. top_k is switched
    off so top-p is the only cut, whatever a checkpoint's generation_config says."""
    kwargs: dict = {
        "max_new_tokens": max_new_tokens,
        "repetition_penalty": request.repetition_penalty,
        "no_repeat_ngram_size": request.no_repeat_ngram_size,
        "eos_token_id": eos_id,
        "pad_token_id": eos_id,
    }
    if request.temperature == 0:
        kwargs["do_sample"] = False
    else:
        kwargs.update(do_sample=True, temperature=request.temperature, top_p=request.top_p, top_k=0)
    # Benchmarks force a fixed length with extra={"min_new_tokens": N}.
    if request.extra.get("min_new_tokens"):
        kwargs["min_new_tokens"] = min(int(request.extra["min_new_tokens"]), max_new_tokens)
    return kwargs


def summary_of(first_half: str, limit: int = SUMMARY_CHARS) -> str:
    """v2's one-sentence summary of the first half: its first sentence (a closing quote right
    after the sentence end kept), whitespace collapsed, at most `limit` characters."""
    text = re.sub(r"\s+", "", first_half)
    m = re.match(r"(.+?[。！？!?][」』]?)", text)
    return (m.group(1) if m else text)[:limit]


def whole_sentences(pieces: Iterable[str]) -> Iterator[str]:
    """Pass text through up to each sentence end and drop an unfinished last sentence (all text
    is kept when it has no sentence end at all) - the same cut as prompts.trim_to_sentence."""
    pending, cut_any = "", False
    for piece in pieces:
        pending += piece
        cut = max(pending.rfind(c) for c in prompts.SENTENCE_ENDS) + 1
        if cut:
            yield pending[:cut]
            pending, cut_any = pending[cut:], True
    if pending and not cut_any:
        yield pending


class _JapaneseStreamer(TextIteratorStreamer):
    """TextIteratorStreamer holds text back until a space or a CJK ideograph, to show English
    word by word; Japanese has no spaces and much of it is kana, so it would arrive in bursts.
    Release every complete character instead: only a character still being assembled from
    byte tokens (decoded as U+FFFD for now) waits for the next token."""

    def _is_chinese_char(self, cp: int) -> bool:  # the parent's "may release up to here" test
        return cp != 0xFFFD


class _Cancelled(StoppingCriteria):
    """Stops `generate` within one token once the consumer has gone (cancel, closed tab)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def _seed(seed: int | None) -> None:
    """Seed torch only: transformers.set_seed would also reseed Python's and numpy's global
    generators, which the rest of the app shares. No seed: a fresh random one, because torch
    starts every process from the same fixed seed."""
    if seed is None:
        torch.seed()
    else:
        torch.manual_seed(seed)


def _user_error(err: BaseException) -> GenerationError | None:
    """The one-sentence error for failures a user can fix; None for bugs, which propagate."""
    if isinstance(err, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in str(err).lower():
        return GenerationError(OOM_MESSAGE)
    return None


def _raise_from(err: BaseException) -> None:
    mapped = _user_error(err)
    if mapped is not None:
        raise mapped from err
    raise err


def _check_context(loaded: LoadedModel, prompt_tokens: int, max_new_tokens: int) -> None:
    limit = loaded.context
    if limit and prompt_tokens + max_new_tokens > limit:
        raise GenerationError(
            f"The prompt ({prompt_tokens} tokens) and max new tokens ({max_new_tokens}) exceed "
            f"{loaded.model_id}'s context of {limit} tokens; set max new tokens to at most "
            f"{max(limit - prompt_tokens, 0)}.")


def _encode(loaded: LoadedModel, prompt: str) -> list[int]:
    # rinna's card encodes without special tokens: its tokenizer appends </s>, which would tell
    # the model the text has already ended.
    return loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]


def stream_text(loaded: LoadedModel, prompt: str, request: GenerationRequest, max_new_tokens: int,
                seed: int | None) -> Iterator[str]:
    """Text deltas of one `generate` run in a worker thread; its exception is raised here."""
    ids = _encode(loaded, prompt)
    _check_context(loaded, len(ids), max_new_tokens)
    input_ids = torch.tensor([ids], device=loaded.device)
    streamer = _JapaneseStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
    cancel, failure = threading.Event(), []
    kwargs = generation_kwargs(request, loaded.eos_id, max_new_tokens)

    def work() -> None:
        try:
            with loaded.lock:
                _seed(seed)
                loaded.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                      streamer=streamer, stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                                      **kwargs)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer below
            failure.append(err)
            streamer.end()  # wake the consumer, which would otherwise wait forever

    thread = threading.Thread(target=work, name=f"generate:{loaded.model_id}", daemon=True)
    thread.start()
    try:
        for piece in streamer:
            if piece:
                yield piece
    finally:  # also on close(): stop generating for a consumer that has gone
        cancel.set()
        thread.join()
    if failure:
        _raise_from(failure[0])


def _left_pad(rows: list[list[int]], pad_id: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Left padding, so every row's next token follows its own prompt directly."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row):] = 1
    return ids.to(device), mask.to(device)


def batch_texts(loaded: LoadedModel, prompts_: Sequence[str], request: GenerationRequest, max_new_tokens: int,
                seed: int | None) -> list[str]:
    """One `generate` call over all prompts with `request`'s settings; the new text of each."""
    ids, mask = _left_pad([_encode(loaded, p) for p in prompts_], loaded.eos_id, loaded.device)
    _check_context(loaded, ids.shape[1], max_new_tokens)
    try:
        with loaded.lock:
            _seed(seed)
            out = loaded.model.generate(input_ids=ids, attention_mask=mask,
                                        **generation_kwargs(request, loaded.eos_id, max_new_tokens))
    except Exception as err:  # noqa: BLE001 - mapped or re-raised as it was
        _raise_from(err)
    return loaded.tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)


def _halves(max_new_tokens: int) -> tuple[int, int]:
    """v2 splits the token budget between the halves; the second may get none."""
    first = max(1, max_new_tokens // 2)
    return first, max_new_tokens - first


def _next_seed(seed: int | None) -> int | None:
    """The second v2 half is seeded on its own: another job may use the model in between."""
    return None if seed is None else seed + 1


class TransformersBackend:
    """A local causal LM behind the Backend protocol. The model loads on first use, so making a
    backend is cheap and a missing model fails the job, not the page."""

    name = "hf"

    def __init__(self, model_id: str, prompt_format: str = "own", device: str | None = None) -> None:
        if prompt_format not in modelfolder.PROMPT_FORMATS:
            raise GenerationError(f"Prompt format {prompt_format!r} is not for local models; use v1, v2 or own.")
        self.model = model_id
        self.prompt_format = prompt_format
        self.device = device

    def loaded(self) -> LoadedModel:
        return load_model(self.model, self.device)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        loaded = self.loaded()
        prompt = prompts.prompt_for(self.prompt_format, request)
        if self.prompt_format != "v2":
            yield from stream_text(loaded, prompt, request, request.max_new_tokens, request.seed)
            return
        first_tokens, second_tokens = _halves(request.max_new_tokens)
        # The first half ends at a sentence end, as the published model saw its halves in training.
        first = ""
        for piece in whole_sentences(stream_text(loaded, prompt, request, first_tokens, request.seed)):
            first += piece
            yield piece
        if second_tokens < 1:
            return
        yield "\n\n"
        second = prompts.published_v2_second(request, summary_of(first))
        yield from stream_text(loaded, second, request, second_tokens, _next_seed(request.seed))

    def finish(self, request: GenerationRequest, text: str) -> Draft:
        story = prompts.trim_to_sentence(text.lstrip())
        warning = ""
        if len(story) < request.min_chars:
            warning = (f"The story has {len(story)} characters, fewer than the {request.min_chars} asked for; "
                       "raise max new tokens or generate again.")
        return Draft(text=story, style=request.style, genre=request.genre,
                     prompt=prompts.prompt_for(self.prompt_format, request), warning=warning)

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Draft]:
        """One `generate` call for all requests (two for v2), with the first request's settings
        and seed."""
        if not requests:
            return []
        loaded, first = self.loaded(), requests[0]
        texts = [prompts.prompt_for(self.prompt_format, r) for r in requests]
        if self.prompt_format != "v2":
            texts = batch_texts(loaded, texts, first, first.max_new_tokens, first.seed)
        else:
            first_tokens, second_tokens = _halves(first.max_new_tokens)
            halves = ["".join(whole_sentences([t])) for t in batch_texts(loaded, texts, first, first_tokens, first.seed)]
            if second_tokens >= 1:
                seconds = [prompts.published_v2_second(r, summary_of(h)) for r, h in zip(requests, halves)]
                rest = batch_texts(loaded, seconds, first, second_tokens, _next_seed(first.seed))
                halves = [h + "\n\n" + r for h, r in zip(halves, rest)]
            texts = halves
        return [self.finish(r, t) for r, t in zip(requests, texts)]
