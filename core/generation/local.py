"""What every local engine shares: the prompt formats around the engine (v2's two halves with
the summary of the first, whole sentences, the finished Draft), the context check, and the
one-sentence errors. An engine (transformers in `hf`, CTranslate2 in `ct2`) only turns one
prompt into text deltas, or several prompts into texts at once.
"""
from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from core import modelfolder
from core.generation import prompts
from core.generation.base import Draft, GenerationError, GenerationRequest
from core.i18n import N_, _

OOM_MESSAGE = N_("Out of memory while generating; lower max new tokens or use a smaller model.")
SUMMARY_CHARS = 60  # v2's 【前情提要】 is one sentence; keep a runaway first sentence short


class Engine(Protocol):
    """A loaded model that writes text: one prompt streamed, or a batch of prompts at once."""

    def stream_text(self, prompt: str, request: GenerationRequest, max_new_tokens: int,
                    seed: int | None) -> Iterator[str]:
        """Text deltas of one generation; stops within a token when the consumer closes it."""
        ...

    def batch_texts(self, prompts: Sequence[str], request: GenerationRequest, max_new_tokens: int,
                    seed: int | None) -> list[str]:
        """The new text of each prompt, generated together with `request`'s settings."""
        ...


def encode(tokenizer, prompt: str) -> list[int]:
    # rinna's card encodes without special tokens: its tokenizer appends </s>, which would tell
    # the model the text has already ended.
    return tokenizer(prompt, add_special_tokens=False)["input_ids"]


def check_context(model_id: str, context: int | None, prompt_tokens: int, max_new_tokens: int) -> None:
    """The model is not named: the reader picked it, and its id is a folder on the server."""
    if context and prompt_tokens + max_new_tokens > context:
        raise GenerationError(
            _("The prompt ({prompt} tokens) and max new tokens ({max_new}) exceed this model's context of "
              "{context} tokens; set max new tokens to at most {limit}.").format(
                prompt=prompt_tokens, max_new=max_new_tokens, context=context, limit=max(context - prompt_tokens, 0)))


def out_of_memory(err: BaseException) -> bool:
    return isinstance(err, MemoryError) or "out of memory" in str(err).lower()


