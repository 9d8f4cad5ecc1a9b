"""The run-directory contract: the one module that knows what a training run writes.

    data/runs/<run_id>/
        config.json       the resolved TrainConfig
        status.json       state, pid, step, total_steps, last_checkpoint, error, ... (atomic)
        metrics.jsonl     one JSON object per logging or eval step
        log               stdout/stderr of the process (the admin page redirects it here)
        STOP              created by anyone who wants the run to save and stop
        checkpoint-<step> safetensors weights, tokenizer, optimizer/scheduler/RNG state
        run.json          the admin page's request (TrainConfig keys): the trainer's --config
        launch.json       how the page started it: argv, added env, pid (= process group), launched
        nonestory_format.txt  the prompt format of the run's dataset (core.modelfolder's marker;
                          the trainer copies it into each checkpoint for the model registry)
        eval.json, eval.pid, eval.log  training.evaluate's results and its background job (training.jobs)

The trainer writes; pages read. Readers tolerate a file that is missing or half-written,
because the trainer may be writing it at the very moment a page polls.
"""
from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from pathlib import Path

from core import i18n, modelfolder
from core.files import atomic_write, read_json, read_jsonl, tail_lines
from core.i18n import N_, _, ngettext
from training.process import alive

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LOG = "log"
STOP = "STOP"
REQUEST = "run.json"
LAUNCH = "launch.json"
FORMAT = modelfolder.FORMAT
STATES = ("starting", "running", "stopped", "done", "failed")
STATUS_FIELDS = ("state", "pid", "step", "total_steps", "last_checkpoint", "error", "started",
                 "updated", "seconds_per_step", "verify", "world_size")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def read_status(run_dir: Path) -> dict:
    """status.json as a dict; {} when it is missing or unreadable."""
    return read_json(Path(run_dir) / STATUS)


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
    atomic_write(run_dir / STATUS, json.dumps(status, ensure_ascii=False, indent=1))
    return status


def append_metrics(run_dir: Path, record: dict) -> None:
    """Append one line to metrics.jsonl; one write call so a line is never interleaved."""
    line = json.dumps(record, ensure_ascii=False, allow_nan=True) + "\n"
    with open(Path(run_dir) / METRICS, "a", encoding="utf-8") as f:
        f.write(line)


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete line of metrics.jsonl; a truncated or garbled line is skipped."""
    return read_jsonl(Path(run_dir) / METRICS)


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
        # not config.json alone: every model folder has one (a run writes status.json at once)
        if not d.is_dir() or not any((d / f).exists() for f in (STATUS, METRICS, REQUEST, LAUNCH)):
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


# ---- what the admin page and `python -m training.runs` show ---------------------------------

ACTIVE = ("starting", "running")


def read_launch(run_dir: Path) -> dict:
    """launch.json as a dict; {} for a run started from the command line."""
    return read_json(Path(run_dir) / LAUNCH)


def write_launch(run_dir: Path, **fields) -> dict:
    """Merge `fields` into launch.json (atomically); return the new record."""
    record = {**read_launch(run_dir), **fields}
    atomic_write(Path(run_dir) / LAUNCH, json.dumps(record, ensure_ascii=False, indent=1))
    return record


def request_path(run_dir: Path) -> Path:
    """Where the page's request (run.json, the trainer's --config) of a run lives."""
    return Path(run_dir) / REQUEST


def stamp(run_dir: Path) -> tuple:
    """The modification times of the files `summary` reads: it changes exactly when a cached
    summary could be stale (a run's process state aside)."""
    files = [Path(run_dir) / f for f in (STATUS, METRICS, LAUNCH, CONFIG, REQUEST)]
    return tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in files)


def run_config(run_dir: Path) -> dict:
    """The trainer's resolved config.json, else the page's run.json request, else {}."""
    return read_json(Path(run_dir) / CONFIG) or read_json(Path(run_dir) / REQUEST)


def log_tail(run_dir: Path, lines: int = 20) -> list[str]:
    """The last `lines` non-empty lines of the run's log (only its end is read: logs grow)."""
    return tail_lines(Path(run_dir) / LOG, lines)


