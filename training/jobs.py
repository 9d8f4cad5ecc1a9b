"""Background jobs around run and dataset folders that the admin pages start: evaluating a run's
checkpoints, and preparing a dataset from Batch output. (Training runs themselves are
training.launch's.) Pages only call these functions; what each job leaves on disk is here.

Each job runs as its own process (training.process.spawn: its own session, output appended to a
log next to its results), so a page never waits on it and a closed tab or an app restart does
not stop it. A small JSON record (pid, what was asked, start time) lets any later page view say
how far it got:

    RUN_DIR/eval.pid        evaluation: pid, the checkpoints asked for, started, finished
    RUN_DIR/eval.log        its output; progress is read from eval.json and the log's last line
    DATASET_DIR/prepare.json  preparation: pid, started, argv (gone once dismissed)
    DATASET_DIR/prepare.log   its output; the reason for a failure is its last line
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from core.files import atomic_write, read_json, tail_lines
from training import evaluate, runs
from training.process import alive, python, spawn

EVAL_JOB = "eval.pid"
EVAL_LOG = "eval.log"
PREPARE = "prepare.json"
PREPARE_LOG = "prepare.log"
_PROGRESS_BAR = re.compile(r"\d+/\d+ \[|it/s\]|s/it\]")  # tqdm lines from model loading: noise here
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class JobError(Exception):
    """A job the admin asked for that cannot start (a bad name, a missing file), in one sentence."""


# ---- evaluation --------------------------------------------------------------------------------

def unevaluated(run_dir: Path) -> list[str]:
    """Checkpoints of the run that eval.json has no entry for, oldest first."""
    done = evaluate.read_eval(run_dir)["checkpoints"]
    return [p.name for p in runs.checkpoints(run_dir) if p.name not in done]


def eval_command(run_dir: Path, names: list[str], samples: int, max_new_tokens: int) -> list[str]:
    """The evaluation command: one named checkpoint, or every one without a result (--new-only)."""
    argv = [python(), "-m", "training.evaluate", "--run", str(run_dir), "--new-only",
            "--samples", str(samples), "--max-new-tokens", str(max_new_tokens)]
    return argv + (["--checkpoint", names[0]] if len(names) == 1 else [])


def _eval_env() -> dict[str, str]:
    import torch  # already loaded by any page that generated; only asked when starting

    # On a CPU, torch's thread pool fights the app (and other runs) for a few cores and a
    # small model evaluates many times slower; one thread is the fast setting there.
    return {} if torch.cuda.is_available() else {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def read_eval_job(run_dir: Path) -> dict | None:
    """eval.pid's record; None when no evaluation was started from a page."""
    job = read_json(Path(run_dir) / EVAL_JOB)
    return job if job.get("pid") else None


def _write_eval_job(run_dir: Path, job: dict) -> None:
    atomic_write(Path(run_dir) / EVAL_JOB, json.dumps(job))


def start_evaluation(run_dir: Path, names: list[str], samples: int, max_new_tokens: int) -> dict:
    """Launch the evaluation of `names` (checkpoints without results) and record it."""
    started = time.time()
    pid = spawn(eval_command(run_dir, names, samples, max_new_tokens), Path(run_dir) / EVAL_LOG, _eval_env())
    job = {"pid": pid, "asked": names, "started": started, "finished": None}
    _write_eval_job(run_dir, job)
    return job


def eval_last_line(run_dir: Path) -> str:
    """The evaluation log's last meaningful line (progress bars skipped), '' when there is none."""
    lines = [ln.strip() for ln in tail_lines(Path(run_dir) / EVAL_LOG, 50, max_bytes=8192)
             if not _PROGRESS_BAR.search(ln)]
    return lines[-1] if lines else ""


def eval_progress(run_dir: Path) -> dict | None:
    """The run's latest evaluation: asked, done (entries written since it started), running, and
    the log's last line; None when the page never started one for this run."""
    job = read_eval_job(run_dir)
    if job is None:
        return None
    results = evaluate.read_eval(run_dir)["checkpoints"]
    asked = list(job.get("asked") or [])
    # evaluate stamps each entry; one written before this job started is an older result.
    done = [n for n in asked if (results.get(n, {}).get("evaluated") or 0) >= job["started"] - 1]
    running = job.get("finished") is None and alive(job["pid"])
    if not running and job.get("finished") is None:
        job["finished"] = time.time()  # seen ended once: a reused pid can never look alive later
        _write_eval_job(run_dir, job)
    return {**job, "done": done, "running": running, "last_line": eval_last_line(run_dir)}


# ---- dataset preparation -----------------------------------------------------------------------

def prepare_record(folder: Path) -> dict:
    """prepare.json of a dataset folder; {} when none was started there from a page."""
    return read_json(Path(folder) / PREPARE)


def _preparing(folder: Path) -> bool:
    return alive(prepare_record(folder).get("pid"), "training.prepare")


def dataset_folder(root: Path, name: str) -> Path:
    """root/name for a new dataset; JobError for a name that is not a plain folder name, or one
    taken by a dataset or a preparation still running."""
    if not _NAME.match(name):
        raise JobError("Name the dataset with letters, digits, '.', '_' or '-' (e.g. n1-words).")
    out = Path(root) / name
    if (out / "report.json").exists() or _preparing(out):
        raise JobError(f"A dataset named {name} exists or is being prepared; choose another name.")
    return out


def start_prepare(root: Path, name: str, output: str, fmt: str, inputs: str = "") -> int:
    """Check the request, then run training.prepare into root/name in the background; return
    the pid. JobError says what is wrong with a bad name or a missing file."""
    out = dataset_folder(root, name)
    for label, path in (("Batch output", output), ("Batch input", inputs)):
        if (path or label == "Batch output") and not Path(path).is_file():
            raise JobError(f"{label} file {path or '(none given)'} does not exist.")
    argv = [python(), "-m", "training.prepare", "--batch-output", output, "--format", fmt,
            "--out", str(out)] + (["--batch-input", inputs] if inputs else [])
    out.mkdir(parents=True, exist_ok=True)
    pid = spawn(argv, out / PREPARE_LOG, {"OMP_NUM_THREADS": "1"})
    atomic_write(out / PREPARE, json.dumps({"pid": pid, "started": time.time(), "argv": argv}))
    return pid


def preparations(root: Path) -> list[tuple[Path, bool]]:
    """(folder, still running) of preparations under `root` that have not produced a dataset."""
    root = Path(root)
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if prepare_record(folder) and not (folder / "report.json").exists():
            found.append((folder, _preparing(folder)))
    return found


def prepare_log(folder: Path, lines: int = 6) -> str:
    """The end of a preparation's log (a failure's reason is its last line)."""
    return "\n".join(tail_lines(Path(folder) / PREPARE_LOG, lines))


def dismiss_prepare(folder: Path) -> None:
    """Forget a failed preparation: the page stops showing it (its log stays)."""
    (Path(folder) / PREPARE).unlink(missing_ok=True)
