"""Stories from any OpenAI-compatible chat API: OpenAI itself, vLLM, Ollama, llama.cpp server.

This is how generation scales past one machine: point OPENAI_BASE_URL at a server that speaks
the chat-completions protocol. Every failure becomes one GenerationError sentence, and the API
key never appears in a message, log line or repr.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import openai

from core import settings
from core.generation import prompts
from core.generation.base import Draft, GenerationError, GenerationRequest
from core.i18n import N_, _

DEFAULT_MODEL = "gpt-4o-mini"
# Local servers (Ollama, llama.cpp, vLLM without --api-key) ignore the key, but the client
# refuses to run without one.
PLACEHOLDER_KEY = "not-needed"
# max_new_tokens is sized for the local rinna-based models, whose tokenizer packs about two
# Japanese characters into a token; GPT-4o-class tokenizers spend about one token per character,
# and the chat answer also carries headers. Three API tokens per local token lets the default
# (600) hold the prompt's ~1,500-character story.
API_TOKENS_PER_LOCAL_TOKEN = 3
MAX_API_TOKENS = 16_384
# A batch is a handful of HTTP calls; a few at a time is faster without tripping rate limits.
BATCH_CONCURRENCY = 4
NO_BODY_WARNING = N_("The answer had no 本文： section; it is kept as it came.")


class OpenAIBackend:
    """The Backend protocol over `chat.completions` (streamed for one story, plain for a batch)."""

    name = "openai"

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 60, max_retries: int = 2) -> None:
        self.model: str = model or settings.get("NONESTORY_OPENAI_MODEL") or DEFAULT_MODEL
        self.base_url: str | None = base_url or settings.get("OPENAI_BASE_URL")
        self.timeout = timeout
        self.max_retries = max_retries
        key = api_key or settings.get("OPENAI_API_KEY")
        if not key and self.base_url:
            key = PLACEHOLDER_KEY
        # Name-mangled and kept out of __repr__ so a stray print or log of the backend shows no key.
        self.__key: str = key or ""

    def __repr__(self) -> str:
        key = "placeholder" if self.__key == PLACEHOLDER_KEY else ("set" if self.__key else "missing")
        return f"OpenAIBackend(model={self.model!r}, base_url={self._where()!r}, key={key})"

    # -- the Backend protocol -----------------------------------------------------------------

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the answer's content deltas as they arrive. Raises GenerationError."""
        try:
            chunks = self._client.chat.completions.create(**self._params(request), stream=True)
            with chunks:  # closes the connection when the consumer stops early (cancel)
                for chunk in chunks:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except openai.OpenAIError as err:
            raise GenerationError(self._explain(err)) from None  # `from None`: the cause may quote the key

    def finish(self, request: GenerationRequest, text: str) -> Draft:
        """Parse the headed answer; a malformed one is kept raw with a warning, never dropped."""
        parsed = prompts.parse_answer(text)
        body = prompts.trim_to_sentence(parsed.body) if parsed.ok else parsed.body
        return Draft(
            text=body,
            title=parsed.title,
            style=prompts.style_of(parsed.style),
            genre=parsed.genre,
            prompt=_user_message(request),
            warning="" if parsed.ok else _(NO_BODY_WARNING),
        )

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Draft]:
        """Drafts in the order of `requests`; the first failure (in that order) is raised."""
        if not requests:
            return []
        self._client  # build the client once, before the threads share it  # noqa: B018
        with ThreadPoolExecutor(max_workers=min(BATCH_CONCURRENCY, len(requests))) as pool:
            return list(pool.map(self._complete, requests))

    # -- internals ----------------------------------------------------------------------------

    @cached_property
    def _client(self) -> openai.OpenAI:
        if not self.__key:
            raise GenerationError(
                _("No API key is set; put OPENAI_API_KEY in the environment or .streamlit/secrets.toml, "
                  "or set OPENAI_BASE_URL to a local server."))
        return openai.OpenAI(api_key=self.__key, base_url=self.base_url, timeout=self.timeout,
                             max_retries=self.max_retries)

    def _params(self, request: GenerationRequest) -> dict:
        params: dict = {
            "model": self.model,
            "messages": prompts.chat_messages(request),
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": min(request.max_new_tokens * API_TOKENS_PER_LOCAL_TOKEN, MAX_API_TOKENS),
        }
        if request.seed is not None:
            params["seed"] = request.seed
        return params

    def _complete(self, request: GenerationRequest) -> Draft:
        """One non-streamed call, for batches."""
        try:
            answer = self._client.chat.completions.create(**self._params(request))
        except openai.OpenAIError as err:
            raise GenerationError(self._explain(err)) from None
        text = answer.choices[0].message.content if answer.choices else None
        return self.finish(request, text or "")

    def _where(self) -> str:
        return self.base_url or "https://api.openai.com/v1"

    def _explain(self, err: openai.OpenAIError) -> str:
        """One sentence a user can act on, scrubbed of the key whatever went into it."""
        return self._scrub(self._sentence(err))

    def _sentence(self, err: openai.OpenAIError) -> str:
        # Order matters: subclasses first (a timeout is a connection error too).
        # With retries a message says how many tries it took: a whole sentence of its own for the
        # translators, never a fragment added to another.
        tries = self.max_retries + 1
        retried = tries > 1
        if isinstance(err, openai.AuthenticationError):
            return _("The API rejected the key (401); check OPENAI_API_KEY.")
        if isinstance(err, openai.PermissionDeniedError):
            return _("The API refused this key access to model {model} (403); check OPENAI_API_KEY.").format(
                model=repr(self.model))
        if isinstance(err, openai.NotFoundError):
            return _("The API has no model {model} (404); check NONESTORY_OPENAI_MODEL, "
                     "and that OPENAI_BASE_URL ends in /v1.").format(model=repr(self.model))
        if isinstance(err, openai.RateLimitError):
            return (_("The API is rate-limiting requests (429) after {tries} tries; wait a minute or use a smaller "
                      "batch.") if retried else
                    _("The API is rate-limiting requests (429); wait a minute or use a smaller batch.")).format(
                tries=tries)
        if isinstance(err, openai.APIStatusError) and err.status_code >= 500:
            return (_("The API server failed (HTTP {status}) after {tries} tries; try again later.") if retried else
                    _("The API server failed (HTTP {status}); try again later.")).format(
                status=err.status_code, tries=tries)
        if isinstance(err, openai.APIStatusError):
            return _("The API refused the request (HTTP {status}): {detail}").format(status=err.status_code,
                                                                                   detail=self._detail(err))
        if isinstance(err, openai.APITimeoutError):
            return (_("The API at {url} did not answer within {seconds} s after {tries} tries; is it overloaded?")
                    if retried else
                    _("The API at {url} did not answer within {seconds} s; is it overloaded?")).format(
                url=self._where(), seconds=f"{self.timeout:g}", tries=tries)
        if isinstance(err, openai.APIConnectionError):
            return _("Cannot reach the API at {url}; is the server running?").format(url=self._where())
        return _("The API failed: {detail}").format(detail=self._detail(err))

    def _detail(self, err: openai.OpenAIError) -> str:
        """The server's own message, on one line, short, and scrubbed of the key."""
        body = getattr(err, "body", None)
        message = body.get("message") if isinstance(body, dict) else None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = body["error"].get("message")
        text = self._scrub(re.sub(r"\s+", " ", str(message or err)).strip())
        text = text if len(text) <= 200 else text[:199] + "…"
        return text if text.endswith((".", "。")) else text + "."

    def _scrub(self, text: str) -> str:
        # Servers echo keys back in error bodies ("Incorrect API key provided: sk-…").
        return text.replace(self.__key, "***") if self.__key else text


def _user_message(request: GenerationRequest) -> str:
    """The prompt to store with the story: the user turn (the system turn never changes)."""
    return next(m["content"] for m in reversed(prompts.chat_messages(request)) if m["role"] == "user")