def effective_status(run_dir: Path) -> dict:
    """status.json corrected by what is true now: a run whose process is gone cannot be running
    (it was killed, crashed or the machine restarted), a freshly launched one is `starting`
    before the trainer writes anything, and a failed one carries its last log lines."""
    run_dir = Path(run_dir)
    status, launch = read_status(run_dir), read_launch(run_dir)
    launched = launch.get("launched") or 0
    fresh = (status.get("updated") or 0) >= launched  # written by the newest launch
    running = alive(launch.get("pid"), "training") or alive(status.get("pid"), "training")
    state = status.get("state")
    if running:
        state = state if state in ACTIVE and fresh else "starting"
        if (run_dir / STOP).exists() or (launch.get("stop_requested") or 0) > launched:
            state = "stopping"  # the trainer consumes STOP at once, then saves for a while
    elif state in ACTIVE or (launched and not fresh):
        state = "failed"
        status["error"] = status.get("error") or _("The training process ended without finishing (killed or crashed).")
    elif not state:
        state = "unknown"
    result = {**status, "state": state, "alive": running}
    if state == "failed":
        result["log_tail"] = log_tail(run_dir)
    return result


def best_eval_loss(metrics: list[dict]) -> float | None:
    values = [m["eval_loss"] for m in metrics if isinstance(m.get("eval_loss"), (int, float))]
    return min(values) if values else None


def summary(run_dir: Path, session_minutes: float | None = None) -> dict:
    """One run as the runs list shows it; the estimate uses `session_minutes`, else the run's own."""
    run_dir = Path(run_dir)
    status, config, metrics = effective_status(run_dir), run_config(run_dir), read_metrics(run_dir)
    minutes = session_minutes or config.get("session_minutes") or 90
    started = status.get("started") or read_launch(run_dir).get("launched") or run_dir.stat().st_mtime
    finished = status.get("updated") if status["state"] in ("done", "stopped", "failed") else None
    losses = [m["loss"] for m in metrics if isinstance(m.get("loss"), (int, float))]
    return {"name": run_dir.name, "path": str(run_dir), "state": status["state"],
            "model": config.get("model", ""), "data": config.get("data", ""),
            "step": status.get("step") or 0, "total_steps": status.get("total_steps"),
            "last_loss": losses[-1] if losses else None, "best_eval_loss": best_eval_loss(metrics),
            "started": started, "finished": finished, "checkpoints": len(checkpoints(run_dir)),
            "error": status.get("error") if status["state"] == "failed" else None,
            "session_minutes": minutes, **estimate(status, minutes)}


def summaries(root: Path, session_minutes: float | None = None) -> list[dict]:
    """Every run under `root`, newest start first."""
    rows = [summary(r["path"], session_minutes) for r in list_runs(root)]
    return sorted(rows, key=lambda r: r["started"], reverse=True)


def human_seconds(seconds: float | None) -> str:
    """'2 h 05 min', '7 min', '40 s' in the language in use; '–' when unknown."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return _("{hours} h {minutes} min").format(hours=seconds // 3600, minutes=f"{seconds % 3600 // 60:02d}")
    if seconds >= 60:
        return _("{minutes} min").format(minutes=seconds // 60)
    return _("{seconds} s").format(seconds=seconds)


def sessions_text(sessions: int | None, session_minutes: float, short: bool = False) -> str:
    """'about 3 more sessions of 90 minutes' (`training.runs list`), or, `short`, '3 more
    sessions of 90 min' (the trainer's log line); '' when nothing is measured yet. The page
    writes its own sentence (views.training_live)."""
    if sessions is None:
        return ""
    minutes = f"{session_minutes:g}"
    if short:
        return ngettext("{count} more session of {minutes} min", "{count} more sessions of {minutes} min",
                        sessions).format(count=sessions, minutes=minutes)
    return ngettext("about {count} more session of {minutes} minutes",
                    "about {count} more sessions of {minutes} minutes", sessions).format(
        count=sessions, minutes=minutes)


class _Tee:
    """A text stream that writes to the terminal and to the run's log."""

    def __init__(self, stream, log):
        self.stream, self.log = stream, log

    def write(self, text: str) -> int:
        self.log.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.log.flush()
        self.stream.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding...: the terminal's
        return getattr(self.stream, name)


