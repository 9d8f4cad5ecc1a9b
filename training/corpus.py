"""Build a story corpus through the OpenAI Batch API: build, submit, status, download.

    python -m training.corpus build --level N1 --out requests.jsonl [--prompts 1000]
    python -m training.corpus submit requests.jsonl --state state.json
    python -m training.corpus status --state state.json
    python -m training.corpus download --state state.json --out output.jsonl [--errors errors.jsonl]
    python -m training.corpus submit requests.jsonl --sync --out output.jsonl [--concurrency 4]

The state file makes `submit` safe to re-run: it records the input's sha256, the uploaded file
id and the batch id, so a crashed or repeated command finds the batch it already paid for.
The API key comes from --api-key or OPENAI_API_KEY and is never printed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core import i18n
from core.files import atomic_write
from core.generation import prompts
from core.generation.base import GENRES, STYLES, GenerationRequest
from core.i18n import _

ENDPOINT = "/v1/chat/completions"
# gpt-4o-mini through the Batch API (half the normal price), dollars per 1M tokens.
PRICE_IN, PRICE_OUT = 0.075, 0.30
MESSAGE_OVERHEAD = 4  # tokens a chat message costs beyond its text (role, separators)


class CorpusError(Exception):
    """A problem the user can fix, in one sentence (exit 2)."""


# -- build ----------------------------------------------------------------------------------

def deal_words(words: Sequence[str], n_prompts: int, per_prompt: int, rng: random.Random) -> list[list[str]]:
    """Deal `per_prompt` words to each prompt from a stream of shuffled passes over the list, so
    every word is asked for floor or ceil of n·k/len times; a pass that starts inside a prompt
    puts the words that prompt already holds last, so no prompt gets a word twice."""
    words = list(dict.fromkeys(words))
    if not 1 <= per_prompt <= len(words):
        raise CorpusError(_("The list has {count} distinct words; use --words-per-prompt between 1 and "
                            "{count}.").format(count=len(words)))
    out: list[list[str]] = []
    current: list[str] = []
    deck: list[str] = []
    while len(out) < n_prompts:
        if not deck:
            deck = rng.sample(words, len(words))
            held = set(current)
            deck.sort(key=lambda w: w in held)  # stable: the rest stay shuffled
        current.append(deck.pop(0))
        if len(current) == per_prompt:
            out.append(current)
            current = []
    return out


def build_requests(words: Sequence[str], *, n_prompts: int | None = None, words_per_prompt: int = 100,
                   seed: int = 0, model: str = "gpt-4o-mini", temperature: float = 1.0,
                   max_tokens: int = 1400) -> list[dict]:
    """Batch input lines (custom_id story_0001.., method, url, body) for a word list. With no
    `n_prompts`, just enough prompts for every word to be asked for once."""
    words = list(dict.fromkeys(w for w in words if w))
    if not words:
        raise CorpusError(_("The word list is empty."))
    k = min(words_per_prompt, len(words)) if n_prompts is None else words_per_prompt
    n = n_prompts if n_prompts is not None else -(-len(words) // k)
    if n < 1:
        raise CorpusError(_("--prompts must be at least 1."))
    rng = random.Random(seed)
    lines = []
    for i, targets in enumerate(deal_words(words, n, k, rng), start=1):
        request = GenerationRequest(targets=tuple(targets), genres=tuple(rng.sample(GENRES, 2)),
                                    style=rng.choice(STYLES))
        body = {"model": model, "temperature": temperature, "max_tokens": max_tokens,
                "messages": prompts.chat_messages(request)}
        lines.append({"custom_id": f"story_{i:04d}", "method": "POST", "url": ENDPOINT, "body": body})
    return lines


def text_tokens(text: str) -> float:
    """Rough token count: ~1 token per non-ASCII (Japanese) character, ~0.25 per ASCII one."""
    ascii_chars = sum(1 for c in text if ord(c) < 128)
    return (len(text) - ascii_chars) + ascii_chars / 4


def estimate_cost(lines: Iterable[dict], price_in: float = PRICE_IN, price_out: float = PRICE_OUT) -> dict:
    """Expected tokens and dollars for Batch input lines: input from the messages' characters
    (see `text_tokens`, plus MESSAGE_OVERHEAD per message), output = each request's max_tokens."""
    n = tokens_in = tokens_out = 0.0
    for line in lines:
        body = line.get("body", {})
        n += 1
        tokens_in += sum(text_tokens(str(m.get("content", ""))) + MESSAGE_OVERHEAD for m in body.get("messages", []))
        tokens_out += int(body.get("max_tokens") or 0)
    cost_in, cost_out = tokens_in * price_in / 1e6, tokens_out * price_out / 1e6
    return {"requests": int(n), "input_tokens": round(tokens_in), "output_tokens": round(tokens_out),
            "price_in": price_in, "price_out": price_out, "cost_in": cost_in, "cost_out": cost_out,
            "cost_total": cost_in + cost_out}


