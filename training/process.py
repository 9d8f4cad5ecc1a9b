"""Background processes that outlive the app: start one detached, and ask whether one lives.

The one module both the run-directory contract (training.runs: is the trainer still alive?) and
the launcher (training.launch: start it) need, so neither imports the other.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path = ROOT) -> int:
    """Start `argv` detached in its own process group with stdout+stderr appended to `log_path`;
    return its pid. `env` entries are added to this process's environment."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    _reaper(proc)
    return proc.pid


def _reaper(proc: subprocess.Popen) -> None:
    """Collect the exit status when the child ends, so a finished run leaves no zombie that
    `alive` would still see (only matters while the app that started it keeps running)."""
    import threading

    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()


def alive(pid: int | None, marker: str | None = None) -> bool:
    """Whether a process with this pid exists (and is not a zombie). With `marker`, its command
    line must also contain it: after a machine restart an old run's pid may belong to anything."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker is None or marker.encode() in f.read()
    except OSError:
        return True  # no /proc (macOS): kill(0) is the best we know


def python() -> str:
    """The interpreter the app runs under, so a child sees the same venv."""
    return sys.executable
