"""The job queue and workers on a real DuckDB file, with the offline and API backends."""
from __future__ import annotations

import threading
import time

import pytest

from core import store
from core.generation import registry
from core.generation.base import GenerationError, GenerationRequest
from core.generation.pipeline import repeated_sentence_rate
from core.jobs import request_from_json, request_to_json
from tests.chat_server import ChatServer


def wait(db, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = store.get_job(db, job_id)
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']}")


@pytest.fixture
def db(tmp_path):
    database = store.Database(tmp_path / "jobs.duckdb")
    yield database
    for m in MANAGERS:
        m.close()
    MANAGERS.clear()
    database.close()


MANAGERS: list = []


def JobManager(db):  # noqa: N802 - every manager a test makes is closed after it
    from core.jobs import JobManager as Real

    MANAGERS.append(Real(db))
    return MANAGERS[-1]


def test_request_survives_json_round_trip():
    r = GenerationRequest(targets=("把握", "促す"), genres=("恋愛", "異能力"), style="評論風", seed=7, n=3)
    assert request_from_json(request_to_json(r)) == r


def test_story_job_streams_saves_and_reports_candidates(db):
    manager = JobManager(db)
    request = GenerationRequest(targets=("把握", "促す"), seed=5, n=3)
    job_id = manager.submit(registry.EXAMPLES, request, profile="hana")
    job = wait(db, job_id)
    assert job["status"] == "done" and len(job["story_ids"]) == 1
    assert len(job["candidates"]) == 3 and job["candidates"][0]["winner"]
    story = store.get_story(db, job["story_ids"][0])
    assert story["source"] == "generated" and story["profile"] == "hana" and story["backend"] == "examples"
    assert story["targets"] == ["把握", "促す"] and story["coverage"] == 1.0
    assert manager.live(job_id).text().strip()  # the page could follow it as it arrived


def test_keep_all_stores_every_candidate(db):
    job_id = JobManager(db).submit(registry.EXAMPLES, GenerationRequest(seed=1, n=2), keep_all=True)
    assert len(wait(db, job_id)["story_ids"]) == 2


def test_same_seed_same_story(db):
    manager = JobManager(db)
    ids = [manager.submit(registry.EXAMPLES, GenerationRequest(targets=("和やか",), seed=11)) for _ in range(2)]
    texts = [store.get_story(db, wait(db, i)["story_ids"][0])["text"] for i in ids]
    assert texts[0] == texts[1]


def test_concurrent_submissions_all_finish_in_order_of_arrival(db):
    manager = JobManager(db)
    ids, errors = [], []

    def submit(k):
        try:
            ids.append(manager.submit(registry.EXAMPLES, GenerationRequest(seed=k), profile=f"p{k % 3}"))
        except Exception as exc:  # noqa: BLE001 - any failure is the test's failure
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(k,)) for k in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    jobs = [wait(db, i) for i in ids]
    assert not errors and all(j["status"] == "done" for j in jobs)
    started = sorted(jobs, key=lambda j: j["started"])
    assert [j["id"] for j in started] == sorted(ids)  # one worker per model, first come first served
    assert store.count_stories(db) == 12


def test_api_job_streams_from_a_real_local_server(db, monkeypatch):
    with ChatServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        spec = registry.spec_for_backend("openai", "story-model")
        job = wait(db, JobManager(db).submit(spec, GenerationRequest(targets=("把握", "促す"), seed=1)))
        assert job["status"] == "done", job["error"]
        story = store.get_story(db, job["story_ids"][0])
        assert story["backend"] == "openai" and story["model"] == "story-model" and story["title"]
        assert "本文" not in story["text"] and story["coverage"] == 1.0


