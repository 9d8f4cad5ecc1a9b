"""training.corpus: build Batch input lines, and submit / status / download / --sync against a
real local HTTP server (tests/batch_server.py) through the real CLI in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.batch_server import BatchServer
from training import corpus
from training.prepare import read_output

ROOT = Path(__file__).resolve().parent.parent
from tests.shared import CORPUS as SHARED  # noqa: E402
WORDS = [f"語{i:02d}" for i in range(23)]



def batch_lines(path: Path) -> list[dict]:
    """A Batch output or error file through the reader training.prepare uses: per line its
    number, custom_id, status code, answer text and reject reason."""
    rows = []
    for n, raw, text, reason in read_output(Path(path)):
        line = json.loads(raw) if reason != "malformed_json" else {}
        response = line.get("response") if isinstance(line.get("response"), dict) else {}
        rows.append({"line": n, "custom_id": line.get("custom_id"), "status_code": response.get("status_code"),
                     "text": text, "reason": reason})
    return rows

def cli(*args: str, base_url: str | None = None, key: str = "sk-test-secret") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": key}
    env.pop("OPENAI_BASE_URL", None)
    if base_url:
        env["OPENAI_BASE_URL"] = base_url
    return subprocess.run([sys.executable, "-m", "training.corpus", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def targets_of(line: dict) -> list[str]:
    user = line["body"]["messages"][1]["content"]
    return user.split("語彙リスト：\n", 1)[1].split("\n", 1)[0].split("、")


@pytest.fixture
def requests_file(tmp_path) -> Path:
    path = tmp_path / "requests.jsonl"
    corpus.write_jsonl(path, corpus.build_requests(WORDS, n_prompts=6, words_per_prompt=5, seed=1))
    return path


def test_build_counts_ids_and_shape():
    lines = corpus.build_requests(WORDS, n_prompts=7, words_per_prompt=5, seed=3)
    assert [x["custom_id"] for x in lines] == [f"story_{i:04d}" for i in range(1, 8)]
    first = lines[0]
    assert first["method"] == "POST" and first["url"] == "/v1/chat/completions"
    assert list(first["body"]) == ["model", "temperature", "max_tokens", "messages"]
    assert first["body"]["model"] == "gpt-4o-mini" and first["body"]["max_tokens"] == 1400
    assert [m["role"] for m in first["body"]["messages"]] == ["system", "user"]


@pytest.mark.skipif(not SHARED.exists(), reason="no shared corpus")
def test_build_line_has_the_keys_of_the_original_lines():
    original = json.loads((SHARED / "requests_train1.jsonl").read_text(encoding="utf-8").splitlines()[0])
    ours = corpus.build_requests(WORDS, n_prompts=1, words_per_prompt=5)[0]
    assert ours.keys() == original.keys()
    assert ours["body"].keys() == original["body"].keys()
    assert [m.keys() for m in ours["body"]["messages"]] == [m.keys() for m in original["body"]["messages"]]


@pytest.mark.parametrize("n_prompts,per_prompt", [(7, 5), (10, 23), (3, 4), (50, 9)])
def test_build_spreads_words_evenly_without_duplicates_in_a_prompt(n_prompts, per_prompt):
    lines = corpus.build_requests(WORDS, n_prompts=n_prompts, words_per_prompt=per_prompt, seed=5)
    counts = Counter()
    for line in lines:
        targets = targets_of(line)
        assert len(targets) == per_prompt and len(set(targets)) == per_prompt
        counts.update(targets)
    seen = [counts[w] for w in WORDS]
    assert max(seen) - min(seen) <= 1
    assert sum(seen) == n_prompts * per_prompt


def test_build_is_deterministic_for_a_seed_and_draws_styles_and_genres():
    a = corpus.build_requests(WORDS, n_prompts=12, words_per_prompt=5, seed=9)
    assert a == corpus.build_requests(WORDS, n_prompts=12, words_per_prompt=5, seed=9)
    assert a != corpus.build_requests(WORDS, n_prompts=12, words_per_prompt=5, seed=10)
    styles = {line["body"]["messages"][1]["content"].split("文体スタイル：", 1)[1][:4] for line in a}
    assert len(styles) > 1


def test_build_without_prompt_count_asks_for_every_word_once():
    lines = corpus.build_requests(WORDS, words_per_prompt=5)
    assert len(lines) == 5
    assert {w for line in lines for w in targets_of(line)} == set(WORDS)


def test_estimate_cost_follows_the_stated_rule():
    line = {"body": {"max_tokens": 1000, "messages": [{"role": "user", "content": "日本語abcd"}]}}
    est = corpus.estimate_cost([line, line], price_in=1.0, price_out=2.0)
    # 3 Japanese chars + 4 ASCII chars / 4 + 4 overhead = 8 tokens per request
    assert est["input_tokens"] == 16 and est["output_tokens"] == 2000
    assert est["cost_total"] == pytest.approx(16 / 1e6 + 4000 / 1e6)


def test_build_cli_from_a_csv_list_prints_the_cost(tmp_path):
    (tmp_path / "list.csv").write_text("word,reading\n" + "".join(f"{w},ご\n" for w in WORDS), encoding="utf-8")
    out = tmp_path / "r.jsonl"
    res = cli("build", "--list", str(tmp_path / "list.csv"), "--word-col", "word", "--reading-col", "reading",
              "--out", str(out), "--words-per-prompt", "5", "--prompts", "4", "--max-tokens", "1000",
              "--price-in", "1", "--price-out", "2")
    assert res.returncode == 0, res.stderr
    lines = corpus.read_jsonl(out)
    assert len(lines) == 4 and all(set(targets_of(x)) <= set(WORDS) for x in lines)
    est = corpus.estimate_cost(lines, 1.0, 2.0)
    assert f"{est['input_tokens']:,} input tokens + 4,000 output tokens" in res.stdout
    assert f"${est['cost_total']:.4f}" in res.stdout


def test_build_cli_with_a_wrong_column_is_one_line_exit_2(tmp_path):
    (tmp_path / "list.csv").write_text("word\n語\n", encoding="utf-8")
    res = cli("build", "--list", str(tmp_path / "list.csv"), "--word-col", "nope", "--out", str(tmp_path / "r.jsonl"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


def test_submit_status_download_and_resubmit_does_not_pay_twice(tmp_path, requests_file):
    state, out, errors = tmp_path / "state.json", tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    with BatchServer(fail_ids=frozenset({"story_0002"})) as server:
        res = cli("submit", str(requests_file), "--state", str(state), base_url=server.url)
        assert res.returncode == 0, res.stderr
        assert "expected cost" in res.stdout and "created batch" in res.stdout
        assert "sk-test-secret" not in res.stdout + res.stderr + state.read_text()
        res = cli("download", "--state", str(state), "--out", str(out), base_url=server.url)
        assert res.returncode == 3 and not out.exists()
        assert res.stderr.count("\n") == 1 and "finalizing" in res.stderr and "0/6 done" in res.stderr
        res = cli("submit", str(requests_file), "--state", str(state), base_url=server.url)
        assert res.returncode == 0 and "already submitted" in res.stdout
        assert cli("status", "--state", str(state), base_url=server.url).stdout.startswith("batch batch-")
        res = cli("download", "--state", str(state), "--out", str(out), "--errors", str(errors), base_url=server.url)
        assert res.returncode == 0, res.stderr
        assert server.count("POST", "/files") == 1 and server.count("POST", "/batches") == 1
    answers = batch_lines(out)
    assert sorted(a["custom_id"] for a in answers) == [f"story_{i:04d}" for i in (1, 3, 4, 5, 6)]
    assert all(a["status_code"] == 200 and a["text"].startswith("タイトル") for a in answers)
    failed = batch_lines(errors)
    assert [(f["custom_id"], f["status_code"], f["reason"]) for f in failed] == [("story_0002", 500, "failed_request")]


def submit_in_process(monkeypatch, server: BatchServer, *args: str) -> int:
    """A first submit run in this process (the subprocess runs are the ones under test)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    return corpus.main(["submit", *args])


