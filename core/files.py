"""Small file helpers every layer shares: a write no reader sees half of, and the end of a log.

Pages poll files that background processes are writing (status.json, eval.json, promoted.json,
a run's log), so a writer replaces a file in one step and a reader of a log reads only its end.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

TAIL_BYTES = 64_000  # a log's end: enough for many lines, never the whole of a long run's log


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write then rename, so a reader sees the old file or the new one, never half of one. Each
    call gets its own temporary file (mkstemp), so two processes, or two sessions' threads in
    the app's one process, writing the same file never write into each other's."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        os.fchmod(fd, path.stat().st_mode & 0o777 if path.exists() else 0o644)  # mkstemp's is 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict:
    """A JSON object file as a dict; {} when it is missing, half-written or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_jsonl(path: Path) -> list[dict]:
    """Every complete JSON-object line of a file; a truncated or garbled line is skipped, and a
    missing file has none."""
    try:
        text = Path(path).read_text(encoding="utf-8")
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


def tail_lines(path: Path, lines: int = 20, max_bytes: int = TAIL_BYTES) -> list[str]:
    """The last `lines` non-empty lines of a text file, reading only its last `max_bytes` (logs
    grow); a carriage return ends a line too (progress bars redraw with one). [] when unreadable."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - max_bytes, 0))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.replace("\r", "\n").splitlines() if line.strip()][-lines:] if lines > 0 else []
