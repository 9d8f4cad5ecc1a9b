"""The local transformers backend: a model from `loading` (hub id or local folder, loaded once
per process and device), streamed token by token from a worker thread. What it shares with the
CTranslate2 engine (prompt formats, v2's halves, whole sentences, the finished Draft) lives in
`local`. Every failure a user can cause (out of memory, prompt too long, and the loading
errors) is one sentence in a GenerationError.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from core.generation import local
from core.generation.base import GenerationError, GenerationRequest
from core.generation.loading import LoadedModel, load_model
from core.generation.local import OOM_MESSAGE
from core.i18n import _


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


class _Tokens(BaseStreamer):
    """Hands each new token id of a one-row `generate` to `emit` (local.streamed_text turns them
    into whole characters); `generate`'s first call is the prompt, which is skipped."""

    def __init__(self, emit) -> None:
        self.emit, self.prompt_seen = emit, False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self.emit(token)

    def end(self) -> None:
        pass


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
    if isinstance(err, torch.OutOfMemoryError) or local.out_of_memory(err):
        return GenerationError(_(OOM_MESSAGE))
    return None


def _check_context(loaded: LoadedModel, prompt_tokens: int, max_new_tokens: int) -> None:
    local.check_context(loaded.model_id, loaded.context, prompt_tokens, max_new_tokens)


def _encode(loaded: LoadedModel, prompt: str) -> list[int]:
    return local.encode(loaded.tokenizer, prompt)


def stream_text(loaded: LoadedModel, prompt: str, request: GenerationRequest, max_new_tokens: int,
                seed: int | None) -> Iterator[str]:
    """Text deltas of one `generate` run in a worker thread; its exception is raised here."""
    ids = _encode(loaded, prompt)
    _check_context(loaded, len(ids), max_new_tokens)
    input_ids = torch.tensor([ids], device=loaded.device)
    kwargs = generation_kwargs(request, loaded.eos_id, max_new_tokens)

    def decode(emit, cancel: threading.Event) -> None:
        with loaded.lock:
            _seed(seed)
            loaded.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                  streamer=_Tokens(emit), stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                                  **kwargs)

    return local.streamed_text(decode, loaded.tokenizer, f"generate:{loaded.model_id}", _user_error)


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
        local.raise_for_user(err, _user_error)
    return loaded.tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)


class _Engine:
    """A LoadedModel as the shared backend's engine. The module functions are looked up on each
    call, so a test's spy on hf.stream_text sees every prompt."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def stream_text(self, prompt: str, request: GenerationRequest, max_new_tokens: int,
                    seed: int | None) -> Iterator[str]:
        return stream_text(self.loaded, prompt, request, max_new_tokens, seed)

    def batch_texts(self, prompts_: Sequence[str], request: GenerationRequest, max_new_tokens: int,
                    seed: int | None) -> list[str]:
        return batch_texts(self.loaded, prompts_, request, max_new_tokens, seed)


class TransformersBackend(local.LocalBackend):
    """A local causal LM run by transformers behind the Backend protocol (stream, finish and
    generate_batch come from local.LocalBackend)."""

    name = "hf"

    def loaded(self) -> LoadedModel:
        return load_model(self.model, self.device)

    def engine(self) -> _Engine:
        return _Engine(self.loaded())