def test_submit_after_a_crash_before_the_state_was_saved_finds_the_batch(tmp_path, requests_file, monkeypatch):
    state = tmp_path / "state.json"
    with BatchServer(instant=True) as server:
        assert submit_in_process(monkeypatch, server, str(requests_file), "--state", str(state)) == 0
        saved = json.loads(state.read_text())
        state.write_text(json.dumps({k: v for k, v in saved.items() if k != "batch_id"}))
        res = cli("submit", str(requests_file), "--state", str(state), base_url=server.url)
        assert res.returncode == 0 and server.count("POST", "/batches") == 1
        assert json.loads(state.read_text())["batch_id"] == saved["batch_id"]


def test_submit_with_a_state_file_for_another_input_is_refused(tmp_path, requests_file, monkeypatch):
    state, other = tmp_path / "state.json", tmp_path / "other.jsonl"
    corpus.write_jsonl(other, corpus.build_requests(WORDS, n_prompts=2, words_per_prompt=5, seed=2))
    with BatchServer(instant=True) as server:
        assert submit_in_process(monkeypatch, server, str(requests_file), "--state", str(state)) == 0
        res = cli("submit", str(other), "--state", str(state), base_url=server.url)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and "different input" in res.stderr
        assert server.count("POST", "/files") == 1


