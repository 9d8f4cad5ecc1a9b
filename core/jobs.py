"""The generation job queue and its workers, inside the app process.

A page never generates inside its own request: it submits a job (a database row) and polls.
One worker thread per model runs that model's jobs one at a time, so one copy of a model is
in memory and generations never interleave their seeds; other jobs wait and are told their
place in line. Tokens go to an in-memory buffer the page reads as they arrive; the finished
story goes to the database, so a closed tab or a lost phone connection loses nothing.
"""
from __future__ import annotations

import dataclasses
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

from core import i18n, learner, store
from core.generation import prompts, registry
from core.generation.base import SUMMARY_MAX, Backend, GenerationError, GenerationRequest
from core.generation.examples import LABEL
from core.generation.local import LocalBackend
from core.generation.pipeline import Cancelled, Candidate, produce, produce_batch
from core.i18n import _

FROM_MY_WORDS = "from_my_words"  # request.extra key: the learner.Plan a story was written from


def request_to_json(request: GenerationRequest) -> dict:
    d = dataclasses.asdict(request)
    if not d.get("extra"):
        d.pop("extra", None)  # e.g. {"min_new_tokens": 64} from a benchmark; usually empty
    return d


LANGUAGE = "language"  # the request's key for the interface language of who asked


def job_language(job: dict) -> str | None:
    """The language the job's asker used: its warnings and errors are written in it."""
    request = job.get("request")
    first = request[0] if isinstance(request, list) and request else request
    return first.get(LANGUAGE) if isinstance(first, dict) else None


def request_from_json(d: dict) -> GenerationRequest:
    d = dict(d)
    d["targets"], d["genres"] = tuple(d.get("targets", ())), tuple(d.get("genres", ("学園", "恋愛")))
    return GenerationRequest(**{k: v for k, v in d.items() if k in GenerationRequest.__dataclass_fields__})


