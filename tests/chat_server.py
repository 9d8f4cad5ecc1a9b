"""A real local HTTP server that speaks the OpenAI chat-completions protocol, for tests.

    with ChatServer(api_key="sk-test", models=("test-model",)) as server:
        backend = OpenAIBackend(model="test-model", base_url=server.url, api_key="sk-test")
        ...
        assert server.requests[-1].body["model"] == "test-model"

It answers POST /v1/chat/completions non-streamed (one JSON body) and streamed (Server-Sent
Events: `data: {chat.completion.chunk}` lines, then `data: [DONE]`), and GET /v1/models.
Every request it receives is recorded in `server.requests` (method, path, headers with lower-case
names, parsed JSON body). Behaviour is set per instance:

- `answer`: the assistant's text (default: a headed Japanese story, `ANSWER`); `malformed=True`
  answers `MALFORMED_ANSWER` (a story with no headers) instead.
- `chunk_chars`: characters per streamed delta.
- `api_key`: when set, any other bearer token gets 401 with an OpenAI-style error body. The body
  echoes the token it got, like a careless server would, so tests can prove the client side never
  lets a key through into its own messages.
- `fail_first`: the first N chat requests get `fail_status` (500) with `Retry-After-Ms:
  retry_after_ms`, so the client's retries are exercised without its default backoff of seconds.
- `models`: model names it knows; any other gets 404 `model_not_found`. None accepts any name.
- `delay`: seconds to wait before answering a chat request (to exercise client timeouts); the
  wait ends early when the server stops, so a timed-out test does not hold up the next one.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = (
    "タイトル：『放課後の約束』\n"
    "文体分類：文学風\n"
    "ジャンル：恋愛・学園\n"
    "本文：\n"
    "春の夕暮れ、図書室の窓から差し込む光が、机に広げたノートを淡く染めていた。"
    "美咲は自分の気持ちを把握しきれないまま、隣に座る彼の横顔をそっと見つめた。"
    "「そろそろ帰ろうか」と彼が促すと、彼女は小さく頷き、言えなかった言葉を胸の奥にしまった。"
    "校門を出たとき、彼は立ち止まり、明日もここで会おうと静かに告げた。"
)

MALFORMED_ANSWER = (
    "春の夕暮れ、図書室の窓から差し込む光が机を淡く染めていた。"
    "美咲は自分の気持ちを把握できず、彼が帰りを促すまで黙っていた。"
)


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None

    @property
    def bearer(self) -> str:
        """The token after `Bearer ` in the Authorization header ('' when there is none)."""
        auth = self.headers.get("authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else ""


@dataclass
class ChatServer:
    """An OpenAI-compatible chat server on 127.0.0.1 (a free port), run in a thread; use it as a
    context manager or call start() / stop(). `url` is the base URL a client takes (ends in /v1)."""

    answer: str = ANSWER
    chunk_chars: int = 8
    api_key: str | None = None
    fail_first: int = 0
    fail_status: int = 500
    retry_after_ms: int | None = 10
    models: tuple[str, ...] | None = None
    delay: float = 0.0
    malformed: bool = False
    requests: list[Received] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _httpd: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _failures_left: int = field(default=0, init=False, repr=False)

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[Received]:
        """The POST /v1/chat/completions requests, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> ChatServer:
        self._failures_left = self.fail_first
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._stopping.set()
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the handler asks of the server -------------------------------------------------

    def _record(self, request: Received) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_failure(self) -> bool:
        with self._lock:
            if self._failures_left > 0:
                self._failures_left -= 1
                return True
            return False

    def _text(self) -> str:
        return MALFORMED_ANSWER if self.malformed else self.answer


class _Server(ThreadingHTTPServer):
    # Handler threads may be sleeping out a `delay`; never wait for them when the test ends.
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here, not a failure


def _handler_for(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_ChatHandler):
        chat = server

    return Handler


class _ChatHandler(BaseHTTPRequestHandler):
    chat: ChatServer
    # HTTP/1.0: one request per connection, and a streamed body simply ends when we close it.
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        self.chat._record(self._received(None))
        if not self._authorised():
            return
        if self.path.rstrip("/").endswith("/v1/models"):
            names = self.chat.models or ("test-model",)
            data = [{"id": n, "object": "model", "created": 0, "owned_by": "nonestory-test"} for n in names]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_error(404, f"Unknown path {self.path}", "invalid_request_error", None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.chat._record(self._received(body))
        if not self.path.rstrip("/").endswith("/v1/chat/completions"):
            self._send_error(404, f"Unknown path {self.path}", "invalid_request_error", None)
            return
        if not self._authorised():
            return
        model = str(body.get("model", ""))
        if self.chat.models is not None and model not in self.chat.models:
            self._send_error(404, f"The model `{model}` does not exist or you do not have access to it.",
                             "invalid_request_error", "model_not_found")
            return
        if self.chat._take_failure():
            extra = {"retry-after-ms": str(self.chat.retry_after_ms)} if self.chat.retry_after_ms else {}
            self._send_error(self.chat.fail_status, "The server had an error while processing your request.",
                             "server_error", None, extra)
            return
        if self.chat.delay and self.chat._stopping.wait(self.chat.delay):
            return  # the server is stopping; nobody is waiting for this answer any more
        if body.get("stream"):
            self._send_stream(model)
        else:
            self._send_json(200, _completion(model, self.chat._text()))

    # -- helpers ------------------------------------------------------------------------------

    def _received(self, body: dict[str, Any] | None) -> Received:
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Received(self.command, self.path, headers, body)

    def _authorised(self) -> bool:
        if self.chat.api_key is None:
            return True
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else auth
        if token == self.chat.api_key:
            return True
        # Echo the token on purpose (see the module docstring).
        self._send_error(401, f"Incorrect API key provided: {token}.", "invalid_request_error", "invalid_api_key")
        return False

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, kind: str, code: str | None,
                    headers: dict[str, str] | None = None) -> None:
        error = {"message": message, "type": kind, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers)

    def _send_stream(self, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for chunk in _chunks(model, self.chat._text(), self.chat.chunk_chars):
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": text, "refusal": None}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": len(text), "total_tokens": 100 + len(text)},
    }


def _chunks(model: str, text: str, size: int) -> Iterator[dict[str, Any]]:
    """The chunk sequence OpenAI sends: a role-only delta, content deltas, a finish delta."""
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    yield chunk({"role": "assistant", "content": ""})
    for start in range(0, len(text), max(1, size)):
        yield chunk({"content": text[start:start + size]})
    yield chunk({}, "stop")