def tee_log(run_dir: Path) -> None:
    """Copy this process's stdout and stderr into the run's `log`, so a run started from a
    terminal leaves the same record as one the admin page started; a no-op when stdout already
    is that file (the page redirects the process's output there)."""
    log = Path(run_dir) / LOG
    try:
        if log.exists() and os.path.samestat(os.fstat(sys.stdout.fileno()), log.stat()):
            return
    except (OSError, ValueError, AttributeError):
        pass  # stdout without a file descriptor (a test harness): tee it
    handle = open(log, "a", encoding="utf-8", buffering=1)
    sys.stdout, sys.stderr = _Tee(sys.stdout, handle), _Tee(sys.stderr, handle)


# A run's state and the fields `show` prints, as the command line writes them (the states and
# keys themselves stay English in the run files and in code; the page has the same messages).
STATE_NAMES = {"starting": N_("starting"), "running": N_("running"), "stopping": N_("stopping"),
               "stopped": N_("stopped"), "done": N_("done"), "failed": N_("failed"), "unknown": N_("unknown")}
FIELD_NAMES = {"model": N_("model"), "data": N_("data"), "checkpoints": N_("checkpoints"),
               "started": N_("started"), "finished": N_("finished"), "error": N_("error")}


def _line(row: dict) -> str:
    active = row["state"] in ACTIVE
    best = f"{row['best_eval_loss']:.4f}" if row["best_eval_loss"] is not None else "–"
    left = human_seconds(row["remaining_seconds"]) if active else "–"
    sessions = sessions_text(row["sessions"], row["session_minutes"]) if active else ""
    state = _(STATE_NAMES[row["state"]]) if row["state"] in STATE_NAMES else str(row["state"])
    return _("{name} {state} step {step}/{total}  left {left}  best eval {best}  {sessions}").format(
        name=f"{row['name']:<32}", state=f"{state:<9}", step=row["step"], total=row["total_steps"] or "?",
        left=left, best=best, sessions=sessions).rstrip()


def _field(key: str, value) -> str:
    return "  " + _("{field}: {value}").format(field=_(FIELD_NAMES[key]), value=value)


def _show(run_dir: Path, session_minutes: float | None) -> None:
    row = summary(run_dir, session_minutes)
    print(_line(row))
    for key in ("model", "data", "checkpoints"):
        print(_field(key, row[key]))
    for key in ("started", "finished"):
        if row[key]:
            print(_field(key, time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(row[key]))))
    if row["state"] == "failed":
        print(_field("error", row["error"]))
        for line in log_tail(run_dir, 10):
            print(f"  | {line}")


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from core import settings

    i18n.set_language(i18n.from_environment())
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--runs", type=Path, default=None, help=_("runs folder (default: data/runs)"))
    common.add_argument("--session-minutes", type=float, default=None,
                        help=_("session length for the estimate (default: each run's session_minutes)"))
    parser = argparse.ArgumentParser(prog="python -m training.runs", description=_("Training runs and their state."))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", parents=[common], help=_("every run: state, step/total, time left, sessions"))
    sub.add_parser("show", parents=[common], help=_("one run in detail")).add_argument(
        "run", help=_("run name or folder"))
    args = parser.parse_args(argv)
    if args.session_minutes is not None and args.session_minutes <= 0:
        parser.error(_("--session-minutes must be positive"))
    root = args.runs or settings.paths().runs
    if args.command == "list":
        rows = summaries(root, args.session_minutes)
        print("\n".join(_line(r) for r in rows) if rows else _("no runs in {root}").format(root=root))
        return 0
    run_dir = Path(args.run) if Path(args.run).is_dir() else root / args.run
    if not run_dir.is_dir():
        print(_("error: no run {run} (not a folder, nor a run in {root})").format(run=repr(args.run), root=root),
              file=sys.stderr)
        return 2
    _show(run_dir, args.session_minutes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