def continue_story(db: store.Database, request: GenerationRequest, story_id: int, profile: str,
                   any_profile: bool = False) -> GenerationRequest:
    """`request` as the sequel of story `story_id`: the earlier story's 前情提要 (its first and last
    sentences, prompts.story_summary) and its id. A student continues only a story of their own
    Library (`profile`'s); teachers and admins (`any_profile`) any story that is not in a bin."""
    story = store.get_story(db, story_id)
    if story is None or story["deleted_at"] is not None:
        raise GenerationError(_("There is no story #{id} to continue; pick one from the Library.").format(id=story_id))
    if not any_profile and story["profile"] != profile:
        raise GenerationError(_("Story #{id} is not in your Library; you can continue only your own stories.")
                              .format(id=story_id))
    summary = prompts.story_summary(story["text"].replace(LABEL, ""), SUMMARY_MAX // 2)
    if not summary:
        raise GenerationError(_("Story #{id} has no text to continue.").format(id=story_id))
    return dataclasses.replace(request, continues=summary, continued_from=story_id)


def spec_of(job: dict) -> registry.ModelSpec:
    return registry.ModelSpec(job["model_name"], job["backend"], job["model"], job["prompt_format"])


@dataclass
class Live:
    """What a page can show of a running job before anything is stored."""

    pieces: list[list[str]] = field(default_factory=lambda: [[]])
    cancel: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0
    first_token: float | None = None  # seconds from start to the first streamed piece
    finished: float | None = None  # perf_counter when the story was stored (or the job ended)

    def add(self, candidate: int, piece: str) -> None:
        while len(self.pieces) <= candidate:
            self.pieces.append([])
        if self.first_token is None:
            self.first_token = time.perf_counter() - self.started
        self.pieces[candidate].append(piece)

    def text(self, candidate: int | None = None) -> str:
        index = len(self.pieces) - 1 if candidate is None else candidate
        return "".join(self.pieces[index]) if 0 <= index < len(self.pieces) else ""


def _story_meta(job: dict, request: GenerationRequest, c: Candidate, backend: Backend) -> store.Story:
    d = c.draft
    return store.Story(profile=job["profile"], source="generated",
                       backend=backend.name, model=backend.model, params=request_to_json(request) | {"seed": c.seed},
                       prompt=d.prompt, targets=request.targets, title=d.title, genre=d.genre or request.genre,
                       style=d.style or request.style)


def backend_for(spec: registry.ModelSpec) -> tuple[Backend, str]:
    """The backend for a model, loaded now (a ct2 model converted on first use), and a warning
    for the job. A ct2 model runs on transformers where CTranslate2 is missing (saying so); a
    local model that does not load falls back to the example passage with a one-line warning
    instead of failing every job."""
    backend, note = registry.make_backend(spec), registry.engine_note(spec)
    if not isinstance(backend, LocalBackend):
        return backend, note
    try:
        backend.loaded()
    except GenerationError as exc:
        if backend.name == "ct2":  # the conversion failed: transformers may still run the model
            fallback, warning = backend_for(dataclasses.replace(spec, backend="hf"))
            return (fallback, _("{error} The transformers engine wrote it instead.").format(error=exc)) \
                if fallback.name == "hf" else (fallback, warning)
        warning = " ".join(w for w in (note, _("{error} Wrote an example passage instead.").format(error=exc)) if w)
        return registry.make_backend(registry.EXAMPLES), warning
    return backend, note


def run_job(db: store.Database, job: dict, backend: Backend, warning: str = "", live: Live | None = None) -> dict:
    """Carry out one job row to the end: generate, rank, store. Returns the finished row."""
    live = live or Live()
    live.started = time.perf_counter()
    try:
        if job["kind"] == "batch":
            ids, summaries, notes = _run_batch(db, job, backend)
        else:
            ids, summaries, notes = _run_story(db, job, backend, live)
        warning = " ".join(dict.fromkeys(w for w in (warning, *notes) if w))
    except Cancelled:
        store.mark_finished(db, job["id"], "cancelled", warning=warning)
    except GenerationError as exc:
        store.mark_finished(db, job["id"], "failed", error=str(exc), warning=warning)
    except Exception as exc:  # a bug: record it on the job, keep the worker alive, log the trace
        traceback.print_exc(file=sys.stderr)
        store.mark_finished(db, job["id"], "failed",
                            error=_("Internal error: {kind}: {error}").format(kind=type(exc).__name__, error=exc)[:300])
    else:
        store.mark_finished(db, job["id"], "done", warning=warning, story_ids=ids, candidates=summaries)
    live.finished = time.perf_counter()
    return store.get_job(db, job["id"])


def _run_story(db: store.Database, job: dict, backend: Backend, live: Live
               ) -> tuple[list[int], list[dict], list[str]]:
    """Generate, rank, store; then the profile's real coverage of the winner (and, for a story
    from the student's words, the target words it used enter learning). Returns the story ids,
    the candidates' summaries (the winner's with "personal") and warnings for the job. (A draft's
    own warning, such as hf's "fewer characters than asked", is not passed on: it never was.)"""
    request = request_from_json(job["request"])
    candidates = produce(backend, request, on_delta=live.add, cancel=live.cancel)
    keep = candidates if job["keep_all"] else candidates[:1]
    ids = [store.save_story(db, c.analysis, _story_meta(job, request, c, backend)) for c in keep]
    summaries = [c.summary() | {"kept": i < len(keep), "winner": i == 0} for i, c in enumerate(candidates)]
    notes = []
    if job["profile"]:
        learn = bool(request.extra.get(FROM_MY_WORDS))
        try:
            summaries[0]["personal"] = learner.settle(db, job["profile"], candidates[0].analysis, learn)
        except store.StoreError as exc:  # the story is saved; say why its words were not recorded
            notes.append(_("The story is saved, but its words were not recorded for {profile}: {error}").format(
                profile=job["profile"], error=exc))
    return ids, summaries, notes


def _run_batch(db: store.Database, job: dict, backend: Backend, group: int = 8
               ) -> tuple[list[int], list[dict], list[str]]:
    """N stories, `group` at a time through the backend's batch path, progress after each group."""
    requests = [request_from_json(r) for r in job["request"]]
    ids, summaries = [], []
    for start in range(0, len(requests), group):
        if store.status_of(db, job["id"]) == "cancelled":
            raise Cancelled()
        part = requests[start:start + group]
        for request, c in zip(part, produce_batch(backend, part)):
            ids.append(store.save_story(db, c.analysis, _story_meta(job, request, c, backend)))
            summaries.append(c.summary())
        store.mark_progress(db, job["id"], len(ids), ids)
    return ids, summaries, []


class JobManager:
    """Submits jobs and runs them on one worker thread per model."""

    def __init__(self, db: store.Database):
        self.db = db
        self._lock = threading.Lock()
        self._queues: dict[str, queue.Queue] = {}
        self._backends: dict[str, tuple[Backend, str]] = {}
        self._live: dict[int, Live] = {}
        for job in store.unfinished_jobs(db):  # picked up again after a restart
            self._enqueue(job["id"], spec_of(job))

    def submit(self, spec: registry.ModelSpec, request: GenerationRequest, profile: str = "",
               keep_all: bool = False) -> int:
        job_id = store.create_job(self.db, profile=profile, kind="story", model_name=spec.name,
                                  backend=spec.backend, model=spec.model, prompt_format=spec.prompt_format,
                                  request=request_to_json(request) | {LANGUAGE: i18n.current()}, keep_all=keep_all)
        self._enqueue(job_id, spec)
        return job_id

    def submit_batch(self, spec: registry.ModelSpec, requests: list[GenerationRequest], profile: str = "") -> int:
        if not requests:
            raise GenerationError(_("A batch needs at least one story."))
        job_id = store.create_job(self.db, profile=profile, kind="batch", model_name=spec.name,
                                  backend=spec.backend, model=spec.model, prompt_format=spec.prompt_format,
                                  request=[request_to_json(r) | {LANGUAGE: i18n.current()} for r in requests],
                                  total=len(requests))
        self._enqueue(job_id, spec)
        return job_id

    def cancel(self, job_id: int) -> str | None:
        status = store.cancel_job(self.db, job_id)
        live = self._live.get(job_id)
        if live is not None:
            live.cancel.set()
        return status

    def live(self, job_id: int) -> Live | None:
        return self._live.get(job_id)

    def _enqueue(self, job_id: int, spec: registry.ModelSpec) -> None:
        with self._lock:
            self._live[job_id] = Live()
            q = self._queues.get(spec.key)
            if q is None:
                q = self._queues[spec.key] = queue.Queue()
                threading.Thread(target=self._work, args=(spec, q), daemon=True,
                                 name=f"nonestory-worker-{spec.key}").start()
        q.put(job_id)

    def close(self, timeout: float = 30) -> None:
        """Let each worker finish its current job, then stop (tests; the app's live forever)."""
        with self._lock:
            queues, self._queues = list(self._queues.values()), {}
        for q in queues:
            q.put(None)
        for thread in [t for t in threading.enumerate() if t.name.startswith("nonestory-worker-")]:
            thread.join(timeout)

    def _work(self, spec: registry.ModelSpec, q: queue.Queue) -> None:
        while True:
            job_id = q.get()
            if job_id is None:
                return
            if not store.mark_running(self.db, job_id):
                continue  # cancelled while it waited
            job = store.get_job(self.db, job_id)
            with i18n.language(job_language(job)):  # its warnings and errors in the asker's language
                self._run(spec, job)

    def _run(self, spec: registry.ModelSpec, job: dict) -> None:
        job_id = job["id"]
        try:
            backend, warning = self._backends.get(spec.key) or backend_for(spec)
            # A fallback (transformers for a ct2 model whose conversion failed, the example
            # passage for a model that did not load) is not kept: the next job tries the
            # model again, so a conversion mended meanwhile is used without a restart.
            if backend.name == spec.backend:
                self._backends[spec.key] = (backend, warning)
        except GenerationError as exc:
            store.mark_finished(self.db, job_id, "failed", error=str(exc))
            return
        run_job(self.db, job, backend, warning, self._live.get(job_id))
        self._forget_later(job_id)

    def _forget_later(self, job_id: int, keep: int = 200) -> None:
        """Keep the live text of recent jobs for pages still polling; drop the oldest."""
        with self._lock:
            if len(self._live) > keep:
                for old in sorted(self._live)[: len(self._live) - keep]:
                    self._live.pop(old, None)
