"""training.launch and the run-state helpers of training.runs: the command a run gets (checked
against accelerate's own parser, since no GPU is here to run it), stop/resume on real
processes, the effective state of dead or never-started runs, the device report, and the
`python -m training.runs` command."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from accelerate.commands.launch import launch_command_parser

from core import settings
from training import launch, runs
from training.config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

# A long-running stand-in for a trainer: named training_*.py so the liveness check, which wants
# "training" in the command line, accepts it; it starts a child in its own process group and
# records SIGTERM, so a test can see that the whole group was signalled.
SLEEPER = """
import signal, subprocess, sys, time
def term(*_):
    open(sys.argv[2], "w").write("SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(120)
"""


def wait_until(check, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def sleeper(tmp_path):
    """(run_dir, pid) of a live stand-in trainer launched like a run, state running."""
    script = tmp_path / "training_sleeper.py"
    script.write_text(SLEEPER)
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    argv = [sys.executable, str(script), str(tmp_path / "child.pid"), str(tmp_path / "term")]
    pid = launch.spawn(argv, run / runs.LOG)
    runs.write_launch(run, argv=argv, env={}, pid=pid, launched=time.time() - 1)
    runs.write_status(run, state="running", pid=pid, step=10, total_steps=100, seconds_per_step=6.0)
    wait_until(lambda: (tmp_path / "child.pid").exists(), "the sleeper's child")
    yield run, pid
    for p in (pid, int((tmp_path / "child.pid").read_text())):
        if launch.alive(p):
            os.kill(p, 9)


# --- the command ---------------------------------------------------------------------------

def test_build_command_cpu_runs_the_trainer_directly_on_one_thread():
    argv, env = launch.build_command(Path("runs/x/run.json"), cuda=False)
    assert argv == [sys.executable, "-m", "training.train", "--config", "runs/x/run.json"]
    assert env["OMP_NUM_THREADS"] == "1" and "CUDA_VISIBLE_DEVICES" not in env
    assert launch.command_line(argv, env).endswith(f"{sys.executable} -m training.train --config runs/x/run.json")


def test_build_command_several_gpus_goes_through_accelerate():
    argv, env = launch.build_command(Path("run.json"), gpus=[1, 3], processes=2, cuda=True)
    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert env["CUDA_VISIBLE_DEVICES"] == "1,3" and "OMP_NUM_THREADS" not in env
    args = launch_command_parser().parse_args(argv[3:])  # accelerate's own parser accepts it
    assert (args.num_processes, args.multi_gpu, args.module) == (2, True, True)
    assert (args.training_script, args.training_script_args) == ("training.train", ["--config", "run.json"])


def test_build_command_accelerate_config_file_decides_the_strategy(tmp_path):
    config = tmp_path / "fsdp.yaml"
    argv, env = launch.build_command(Path("run.json"), gpus=[0], processes=1, accelerate_config=config, cuda=True)
    args = launch_command_parser().parse_args(argv[3:])
    assert args.config_file == str(config) and not args.multi_gpu  # --multi_gpu would override FSDP
    assert env["CUDA_VISIBLE_DEVICES"] == "0"


def test_build_command_single_gpu_needs_no_launcher():
    argv, env = launch.build_command(Path("run.json"), gpus=[2], processes=1, cuda=True)
    assert argv[1:3] == ["-m", "training.train"] and env["CUDA_VISIBLE_DEVICES"] == "2"


def test_build_command_processes_without_gpus_is_a_sentence():
    with pytest.raises(launch.LaunchError, match="need GPUs or an accelerate config"):
        launch.build_command(Path("run.json"), processes=2, cuda=False)


# --- stop, resume, effective state ---------------------------------------------------------------

def test_stop_run_writes_stop_and_terms_the_process_group(sleeper, tmp_path):
    run, pid = sleeper
    assert runs.effective_status(run)["state"] == "running"
    assert launch.stop_run(run) is True
    assert (run / runs.STOP).exists()
    wait_until(lambda: not launch.alive(pid), "the trainer to exit")
    child = int((tmp_path / "child.pid").read_text())
    wait_until(lambda: not launch.alive(child), "its child (same group) to exit")
    assert (tmp_path / "term").read_text() == "SIGTERM"
    assert launch.stop_run(run) is False  # nothing left to stop


def test_stop_run_while_starting_leaves_the_process_alone(sleeper):
    run, pid = sleeper
    runs.write_status(run, state="starting")  # the trainer may not have its SIGTERM handler yet
    assert launch.stop_run(run) is True
    assert (run / runs.STOP).exists() and runs.effective_status(run)["state"] == "stopping"
    time.sleep(0.5)
    assert launch.alive(pid)


def test_resume_refuses_a_live_run(sleeper):
    run, _ = sleeper
    with pytest.raises(launch.LaunchError, match="still running"):
        launch.resume_run(run)


def test_dead_pid_with_running_status_is_failed_with_log_lines(tmp_path):
    run = tmp_path / "r"
    proc = subprocess.run([sys.executable, "-c", "print('step 3/9'); raise MemoryError('out of memory')"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    run.mkdir()
    (run / runs.LOG).write_text(proc.stdout)
    runs.write_status(run, state="running", pid=2**22 + 7, step=3, total_steps=9)  # above pid_max
    status = runs.effective_status(run)
    assert status["state"] == "failed" and not status["alive"]
    assert "ended without finishing" in status["error"]
    assert status["log_tail"][0] == "step 3/9" and status["log_tail"][-1] == "MemoryError: out of memory"


def test_start_run_that_dies_before_training_is_failed_and_resume_reruns_it(tmp_path):
    run = tmp_path / "runs" / "bad"
    # A checked config whose model folder is gone by the time the trainer starts.
    config = TrainConfig(model=str(tmp_path / "deleted-model"), data=str(tmp_path / "d"), out="elsewhere",
                         max_steps=3)
    pid = launch.start_run(run, config, prompt_format="v2")
    request = json.loads((run / runs.REQUEST).read_text())
    assert request["out"] == str(run) and request["max_steps"] == 3 and request == config.as_request(run)
    assert (run / runs.FORMAT).read_text() == "v2\n"
    wait_until(lambda: not launch.alive(pid), "the trainer to fail on the missing model")
    status = runs.effective_status(run)
    assert status["state"] == "failed"
    assert "deleted-model" in status["error"] and status["log_tail"]
    first = runs.read_launch(run)
    with pytest.raises(launch.LaunchError, match="already holds a run"):
        launch.start_run(run, config)
    pid2 = launch.resume_run(run)
    assert pid2 != pid and runs.read_launch(run)["argv"] == first["argv"]
    wait_until(lambda: not launch.alive(pid2), "the rerun to exit")
    assert (run / runs.LOG).read_text().count("--- ") == 2  # one header line per launch
    assert runs.effective_status(run)["state"] == "failed"


def test_devices_reports_cpu_ram_and_every_gpu_torch_sees():
    import torch

    info = launch.devices()
    assert info["cpu"]["count"] == os.cpu_count()
    assert 0 < info["cpu"]["ram_used_gb"] <= info["cpu"]["ram_total_gb"]
    assert len(info["gpus"]) == torch.cuda.device_count()


def test_datasets_path_follows_data_and_its_own_variable(monkeypatch, tmp_path):
    assert settings.paths().datasets == settings.paths().data / "datasets"
    monkeypatch.setenv("NONESTORY_DATASETS", str(tmp_path / "elsewhere"))
    assert settings.paths().datasets == tmp_path / "elsewhere"


# --- python -m training.runs -----------------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training.runs", *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=60)


def test_runs_cli_lists_state_progress_time_left_and_sessions(sleeper, tmp_path):
    run, _ = sleeper
    done = tmp_path / "runs" / "r0"
    done.mkdir()
    for record in ({"step": 50, "eval_loss": 3.25}, {"step": 100, "eval_loss": 2.5}):
        runs.append_metrics(done, record)
    runs.write_status(done, state="done", step=100, total_steps=100)
    out = cli("list", "--runs", str(tmp_path / "runs"), "--session-minutes", "3")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2
    live = next(line for line in lines if line.startswith("r1"))
    # 90 steps left at 6 s a step: 9 minutes, three sessions of 3 minutes
    assert "running" in live and "step 10/100" in live and "left 9 min" in live
    assert "about 3 more sessions of 3 minutes" in live
    assert "best eval 2.5000" in next(line for line in lines if line.startswith("r0"))


def test_runs_cli_show_failed_run_prints_error_and_log(tmp_path):
    run = tmp_path / "runs" / "broken"
    run.mkdir(parents=True)
    (run / runs.LOG).write_text("loading\nValueError: no train split\n")
    runs.write_status(run, state="failed", error="ValueError: no train split")
    out = cli("show", "broken", "--runs", str(tmp_path / "runs"))
    assert out.returncode == 0, out.stderr
    assert "failed" in out.stdout and "error: ValueError: no train split" in out.stdout
    assert "| ValueError: no train split" in out.stdout
    missing = cli("show", "nope", "--runs", str(tmp_path / "runs"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no run 'nope'" in missing.stderr


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function (`from a import b` counts
    as a and as a.b, since b may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module:
            names |= {n.module} | {f"{n.module}.{a.name}" for a in n.names}
    return names


def test_layers_core_below_training_below_views_and_launch_apart_from_runs():
    for path in (ROOT / "core").rglob("*.py"):
        assert not {m for m in _imports(path) if m.split(".")[0] in ("training", "views", "streamlit")}, path
    for path in (ROOT / "training").glob("*.py"):
        assert not {m for m in _imports(path) if m.split(".")[0] in ("views", "streamlit")}, path
    assert "training.runs" in _imports(ROOT / "training" / "launch.py")  # launch builds on the contract...
    assert "training.launch" not in _imports(ROOT / "training" / "runs.py")  # ...which never calls back up


def test_prepare_job_refuses_a_bad_name_or_a_missing_file_with_one_sentence(tmp_path):
    from training import jobs

    with pytest.raises(jobs.JobError, match="Name the dataset with letters"):
        jobs.start_prepare(tmp_path, "../up", str(tmp_path / "out.jsonl"), "words")
    with pytest.raises(jobs.JobError, match=r"Batch output file .*missing\.jsonl does not exist\."):
        jobs.start_prepare(tmp_path, "fresh", str(tmp_path / "missing.jsonl"), "words")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "report.json").write_text("{}")
    with pytest.raises(jobs.JobError, match="exists or is being prepared"):
        jobs.dataset_folder(tmp_path, "done")
    assert jobs.preparations(tmp_path) == [] and not (tmp_path / "fresh").exists()


def test_evaluation_job_reads_its_log_end_without_progress_bars(tmp_path):
    from training import jobs

    assert jobs.read_eval_job(tmp_path) is None and jobs.eval_progress(tmp_path) is None
    (tmp_path / jobs.EVAL_LOG).write_text("loading\ncheckpoint-2: val loss 3.1\r 50%|#  | 1/2 [00:01<00:01, 1.2it/s]\n")
    assert jobs.eval_last_line(tmp_path) == "checkpoint-2: val loss 3.1"
