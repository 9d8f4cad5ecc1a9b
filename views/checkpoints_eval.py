"""Evaluating checkpoints in the background from the Checkpoints page.

`python -m training.evaluate` runs as its own process (training.launch.spawn: its own session,
output to RUN_DIR/eval.log), so the page never waits on it and a closed tab or an app restart
does not stop it. RUN_DIR/eval.pid (JSON: pid, the checkpoints asked for, start time) lets any
later page view show "k of n done" from eval.json and the log's last line.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import streamlit as st

from training import evaluate, launch, runs

JOB = "eval.pid"
LOG = "eval.log"
POLL_SECONDS = 2.0
_PROGRESS_BAR = re.compile(r"\d+/\d+ \[|it/s\]|s/it\]")  # tqdm lines from model loading: noise here


def unevaluated(run_dir: Path) -> list[str]:
    """Checkpoints of the run that eval.json has no entry for, oldest first."""
    done = evaluate.read_eval(run_dir)["checkpoints"]
    return [p.name for p in runs.checkpoints(run_dir) if p.name not in done]


def command(run_dir: Path, names: list[str], samples: int, max_new_tokens: int) -> list[str]:
    """The evaluation command: one named checkpoint, or every one without a result (--new-only)."""
    argv = [launch.python(), "-m", "training.evaluate", "--run", str(run_dir), "--new-only",
            "--samples", str(samples), "--max-new-tokens", str(max_new_tokens)]
    return argv + (["--checkpoint", names[0]] if len(names) == 1 else [])


def _env() -> dict[str, str]:
    import torch  # already loaded by any page that generated; only asked when starting

    # On a CPU, torch's thread pool fights the app (and other runs) for a few cores and a
    # small model evaluates many times slower; one thread is the fast setting there.
    return {} if torch.cuda.is_available() else {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def read_job(run_dir: Path) -> dict | None:
    job = runs.read_json(Path(run_dir) / JOB)
    return job if job.get("pid") else None


def _write_job(run_dir: Path, job: dict) -> None:
    runs.atomic_write(Path(run_dir) / JOB, json.dumps(job))


def start(run_dir: Path, names: list[str], samples: int, max_new_tokens: int) -> dict:
    """Launch the evaluation of `names` (checkpoints without results) and record it."""
    started = time.time()
    pid = launch.spawn(command(run_dir, names, samples, max_new_tokens), Path(run_dir) / LOG, _env())
    job = {"pid": pid, "asked": names, "started": started, "finished": None}
    _write_job(run_dir, job)
    return job


def last_line(run_dir: Path) -> str:
    """The log's last meaningful line (progress bars skipped), '' when there is none."""
    try:
        with open(Path(run_dir) / LOG, "rb") as f:
            f.seek(0, 2)
            f.seek(max(f.tell() - 8192, 0))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in re.split(r"[\r\n]+", tail) if ln.strip() and not _PROGRESS_BAR.search(ln)]
    return lines[-1] if lines else ""


def progress(run_dir: Path) -> dict | None:
    """The run's latest evaluation: asked, done (entries written since it started), running, and
    the log's last line; None when the page never started one for this run."""
    job = read_job(run_dir)
    if job is None:
        return None
    results = evaluate.read_eval(run_dir)["checkpoints"]
    asked = list(job.get("asked") or [])
    # evaluate stamps each entry; one written before this job started is an older result.
    done = [n for n in asked if (results.get(n, {}).get("evaluated") or 0) >= job["started"] - 1]
    running = job.get("finished") is None and launch.alive(job["pid"])
    if not running and job.get("finished") is None:
        job["finished"] = time.time()  # seen ended once: a reused pid can never look alive later
        _write_job(run_dir, job)
    return {**job, "done": done, "running": running, "last_line": last_line(run_dir)}


@st.fragment(run_every=POLL_SECONDS)
def live(run_dir: str) -> None:
    """Progress of a running evaluation, polled; the whole page redraws once it ends, so the
    table gains the new rows."""
    state = progress(Path(run_dir))
    if state is None or not state["running"]:
        st.rerun()
    n, k = len(state["asked"]), len(state["done"])
    st.progress(k / max(n, 1), text=f"{Path(run_dir).name}: evaluating… {k} of {n} done")
    if state["last_line"]:
        st.caption(state["last_line"])


def _outcome(run_dir: Path, state: dict) -> None:
    n, k = len(state["asked"]), len(state["done"])
    if k == n:
        st.caption(f"{run_dir.name}: the last evaluation finished ({k} of {n} checkpoints).")
    else:
        why = f": {state['last_line']}" if state["last_line"] else ""
        st.error(f"The evaluation of {run_dir.name} ended after {k} of {n} checkpoints{why}")


def section(run_dirs: list[Path]) -> None:
    """Evaluate the checkpoints of the chosen runs that have no results, in the background."""
    st.subheader("Evaluate")
    c1, c2 = st.columns(2)
    samples = c1.number_input("Sample stories per checkpoint", 1, len(evaluate.PROMPTS), 4, key="ck_eval_samples")
    tokens = c2.number_input("New tokens per sample", 8, 1024, 80, step=8, key="ck_eval_tokens")
    for run_dir in run_dirs:
        state = progress(run_dir)
        if state is not None and state["running"]:
            live(str(run_dir))
            continue
        if state is not None:
            _outcome(run_dir, state)
        pending = unevaluated(run_dir)
        if not pending:
            st.caption(f"{run_dir.name}: every checkpoint has an evaluation.")
            continue
        label = f"Evaluate {len(pending)} checkpoint{'s' * (len(pending) > 1)} of {run_dir.name}"
        if st.button(label, key=f"ck_eval_go_{run_dir.name}", help=", ".join(pending)):
            start(run_dir, pending, int(samples), int(tokens))
            st.rerun()
