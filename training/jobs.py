"""Background jobs around run, dataset and model folders that the admin pages start: evaluating
a run's checkpoints, preparing a dataset from Batch output, and converting a promoted model for
the CTranslate2 engine. (Training runs themselves are training.launch's.) Pages only call these
functions; what each job leaves on disk is here.

Each job runs as its own process (training.process.spawn: its own session, output appended to a
log next to its results), so a page never waits on it and a closed tab or an app restart does
not stop it. A small JSON record (pid, what was asked, start time) lets any later page view say
how far it got:

    RUN_DIR/eval.pid        evaluation: pid, the checkpoints asked for, started, finished
    RUN_DIR/eval.log        its output; progress is read from eval.json and the log's last line
    DATASET_DIR/prepare.json  preparation: pid, started, argv (gone once dismissed)
    DATASET_DIR/prepare.log   its output; the reason for a failure is its last line
    MODELS/.ct2-jobs/KEY.json         conversion: pid, model, started, finished (KEY: the folder's
                                      name and a hash of its path)
    MODELS/.ct2-jobs/KEY.status.json  the converter's own state: running | done | failed, its
                                      one-sentence message and the converted folder
    MODELS/.ct2-jobs/KEY.log          its output
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

from core import settings
from core.files import atomic_write, read_json, tail_lines
from core.i18n import _
from training import evaluate, runs
from training.process import alive, python, spawn

EVAL_JOB = "eval.pid"
EVAL_LOG = "eval.log"
PREPARE = "prepare.json"
PREPARE_LOG = "prepare.log"
_PROGRESS_BAR = re.compile(r"\d+/\d+ \[|it/s\]|s/it\]")  # tqdm lines from model loading: noise here
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CONVERSIONS = ".ct2-jobs"  # in the models folder; hidden, and no config.json: never listed as a model
CONVERTER = "core.generation.ct2"  # the module a conversion runs (and what its command line shows)


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
        raise JobError(_("Name the dataset with letters, digits, '.', '_' or '-' (e.g. n1-words)."))
    out = Path(root) / name
    if (out / "report.json").exists() or _preparing(out):
        raise JobError(_("A dataset named {name} exists or is being prepared; choose another name.").format(
            name=name))
    return out


def start_prepare(root: Path, name: str, output: str, fmt: str, inputs: str = "") -> int:
    """Check the request, then run training.prepare into root/name in the background; return
    the pid. JobError says what is wrong with a bad name or a missing file."""
    out = dataset_folder(root, name)
    if not Path(output).is_file():
        raise JobError(_("Batch output file {path} does not exist.").format(path=output or _("(none given)")))
    if inputs and not Path(inputs).is_file():
        raise JobError(_("Batch input file {path} does not exist.").format(path=inputs))
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


# ---- converting a model for the CTranslate2 engine ---------------------------------------------

def _conversion_paths(model: str) -> tuple[Path, Path, Path]:
    """(record, status file, log) of `model`'s conversion job, in the models folder."""
    path = Path(model).expanduser()
    ident = str(path.resolve()) if path.is_dir() else model
    slug = re.sub(r"[^\w.-]+", "-", Path(ident).name).strip("-.")[:40] or "model"
    key = f"{slug}-{hashlib.sha256(ident.encode()).hexdigest()[:10]}"
    root = settings.paths().models / CONVERSIONS
    return root / f"{key}.json", root / f"{key}.status.json", root / f"{key}.log"


def convert_command(model: str, status_file: Path) -> list[str]:
    """The conversion command: the model's CTranslate2 copy for the device generation will use
    (the converter's default: CUDA when CTranslate2 sees a GPU), its state kept in status_file."""
    return [python(), "-m", CONVERTER, "convert", str(model), "--status", str(status_file)]


def start_conversion(model: str) -> dict:
    """Convert `model` (a model folder or hub id) for the CTranslate2 engine in the background
    and record it; the running one when a conversion of it is under way already."""
    current = conversion_progress(model)
    if current is not None and current["running"]:  # one that has said done or failed is over
        return current
    record_path, status_path, log = _conversion_paths(model)
    # Said until the converter (a fresh Python importing torch: seconds) writes its own state; in
    # the language of the page that asked (the converter then writes in its own, see ct2).
    atomic_write(status_path, json.dumps({"state": "running", "message": _("Starting the converter…"), "path": ""},
                                         ensure_ascii=False))
    started = time.time()
    pid = spawn(convert_command(model, status_path), log, {"TOKENIZERS_PARALLELISM": "false"})
    record = {"pid": pid, "model": str(model), "started": started, "finished": None}
    atomic_write(record_path, json.dumps(record, ensure_ascii=False))
    return record


def conversion_progress(model: str) -> dict | None:
    """`model`'s latest conversion started from a page: its record with state (running, done or
    failed), message (the converter's one sentence) and path (the converted folder, when done);
    None when none was started. A converter that ended without saying how (killed, out of
    memory) is failed, with its log's last line."""
    record_path, status_path, log = _conversion_paths(model)
    record = read_json(record_path)
    if not record.get("pid"):
        return None
    # Alive first, state second: a converter writes its last state before it exits, so a state
    # read after it was seen gone is its last word.
    running = record.get("finished") is None and alive(record["pid"], CONVERTER)
    status = read_json(status_path)
    state, message = status.get("state"), str(status.get("message") or "")
    if not running and record.get("finished") is None:
        record["finished"] = time.time()  # seen ended once: a reused pid can never look alive later
        atomic_write(record_path, json.dumps(record, ensure_ascii=False))
    if state not in ("running", "done", "failed") or (state == "running" and not running):
        lines = [ln.strip() for ln in tail_lines(log, 50, max_bytes=8192)
                 if ln.strip() and not _PROGRESS_BAR.search(ln)]
        last = lines[-1] if lines else ""
        state, message = "failed", (_("The conversion stopped before it finished: {line}").format(line=last) if last
                                    else _("The conversion stopped before it finished, without a word in its log."))
    return {**record, "state": state, "message": message, "path": str(status.get("path") or ""),
            "running": state == "running", "log": str(log)}
