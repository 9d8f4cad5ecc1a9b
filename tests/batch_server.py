"""A real local HTTP server that speaks the OpenAI files + batches endpoints (and plain chat
completions, for `--sync`), for tests.

    with BatchServer() as server:
        client = openai.OpenAI(base_url=server.url, api_key="sk-test")
        ...
        assert server.count("POST", "/files") == 1

Endpoints: POST /v1/files (multipart: `purpose`, `file`), GET /v1/files/{id},
GET /v1/files/{id}/content, POST /v1/batches, GET /v1/batches (list), GET /v1/batches/{id},
POST /v1/chat/completions (non-streamed). Behaviour per instance:

- `instant`: a created batch is `completed` at once; otherwise it walks `STEPS`
  (validating -> in_progress -> finalizing -> completed), one step per retrieve.
- `fail_ids`: custom_ids whose requests fail with status 500; they go to the batch's error file
  (and chat requests whose user message contains `fail_marker` get a 500 too).
- `answer`: the canned headed story every request gets (the chat server's `ANSWER`).
Every request is recorded in `server.requests` (method, path, headers, body bytes).
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.chat_server import ANSWER

STEPS = ("validating", "in_progress", "finalizing", "completed")


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class BatchServer:
    instant: bool = False
    fail_ids: frozenset[str] = frozenset()
    fail_marker: str | None = None
    answer: str = ANSWER
    requests: list[Received] = field(default_factory=list, init=False)
    files: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)  # id -> meta + bytes
    batches: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    _ids: Any = field(default_factory=itertools.count, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _httpd: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def count(self, method: str, path_suffix: str) -> int:
        """How many requests had this method and a path ending in `path_suffix`."""
        with self._lock:
            return sum(1 for r in self.requests if r.method == method and r.path.rstrip("/").endswith(path_suffix))

    def start(self) -> BatchServer:
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> BatchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state changes, under the lock --------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):04d}"

    def _add_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        with self._lock:
            fid = self._new_id("file")
            self.files[fid] = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                               "filename": filename, "purpose": purpose, "status": "processed", "data": data}
            return _public(self.files[fid])

    def _create_batch(self, body: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            if body.get("input_file_id") not in self.files:
                return None
            bid = self._new_id("batch")
            lines = self.files[body["input_file_id"]]["data"].decode("utf-8").splitlines()
            self.batches[bid] = {
                "id": bid, "object": "batch", "endpoint": body.get("endpoint"), "errors": None,
                "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window"),
                "status": "validating", "output_file_id": None, "error_file_id": None,
                "created_at": int(time.time()), "metadata": body.get("metadata"),
                "request_counts": {"total": sum(1 for x in lines if x.strip()), "completed": 0, "failed": 0},
            }
        if self.instant:
            self._advance(bid, to_end=True)
        return self._batch(bid)

    def _batch(self, bid: str) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.batches[bid]))

    def _advance(self, bid: str, to_end: bool = False) -> None:
        with self._lock:
            batch = self.batches[bid]
            step = STEPS.index(batch["status"]) if batch["status"] in STEPS else len(STEPS) - 1
            batch["status"] = STEPS[-1] if to_end else STEPS[min(step + 1, len(STEPS) - 1)]
            if batch["status"] == "completed" and batch["output_file_id"] is None:
                self._finish(batch)

    def _finish(self, batch: dict[str, Any]) -> None:
        """Answer every input line: a canned story, or a 500 for the ids in `fail_ids`."""
        out, err = [], []
        for n, line in enumerate(self.files[batch["input_file_id"]]["data"].decode("utf-8").splitlines()):
            if not line.strip():
                continue
            req = json.loads(line)
            cid = req["custom_id"]
            if cid in self.fail_ids:
                body = {"error": {"message": "The server had an error.", "type": "server_error", "code": None}}
                err.append({"id": f"batch_req_{n}", "custom_id": cid, "error": None,
                            "response": {"status_code": 500, "request_id": f"req_{n}", "body": body}})
            else:
                out.append({"id": f"batch_req_{n}", "custom_id": cid, "error": None,
                            "response": {"status_code": 200, "request_id": f"req_{n}",
                                         "body": _completion(req["body"].get("model", ""), self.answer)}})
        for rows, key in ((out, "output_file_id"), (err, "error_file_id")):
            if rows:
                data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
                fid = self._new_id("file")
                self.files[fid] = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                                   "filename": f"{batch['id']}_{key}.jsonl", "purpose": "batch_output",
                                   "status": "processed", "data": data}
                batch[key] = fid
        batch["request_counts"].update(completed=len(out), failed=len(err))
        batch["completed_at"] = int(time.time())


def _public(file: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in file.items() if k != "data"}


def _completion(model: str, text: str) -> dict[str, Any]:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": text, "refusal": None}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": len(text), "total_tokens": 100 + len(text)}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


def _handler_for(server: BatchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        srv = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    srv: BatchServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self, body: bytes) -> list[str]:
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.srv._lock:
            self.srv.requests.append(Received(self.command, self.path, headers, body))
        path = self.path.split("?", 1)[0].rstrip("/")
        return path.split("/")[2:] if path.startswith("/v1/") else []  # ["files", id, "content"]

    def do_GET(self) -> None:
        parts = self._record(b"")
        files, batches = self.srv.files, self.srv.batches
        if parts[:1] == ["files"] and len(parts) >= 2 and parts[1] in files:
            if parts[2:] == ["content"]:
                return self._send(200, files[parts[1]]["data"], "application/octet-stream")
            if len(parts) == 2:
                return self._json(200, _public(files[parts[1]]))
        if parts == ["batches"]:
            data = [self.srv._batch(b) for b in reversed(list(batches))]
            return self._json(200, {"object": "list", "data": data, "has_more": False,
                                    "first_id": data[0]["id"] if data else None,
                                    "last_id": data[-1]["id"] if data else None})
        if parts[:1] == ["batches"] and len(parts) == 2 and parts[1] in batches:
            self.srv._advance(parts[1])
            return self._json(200, self.srv._batch(parts[1]))
        self._error(404, f"Unknown path {self.path}")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self._record(body)
        if parts == ["files"]:
            return self._upload(body)
        if parts == ["batches"]:
            batch = self.srv._create_batch(json.loads(body or b"{}"))
            return self._json(200, batch) if batch else self._error(400, "No such input file.")
        if parts == ["chat", "completions"]:
            req = json.loads(body or b"{}")
            marker = self.srv.fail_marker
            if marker and any(marker in str(m.get("content", "")) for m in req.get("messages", [])):
                return self._error(500, "The server had an error.")
            return self._json(200, _completion(req.get("model", ""), self.srv.answer))
        self._error(404, f"Unknown path {self.path}")

    def _upload(self, body: bytes) -> None:
        head = f"Content-Type: {self.headers.get('Content-Type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts() if message.is_multipart() else ():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
        if "file" not in fields or fields.get("purpose", (None, b""))[1] != b"batch":
            return self._error(400, "Upload a multipart form with a file and purpose=batch.")
        self._json(200, self.srv._add_file(fields["file"][1], fields["file"][0] or "upload.jsonl", "batch"))

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"message": message, "type": "invalid_request_error" if status < 500
                                      else "server_error", "param": None, "code": None}})

    def _send(self, status: int, data: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
