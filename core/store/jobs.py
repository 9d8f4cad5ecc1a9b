"""Generation jobs: the durable half of the job queue (the worker lives in core/jobs.py)."""
from __future__ import annotations

import json
from collections.abc import Sequence

from core.store.db import Database

STATUSES = ("queued", "running", "done", "failed", "cancelled")
JOB_COLUMNS = ("id", "created", "profile", "kind", "status", "model_name", "backend", "model", "prompt_format",
               "request", "keep_all", "total", "done_count", "started", "finished", "error", "warning",
               "story_ids", "candidates")


def create_job(db: Database, *, profile: str, kind: str, model_name: str, backend: str, model: str,
               prompt_format: str, request: dict | list, keep_all: bool = False, total: int = 1) -> int:
    return db.execute(
        "INSERT INTO jobs (profile, kind, model_name, backend, model, prompt_format, request, keep_all, total) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [profile, kind, model_name, backend, model, prompt_format, json.dumps(request, ensure_ascii=False),
         keep_all, total])[0][0]


def get_job(db: Database, job_id: int) -> dict | None:
    rows = db.rows(f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE id = ?", [job_id])
    return _decode(rows[0]) if rows else None


def list_jobs(db: Database, profile: str | None = None, statuses: Sequence[str] = STATUSES,
              limit: int = 20) -> list[dict]:
    where, params = "status IN (SELECT unnest(?::VARCHAR[]))", [list(statuses)]
    if profile is not None:
        where += " AND profile = ?"
        params.append(profile)
    rows = db.rows(f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE {where} ORDER BY id DESC LIMIT ?",
                   params + [limit])
    return [_decode(r) for r in rows]


def _decode(row: dict) -> dict:
    row["request"] = json.loads(row["request"])
    row["candidates"] = json.loads(row["candidates"] or "[]")
    return row


def mark_running(db: Database, job_id: int) -> bool:
    """queued -> running; False when the job was cancelled (or taken) meanwhile."""
    return bool(db.execute("UPDATE jobs SET status = 'running', started = current_timestamp "
                           "WHERE id = ? AND status = 'queued' RETURNING id", [job_id]))


def mark_finished(db: Database, job_id: int, status: str, *, error: str = "", warning: str = "",
                  story_ids: Sequence[int] = (), candidates: list | None = None) -> None:
    db.execute("UPDATE jobs SET status = ?, finished = current_timestamp, error = ?, warning = ?, "
               "story_ids = ?, candidates = ?, done_count = CASE WHEN ? = 'done' THEN total ELSE done_count END "
               "WHERE id = ?", [status, error, warning, list(story_ids),
                                json.dumps(candidates or [], ensure_ascii=False), status, job_id])


def mark_progress(db: Database, job_id: int, done: int, story_ids: Sequence[int]) -> None:
    db.execute("UPDATE jobs SET done_count = ?, story_ids = ? WHERE id = ?", [done, list(story_ids), job_id])


def cancel_job(db: Database, job_id: int) -> str | None:
    """Cancel a queued or running job; its status afterwards (None if there is no such job)."""
    db.execute("UPDATE jobs SET status = 'cancelled', finished = current_timestamp "
               "WHERE id = ? AND status IN ('queued', 'running')", [job_id])
    return db.scalar("SELECT status FROM jobs WHERE id = ?", [job_id])


def status_of(db: Database, job_id: int) -> str | None:
    return db.scalar("SELECT status FROM jobs WHERE id = ?", [job_id])


def unfinished_jobs(db: Database) -> list[dict]:
    """Jobs to pick up again after a restart, oldest first (a job that was running starts over)."""
    db.execute("UPDATE jobs SET status = 'queued', started = NULL WHERE status = 'running'")
    return [_decode(r) for r in db.rows(f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE status = 'queued' "
                                        "ORDER BY id")]


def queue_position(db: Database, job_id: int) -> int:
    """How many jobs for the same model are ahead of this one (running ones included)."""
    return db.scalar(
        "SELECT count(*) FROM jobs j, (SELECT backend, model FROM jobs WHERE id = ?) me "
        "WHERE j.backend = me.backend AND j.model = me.model AND j.id < ? AND j.status IN ('queued', 'running')",
        [job_id, job_id]) or 0