class TextPieces:
    """Token ids to text as they come, for streaming Japanese: every complete character at once
    (transformers' stock streamer waits for a space or a kanji, so kana-only text would come in
    bursts), a character still being assembled from byte tokens (U+FFFD for now) held back."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer, self.ids, self.shown = tokenizer, [], 0

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\n"):  # a finished line: start afresh, so each decode stays short
            piece, self.ids, self.shown = text[self.shown:], [], 0
            return piece
        end = len(text) if text and text[-1] != "\ufffd" else max(text.rfind(" ") + 1, self.shown)
        piece, self.shown = text[self.shown:end], end
        return piece

    def end(self) -> str:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True) if self.ids else ""
        piece, self.ids, self.shown = text[self.shown:], [], 0
        return piece


_DONE = object()


def streamed_text(decode: Callable[[Callable[[int], None], threading.Event], None], tokenizer: Any, name: str,
                  user_error: Callable[[BaseException], GenerationError | None]) -> Iterator[str]:
    """Run an engine's decoding in a worker thread and yield its text as whole characters.
    `decode(emit, cancel)` calls emit(token_id) for each new token and stops soon after `cancel`
    is set, which happens when the consumer closes this iterator (a cancelled job, a closed tab).
    The worker's exception is raised here, as `user_error`'s one sentence where it has one."""
    tokens: queue.Queue = queue.Queue()
    cancel, failure = threading.Event(), []

    def work() -> None:
        try:
            decode(tokens.put, cancel)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer below
            failure.append(err)
        finally:
            tokens.put(_DONE)  # wake the consumer, which would otherwise wait forever

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    pieces = TextPieces(tokenizer)
    try:
        while (token := tokens.get()) is not _DONE:
            if piece := pieces.add(token):
                yield piece
        if piece := pieces.end():
            yield piece
    finally:  # also on close(): stop generating for a consumer that has gone
        cancel.set()
        thread.join()
    if failure:
        raise_for_user(failure[0], user_error)


def raise_for_user(err: BaseException, user_error: Callable[[BaseException], GenerationError | None]) -> None:
    """Raise `err` as its one-sentence GenerationError where a user can fix it, else as it was."""
    mapped = user_error(err)
    if mapped is not None:
        raise mapped from err
    raise err


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


def halves(max_new_tokens: int) -> tuple[int, int]:
    """v2 splits the token budget between the halves; the second may get none."""
    first = max(1, max_new_tokens // 2)
    return first, max_new_tokens - first


def next_seed(seed: int | None) -> int | None:
    """The second v2 half is seeded on its own: another job may use the model in between."""
    return None if seed is None else seed + 1


class LocalBackend:
    """A local model behind the Backend protocol, whatever engine runs it. The model loads on
    first use (`engine()`), so making a backend is cheap and a missing model fails the job, not
    the page."""

    name = "local"

    def __init__(self, model_id: str, prompt_format: str = "own", device: str | None = None) -> None:
        if prompt_format not in modelfolder.PROMPT_FORMATS:
            raise GenerationError(_("Prompt format {prompt_format} is not for local models; use v1, v2 or own.")
                                  .format(prompt_format=repr(prompt_format)))
        self.model = model_id
        self.prompt_format = prompt_format
        self.device = device

    def loaded(self):
        """The model in memory, loaded now (converted first, for an engine that needs it).
        Raises GenerationError for a model that cannot be loaded."""
        raise NotImplementedError

    def engine(self) -> Engine:
        """What writes the text: the loaded model itself, unless an engine wraps it."""
        return self.loaded()

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        engine = self.engine()
        prompt = prompts.prompt_for(self.prompt_format, request)
        if self.prompt_format != "v2":
            yield from engine.stream_text(prompt, request, request.max_new_tokens, request.seed)
            return
        first_tokens, second_tokens = halves(request.max_new_tokens)
        # The first half ends at a sentence end, as the published model saw its halves in training.
        first = ""
        for piece in whole_sentences(engine.stream_text(prompt, request, first_tokens, request.seed)):
            first += piece
            yield piece
        if second_tokens < 1:
            return
        yield "\n\n"
        second = prompts.published_v2_second(request, summary_of(first))
        yield from engine.stream_text(second, request, second_tokens, next_seed(request.seed))

    def finish(self, request: GenerationRequest, text: str) -> Draft:
        # A byte-level model can write bytes that are no UTF-8 character (decoded as U+FFFD):
        # they are not text, and a student should not read them as part of a story.
        story = prompts.trim_to_sentence(text.replace("\ufffd", "").lstrip())
        warning = ""
        if len(story) < request.min_chars:
            warning = _("The story has {count} characters, fewer than the {asked} asked for; "
                        "raise max new tokens or generate again.").format(count=len(story), asked=request.min_chars)
        return Draft(text=story, style=request.style, genre=request.genre,
                     prompt=prompts.prompt_for(self.prompt_format, request), warning=warning)

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Draft]:
        """One engine batch for all requests (two for v2), with the first request's settings
        and seed."""
        if not requests:
            return []
        engine, first = self.engine(), requests[0]
        texts = [prompts.prompt_for(self.prompt_format, r) for r in requests]
        if self.prompt_format != "v2":
            texts = engine.batch_texts(texts, first, first.max_new_tokens, first.seed)
        else:
            first_tokens, second_tokens = halves(first.max_new_tokens)
            done = ["".join(whole_sentences([t])) for t in engine.batch_texts(texts, first, first_tokens, first.seed)]
            if second_tokens >= 1:
                seconds = [prompts.published_v2_second(r, summary_of(h)) for r, h in zip(requests, done)]
                rest = engine.batch_texts(seconds, first, second_tokens, next_seed(first.seed))
                done = [h + "\n\n" + r for h, r in zip(done, rest)]
            texts = done
        return [self.finish(r, t) for r, t in zip(requests, texts)]