def format_cost(est: dict) -> str:
    return _("{requests} requests: ~{input} input tokens + {output} output tokens at most -> ~{total} ({cost_in} in "
             "+ {cost_out} out at {price_in}/{price_out} per 1M; ~1 token per Japanese char, 0.25 per ASCII "
             "char)").format(
        requests=est["requests"], input=f"{est['input_tokens']:,}", output=f"{est['output_tokens']:,}",
        total=f"${est['cost_total']:.4f}", cost_in=f"${est['cost_in']:.4f}", cost_out=f"${est['cost_out']:.4f}",
        price_in=f"${est['price_in']}", price_out=f"${est['price_out']}")


def load_words(level: str | None, list_path: str | None, word_col: str | None, reading_col: str | None) -> list[str]:
    """Words of a built-in JLPT level (N1..N5) or of a custom CSV/XLSX list (never the app's DB)."""
    if level:
        if level.upper() not in ("N1", "N2", "N3", "N4", "N5"):
            raise CorpusError(_("Unknown level {level}; use one of N1, N2, N3, N4, N5.").format(level=repr(level)))
        from core import vocab
        return vocab.level_words(level.upper())
    from core.wordlists import WordListError, parse_word_list
    path = Path(list_path or "")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(_("Cannot read the word list {path}: {reason}.").format(
            path=path, reason=exc.strerror)) from None
    try:
        return [w.word for w in parse_word_list(data, path.name, word_col=word_col or 0, reading_col=reading_col)]
    except WordListError as exc:
        raise CorpusError(str(exc)) from None


