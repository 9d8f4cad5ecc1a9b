"""The run-directory contract: the one module that knows what a training run writes.

    data/runs/<run_id>/
        config.json       the resolved TrainConfig
        status.json       state, pid, step, total_steps, last_checkpoint, error, ... (atomic)
        metrics.jsonl     one JSON object per logging or eval step
        log               stdout/stderr of the process (the admin page redirects it here)
        STOP              created by anyone who wants the run to save and stop
        checkpoint-<step> safetensors weights, tokenizer, optimizer/scheduler/RNG state

The trainer writes; pages read. Readers tolerate a file that is missing or half-written,
because the trainer may be writing it at the very moment a page polls.
"""
from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LOG = "log"
STOP = "STOP"
RUN_FILES = (CONFIG, STATUS, METRICS, LOG)
STATES = ("starting", "running", "stopped", "done", "failed")
STATUS_FIELDS = ("state", "pid", "step", "total_steps", "last_checkpoint", "error", "started",
                 "updated", "seconds_per_step", "verify")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _atomic_write(path: Path, text: str) -> None:
    """Write then rename, so a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_status(run_dir: Path) -> dict:
    """status.json as a dict; {} when it is missing or unreadable."""
    try:
        data = json.loads((Path(run_dir) / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_status(run_dir: Path, **fields) -> dict:
    """Merge `fields` into status.json (atomically) and stamp `updated`; return the new status."""
    unknown = set(fields) - set(STATUS_FIELDS)
    if unknown:
        raise ValueError(f"unknown status fields {sorted(unknown)}; known: {STATUS_FIELDS}")
    if "state" in fields and fields["state"] not in STATES:
        raise ValueError(f"state {fields['state']!r} is not one of {STATES}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    status = read_status(run_dir)
    status.update(fields)
    status["updated"] = time.time()
    status.setdefault("started", status["updated"])
    _atomic_write(run_dir / STATUS, json.dumps(status, ensure_ascii=False, indent=1))
    return status


def append_metrics(run_dir: Path, record: dict) -> None:
    """Append one line to metrics.jsonl; one write call so a line is never interleaved."""
    line = json.dumps(record, ensure_ascii=False, allow_nan=True) + "\n"
    with open(Path(run_dir) / METRICS, "a", encoding="utf-8") as f:
        f.write(line)


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete line of metrics.jsonl; a truncated or garbled line is skipped."""
    try:
        text = (Path(run_dir) / METRICS).read_text(encoding="utf-8")
    except OSError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def checkpoint_step(path: Path) -> int | None:
    m = _CHECKPOINT.match(Path(path).name)
    return int(m.group(1)) if m else None


def checkpoints(run_dir: Path) -> list[Path]:
    """checkpoint-<step> folders of a run, oldest step first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.iterdir() if p.is_dir() and checkpoint_step(p) is not None]
    return sorted(found, key=checkpoint_step)


def list_runs(root: Path) -> list[dict]:
    """One dict per run directory under `root` (newest first): name, path, status, checkpoints."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for d in root.iterdir():
        if not d.is_dir() or not any((d / f).exists() for f in (CONFIG, STATUS, METRICS)):
            continue
        status = read_status(d)
        runs.append({"name": d.name, "path": d, "status": status,
                     "checkpoints": [p.name for p in checkpoints(d)],
                     "updated": status.get("updated") or d.stat().st_mtime})
    return sorted(runs, key=lambda r: r["updated"], reverse=True)


def estimate(status: dict, session_minutes: float = 90) -> dict:
    """Remaining seconds from the measured seconds per step, and how many more sessions of
    `session_minutes` the run needs (None where there is nothing measured yet)."""
    step, total = status.get("step") or 0, status.get("total_steps")
    per_step = status.get("seconds_per_step")
    if not total or not per_step:
        return {"remaining_steps": None, "remaining_seconds": None, "sessions": None}
    remaining_steps = max(int(total) - int(step), 0)
    seconds = remaining_steps * float(per_step)
    sessions = math.ceil(seconds / (session_minutes * 60)) if session_minutes > 0 else None
    return {"remaining_steps": remaining_steps, "remaining_seconds": seconds, "sessions": sessions}