def test_api_down_fails_the_job_with_one_line_and_worker_keeps_going(db, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    manager = JobManager(db)
    failed = wait(db, manager.submit(registry.spec_for_backend("openai", "m"), GenerationRequest()))
    assert failed["status"] == "failed" and "Cannot reach" in failed["error"] and "\n" not in failed["error"]
    assert wait(db, manager.submit(registry.EXAMPLES, GenerationRequest()))["status"] == "done"


def test_a_jobs_error_is_written_in_the_language_of_who_asked(db, monkeypatch):
    """The worker thread writes the job's error in the submitting session's language."""
    from core import i18n

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    manager = JobManager(db)
    with i18n.language("ja"):
        job_id = manager.submit(registry.spec_for_backend("openai", "m"), GenerationRequest())
    failed = wait(db, job_id)
    assert failed["status"] == "failed" and failed["request"]["language"] == "ja"
    english = wait(db, manager.submit(registry.spec_for_backend("openai", "m"), GenerationRequest()))["error"]
    assert "Cannot reach" in english and failed["error"] != english and "Cannot reach" not in failed["error"]


def test_cancel_a_queued_job(db):
    with ChatServer(delay=1.5) as server:
        spec = registry.ModelSpec("slow", "openai", "slow", "chat")
        import os
        os.environ["OPENAI_BASE_URL"] = server.url
        try:
            manager = JobManager(db)
            first = manager.submit(spec, GenerationRequest())
            second = manager.submit(spec, GenerationRequest())
            assert store.queue_position(db, second) == 1
            assert manager.cancel(second) == "cancelled"
            assert wait(db, first)["status"] == "done"
            assert store.get_job(db, second)["status"] == "cancelled" and not store.get_job(db, second)["story_ids"]
        finally:
            del os.environ["OPENAI_BASE_URL"]


def test_jobs_left_behind_by_a_restart_are_picked_up(db):
    job_id = store.create_job(db, profile="", kind="story", model_name=registry.EXAMPLES.name, backend="examples",
                              model="example-passage", prompt_format="", request=request_to_json(GenerationRequest()))
    store.mark_running(db, job_id)  # the app died while this was running
    JobManager(db)
    assert wait(db, job_id)["status"] == "done"


def test_batch_job_saves_n_stories_with_progress(db):
    requests = [GenerationRequest(targets=("把握",), seed=i) for i in range(5)]
    job = wait(db, JobManager(db).submit_batch(registry.EXAMPLES, requests, profile="hana"))
    assert job["status"] == "done" and job["done_count"] == 5 and len(job["story_ids"]) == 5


def test_bad_request_is_one_sentence():
    with pytest.raises(GenerationError, match="Temperature must be between 0 and 2."):
        GenerationRequest(temperature=3)


@pytest.mark.parametrize("text, rate", [("a文です。b文です。", 0.0), ("同じ文です。同じ文です。違う文です。違う文です。", 0.5)])
def test_repeated_sentence_rate(text, rate):
    assert repeated_sentence_rate(text) == pytest.approx(rate)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from training.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny") / "model")


def test_local_model_job_runs_through_the_real_loading_path(db, tiny_model):
    spec = registry.find(str(tiny_model), "hf")
    request = GenerationRequest(targets=("把握",), seed=4, max_new_tokens=24, n=2)
    job = wait(db, JobManager(db).submit(spec, request, profile="hana"))
    assert job["status"] == "done", job["error"]
    assert len(job["candidates"]) == 2 and not job["warning"]
    story = store.get_story(db, job["story_ids"][0])
    assert story["backend"] == "hf" and story["model"] == str(tiny_model)
    assert story["params"]["max_new_tokens"] == 24 and story["params"]["seed"] in (4, 5)


def test_unloadable_local_model_falls_back_to_example_passage_with_one_line(db, tmp_path):
    spec = registry.find(str(tmp_path / "no-such-model"), "hf")
    job = wait(db, JobManager(db).submit(spec, GenerationRequest(targets=("把握",), seed=1)))
    assert job["status"] == "done"
    assert "Wrote an example passage instead." in job["warning"] and "\n" not in job["warning"]
    assert store.get_story(db, job["story_ids"][0])["backend"] == "examples"


def test_cli_generate_json_saves_the_story():
    import json

    from tests.test_cli import cli
    r = cli("generate", "--backend", "examples", "--words", "把握,促す", "--seed", "2", "--n", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"id", "title", "text", "backend", "model", "score", "targets_used", "targets_missed"}
    assert out["targets_used"] == ["把握", "促す"] and out["backend"] == "examples" and out["id"] == 1
    r = cli("generate", "--backend", "examples", "--temperature", "9", "--words", "把握")
    assert r.returncode == 2 and "Temperature must be" in r.stderr.decode()


def test_default_model_is_example_passage_offline_and_train002_once_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert registry.default_model() == registry.EXAMPLES
    assert registry.available()[0] == registry.EXAMPLES
    repo = tmp_path / "hub" / "models--BBusagi--sft-nonestory-train002"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text("{}")
    assert registry.default_model().model == "BBusagi/sft-nonestory-train002"
    monkeypatch.setenv("NONESTORY_DEFAULT_MODEL", "example-passage")
    assert registry.default_model() == registry.EXAMPLES