def test_submit_without_a_key_is_one_line_exit_2(tmp_path, requests_file):
    res = cli("submit", str(requests_file), "--state", str(tmp_path / "s.json"), key="")
    assert res.returncode == 2 and "OPENAI_API_KEY" in res.stderr and res.stderr.count("\n") == 1


def test_sync_writes_batch_output_lines_and_resumes(tmp_path, requests_file):
    out = tmp_path / "out.jsonl"
    with BatchServer() as server:
        res = cli("submit", str(requests_file), "--sync", "--out", str(out), "--concurrency", "3", base_url=server.url)
        assert res.returncode == 0, res.stderr
        rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        assert {"id", "custom_id", "response", "error"} <= rows[0].keys()
        assert rows[0]["response"]["status_code"] == 200
        assert rows[0]["response"]["body"]["choices"][0]["message"]["content"].startswith("タイトル")
        # Interrupted: half the lines and a torn one survive.
        kept = out.read_text(encoding="utf-8").splitlines()[:3]
        out.write_text("\n".join(kept) + "\n" + kept[0][:20], encoding="utf-8")
        calls = server.count("POST", "/chat/completions")
        res = cli("submit", str(requests_file), "--sync", "--out", str(out), base_url=server.url)
        assert res.returncode == 0, res.stderr
        assert server.count("POST", "/chat/completions") - calls == 3
    ids = [a["custom_id"] for a in batch_lines(out)]
    assert sorted(ids) == [f"story_{i:04d}" for i in range(1, 7)]


def test_sync_failures_go_to_the_errors_file_without_the_key(tmp_path):
    requests_file, out = tmp_path / "r.jsonl", tmp_path / "out.jsonl"
    corpus.write_jsonl(requests_file, corpus.build_requests(["失敗", *WORDS], n_prompts=3, words_per_prompt=23))
    with BatchServer(fail_marker="失敗") as server:
        res = cli("submit", str(requests_file), "--sync", "--out", str(out), "--max-retries", "0", base_url=server.url)
    assert res.returncode == 1 and "failed" in res.stdout
    errors = batch_lines(tmp_path / "out.errors.jsonl")
    assert errors and all(e["status_code"] == 500 and e["reason"] == "failed_request" for e in errors)
    answered = {a["custom_id"] for a in batch_lines(out)}
    assert answered.isdisjoint(e["custom_id"] for e in errors)
    assert len(answered) + len(errors) == 3


@pytest.mark.skipif(not SHARED.exists(), reason="no shared corpus")
def test_the_original_corpus_files_are_readable():
    lines = corpus.read_jsonl(SHARED / "requests_train1.jsonl")
    est = corpus.estimate_cost(lines)
    assert est["requests"] == 1000 and est["output_tokens"] == 1_400_000
    assert 0.1 < est["cost_total"] < 5
    answers = batch_lines(SHARED / "batch_output_sample.jsonl")
    assert len(answers) == 40
    assert all(a["status_code"] == 200 and a["custom_id"] and a["text"] and a["reason"] is None for a in answers)


def test_the_batch_output_reader_names_malformed_lines(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text('{"custom_id": "a", "response": {"status_code": 200, "body": {}}}\nnot json\n', encoding="utf-8")
    rows = batch_lines(path)
    assert [(r["line"], r["reason"]) for r in rows] == [(1, "wrong_format"), (2, "malformed_json")]