def read_jsonl(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CorpusError(_("Cannot read {path}: {reason}.").format(path=path, reason=exc.strerror)) from None
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise CorpusError(_("{path} is not JSON lines (line {line}): {reason}.").format(
            path=path, line=exc.lineno, reason=exc.msg)) from None


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    atomic_write(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


# -- the API ----------------------------------------------------------------------------------

def make_client(base_url: str | None, api_key: str | None, max_retries: int = 2):
    key = api_key or os.environ.get("OPENAI_API_KEY")
    base = base_url or os.environ.get("OPENAI_BASE_URL") or None
    if not key:
        raise CorpusError(_("No API key; set OPENAI_API_KEY or pass --api-key."))
    import openai  # slow to import; `build` never needs it
    return openai.OpenAI(api_key=key, base_url=base, max_retries=max_retries, timeout=120), key


def _api_error(exc: Exception, key: str) -> CorpusError:
    message = str(exc).replace(key, "***") if key else str(exc)
    return CorpusError(_("The API call failed: {reason}").format(
        reason=message.splitlines()[0] if message else type(exc).__name__))


def _load_state(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise CorpusError(_("The state file {path} is unreadable; fix it or use a new --state file.").format(
            path=path)) from None


def _save_state(path: Path, state: dict) -> None:
    atomic_write(path, json.dumps(state, indent=2))


def submit(input_path: Path, state_path: Path, client) -> dict:
    """Upload and create the batch once; a re-run with the same input finds it again (from the
    state file, or from the batch list when a crash came between create and saving the state)."""
    try:
        data = input_path.read_bytes()
    except OSError as exc:
        raise CorpusError(_("Cannot read {path}: {reason}.").format(path=input_path, reason=exc.strerror)) from None
    sha = hashlib.sha256(data).hexdigest()
    state = _load_state(state_path)
    if state and state.get("input_sha256") != sha:
        raise CorpusError(_("{state} was made for a different input file; use a new --state file for {input}.").format(
            state=state_path, input=input_path))
    state.update(input=str(input_path), input_sha256=sha)
    if not state.get("input_file_id"):
        state["input_file_id"] = client.files.create(file=(input_path.name, data), purpose="batch").id
        _save_state(state_path, state)
    if not state.get("batch_id"):
        known = [b for b in client.batches.list(limit=100).data if b.input_file_id == state["input_file_id"]]
        batch = known[0] if known else client.batches.create(
            input_file_id=state["input_file_id"], endpoint=ENDPOINT, completion_window="24h",
            metadata={"input_sha256": sha[:64]})
        state["batch_id"] = batch.id
        _save_state(state_path, state)
        state["created"] = not known
    return state


def batch_line(batch) -> str:
    counts = batch.request_counts
    done = (_("{completed}/{total} done, {failed} failed").format(
        completed=counts.completed, total=counts.total, failed=counts.failed) if counts else _("no counts yet"))
    return _("batch {id}: {status} ({counts})").format(id=batch.id, status=batch.status, counts=done)


def download(batch, out: Path, errors: Path, client) -> tuple[int, int]:
    """Write the output and error files of a completed batch; returns their line counts."""
    written = []
    for file_id, path in ((batch.output_file_id, out), (batch.error_file_id, errors)):
        data = client.files.content(file_id).content if file_id else b""
        if file_id:
            atomic_write(path, data)
        written.append(sum(1 for line in data.splitlines() if line.strip()))
    return written[0], written[1]


# -- --sync: the same requests as ordinary chat calls -----------------------------------------

def _done_ids(out: Path) -> set[str]:
    """custom_ids already answered in `out`; a torn last line from a crash is dropped."""
    if not out.exists():
        return set()
    rows = []
    for line in out.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    write_jsonl(out, rows)
    return {r.get("custom_id") for r in rows}


def _one_call(client, line: dict) -> tuple[bool, dict]:
    import openai
    row = {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": line["custom_id"], "error": None}
    try:
        completion = client.chat.completions.create(**line["body"])
        row["response"] = {"status_code": 200, "request_id": completion.id, "body": completion.model_dump()}
        return True, row
    except openai.APIStatusError as exc:
        row["response"] = {"status_code": exc.status_code, "request_id": None, "body": exc.body if
                           isinstance(exc.body, dict) and "error" in exc.body else {"error": exc.body}}
    except openai.APIError as exc:
        row["response"] = None
        row["error"] = {"code": type(exc).__name__, "message": str(exc)}
    return False, row


def run_sync(lines: list[dict], out: Path, errors: Path, client, key: str, concurrency: int = 4) -> tuple[int, int, int]:
    """Answer the lines not yet in `out`; successes are appended to `out` as they come, failures
    go to `errors` (rewritten each run, so a re-run retries them). Returns (skipped, ok, failed)."""
    done = _done_ids(out)
    todo = [line for line in lines if line["custom_id"] not in done]
    lock, failed = threading.Lock(), []
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as fh, ThreadPoolExecutor(max(1, concurrency)) as pool:
        for ok, row in pool.map(lambda line: _one_call(client, line), todo):
            text = json.dumps(row, ensure_ascii=False).replace(key, "***") if key else json.dumps(row, ensure_ascii=False)
            with lock:
                if ok:
                    fh.write(text + "\n")
                    fh.flush()
                else:
                    failed.append(json.loads(text))
    if failed or errors.exists():
        write_jsonl(errors, failed)
    return len(lines) - len(todo), len(todo) - len(failed), len(failed)


# -- CLI --------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.corpus", description=_(
        "Build a story corpus through the OpenAI Batch API: build, submit, status, download."))
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help=_("write Batch input lines for a word list"))
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--level", help=_("built-in JLPT level, N1..N5"))
    src.add_argument("--list", help=_("custom word list, a CSV or XLSX file"))
    b.add_argument("--word-col", help=_("column of the words (header text or 0-based index; default 0)"))
    b.add_argument("--reading-col", help=_("column of the readings"))
    b.add_argument("--out", required=True)
    b.add_argument("--words-per-prompt", type=int, default=100)
    b.add_argument("--prompts", type=int, help=_("number of prompts (default: each word once)"))
    b.add_argument("--model", default="gpt-4o-mini")
    b.add_argument("--temperature", type=float, default=1.0)
    b.add_argument("--max-tokens", type=int, default=1400)
    b.add_argument("--seed", type=int, default=0)
    for name in ("submit", "status", "download"):
        s = sub.add_parser(name)
        if name == "submit":
            s.add_argument("input")
            s.add_argument("--sync", action="store_true", help=_("ordinary chat calls instead of the Batch API"))
            s.add_argument("--concurrency", type=int, default=4)
            s.add_argument("--max-retries", type=int, default=2)
        s.add_argument("--state", required=(name != "submit"), help=_("state file (resumable submit)"))
        if name != "status":
            s.add_argument("--out", required=(name == "download"), help=_("output JSONL"))
            s.add_argument("--errors", help=_("failed requests (default: OUT with .errors.jsonl)"))
        s.add_argument("--base-url")
        s.add_argument("--api-key")
    for s in (b, sub.choices["submit"]):
        s.add_argument("--price-in", type=float, default=PRICE_IN, help=_("dollars per 1M input tokens"))
        s.add_argument("--price-out", type=float, default=PRICE_OUT, help=_("dollars per 1M output tokens"))
    return p


def _errors_path(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    return Path(args.errors) if args.errors else out.with_name(out.name.removesuffix(".jsonl") + ".errors.jsonl")


def _cmd_build(args: argparse.Namespace) -> int:
    words = load_words(args.level, args.list, args.word_col, args.reading_col)
    lines = build_requests(words, n_prompts=args.prompts, words_per_prompt=args.words_per_prompt, seed=args.seed,
                           model=args.model, temperature=args.temperature, max_tokens=args.max_tokens)
    write_jsonl(Path(args.out), lines)
    print(_("wrote {requests} requests for {words} words to {path}").format(
        requests=len(lines), words=len(words), path=args.out))
    print(_("expected cost: {cost}").format(cost=format_cost(estimate_cost(lines, args.price_in, args.price_out))))
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    lines = read_jsonl(Path(args.input))
    if args.sync and not args.out:
        raise CorpusError(_("--sync needs --out for the answers."))
    if not args.sync and not args.state:
        raise CorpusError(_("submit needs --state (or --sync with --out)."))
    client, key = make_client(args.base_url, args.api_key, args.max_retries)
    print(_("expected cost: {cost}").format(cost=format_cost(estimate_cost(lines, args.price_in, args.price_out))),
          flush=True)
    import openai
    try:
        if args.sync:
            skipped, ok, failed = run_sync(lines, Path(args.out), _errors_path(args), client, key, args.concurrency)
            print(_("{ok} answered, {failed} failed, {skipped} already in {path}").format(
                ok=ok, failed=failed, skipped=skipped, path=args.out))
            return 1 if failed else 0  # re-running retries only the failed ones
        state = submit(Path(args.input), Path(args.state), client)
        batch = client.batches.retrieve(state["batch_id"])
    except openai.APIError as exc:
        raise _api_error(exc, key) from None
    print((_("created {batch}") if state.get("created") else _("already submitted: {batch}")).format(
        batch=batch_line(batch)))
    return 0


def _cmd_status_or_download(args: argparse.Namespace) -> int:
    state = _load_state(Path(args.state))
    if not state.get("batch_id"):
        raise CorpusError(_("{path} has no batch yet; run submit first.").format(path=args.state))
    client, key = make_client(args.base_url, args.api_key)
    import openai
    try:
        batch = client.batches.retrieve(state["batch_id"])
        if args.command == "status":
            print(batch_line(batch))
            return 0
        if batch.status != "completed":
            print(_("not ready: {batch}").format(batch=batch_line(batch)), file=sys.stderr)
            return 3
        n_out, n_err = download(batch, Path(args.out), _errors_path(args), client)
    except openai.APIError as exc:
        raise _api_error(exc, key) from None
    if n_err:
        print(_("{answers} answers to {path}, {failed} failed requests to {errors}").format(
            answers=n_out, path=args.out, failed=n_err, errors=_errors_path(args)))
    else:
        print(_("{answers} answers to {path}").format(answers=n_out, path=args.out))
    return 0


def main(argv: list[str] | None = None) -> int:
    i18n.set_language(i18n.from_environment())
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            return _cmd_build(args)
        if args.command == "submit":
            return _cmd_submit(args)
        return _cmd_status_or_download(args)
    except CorpusError as exc:
        print(_("error: {message}").format(message=exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
