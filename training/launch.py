"""Starting training-side commands as background processes that outlive the app.

The admin pages start training and evaluation through `spawn`: its own session (so closing the
browser, a Streamlit rerun or an app restart never signals it), output appended to a log file in
the run directory, and nothing kept but the pid, which the run directory records.
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


def alive(pid: int | None) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
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
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (macOS): kill(0) is the best we know


def python() -> str:
    """The interpreter the app runs under, so a child sees the same venv."""
    return sys.executable
