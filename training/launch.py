"""Starting, stopping and resuming training runs as background processes that outlive the app.

A run is started through training.process.spawn: its own session (so closing the browser, a
Streamlit rerun or an app restart never signals it), output appended to the run's log, and
nothing kept but the pid, which the run directory records. (Evaluation and dataset preparation
are training.jobs'.)

`start_run` writes the page's checked TrainConfig as run.json and launch.json (the command, so
Resume needs no folder hunting), `stop_run` asks for a checkpoint and a clean exit,
`resume_run` starts the same command again (the trainer resumes from its newest intact
checkpoint). `devices` says what the machine has, for the device panel and the GPU choice.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from core import modelfolder
from core.files import atomic_write
from core.i18n import _
from training import runs
from training.config import TrainConfig
from training.process import alive, python, spawn

class LaunchError(Exception):
    """Something the admin can fix (a run already running, no launch record), in one sentence."""


def build_command(request: Path, gpus: Sequence[int] = (), processes: int = 1,
                  accelerate_config: Path | None = None, cuda: bool | None = None) -> tuple[list[str], dict]:
    """The argv and added environment that train `request` (a run.json). One process runs the
    trainer directly; several, or an accelerate config file (FSDP, DeepSpeed), go through
    `accelerate launch`, which starts one trainer per process."""
    cuda = bool(devices()["gpus"]) if cuda is None else cuda
    env = {"TOKENIZERS_PARALLELISM": "false"}
    if not cuda:
        # Without a GPU, torch's thread pool spreads every small op over all cores; on a small or
        # busy CPU the threads fight for them and training runs many times slower than on one.
        env["OMP_NUM_THREADS"] = "1"
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
    train = ["-m", "training.train", "--config", str(request)]
    if processes <= 1 and accelerate_config is None:
        return [python(), *train], env
    if accelerate_config is None and not gpus:
        raise LaunchError(_("Several processes need GPUs or an accelerate config file (e.g. CPU DDP)."))
    argv = [python(), "-m", "accelerate.commands.launch", "--num_processes", str(max(processes, 1))]
    if accelerate_config is not None:
        argv += ["--config_file", str(accelerate_config)]  # it says DDP, FSDP or DeepSpeed
    elif processes > 1:
        argv.append("--multi_gpu")
    return argv + train, env


def command_line(argv: Sequence[str], env: dict) -> str:
    """What a terminal would run: the added variables, then the quoted argv."""
    return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.join(argv)])


def _spawn_run(run_dir: Path, argv: list[str], env: dict) -> int:
    """Start (or restart) a run's command; launched is stamped first, so a status the trainer
    writes afterwards counts as this launch's."""
    (run_dir / runs.STOP).unlink(missing_ok=True)  # an old stop request must not end the new run
    launched = time.time()
    with open(run_dir / runs.LOG, "a", encoding="utf-8") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {command_line(argv, env)}\n")
    pid = spawn(argv, run_dir / runs.LOG, env)
    runs.write_launch(run_dir, argv=argv, env=env, pid=pid, launched=launched, stop_requested=None)
    return pid


def _write_request(run_dir: Path, request: dict) -> Path:
    """run.json, the trainer's --config, with `out` set to the run directory."""
    path = runs.request_path(run_dir)
    atomic_write(path, json.dumps({**request, "out": str(run_dir)}, ensure_ascii=False, indent=1))
    return path


def start_run(run_dir: Path, config: TrainConfig, gpus: Sequence[int] = (), processes: int = 1,
              accelerate_config: Path | None = None, prompt_format: str = "") -> int:
    """Write run.json (the already validated `config`, with out = run_dir) and the prompt-format
    marker, and start training in the background; return the pid."""
    run_dir = Path(run_dir).resolve()  # the command runs from the repository root
    if run_dir.exists() and any(run_dir.iterdir()):
        raise LaunchError(_("{run_dir} already holds a run; pick another name or resume that one.").format(
            run_dir=run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    request = _write_request(run_dir, config.as_request())
    if prompt_format:
        modelfolder.write_format(run_dir, prompt_format)
    argv, env = build_command(request, gpus, processes, accelerate_config)
    return _spawn_run(run_dir, argv, env)


def resume_run(run_dir: Path) -> int:
    """Start the run's command again; the trainer picks up its newest intact checkpoint. A run
    started from the command line (no launch.json) gets a one-process command from config.json."""
    run_dir = Path(run_dir)
    if runs.effective_status(run_dir)["alive"]:
        raise LaunchError(_("{run} is still running; stop it first.").format(run=run_dir.name))
    record = runs.read_launch(run_dir)
    argv, env = record.get("argv"), record.get("env") or {}
    if not argv:
        config = runs.run_config(run_dir)
        if not config:
            raise LaunchError(_("{run} has no run.json or config.json to resume from.").format(run=run_dir.name))
        request = runs.request_path(run_dir)
        if not request.exists():
            request = _write_request(run_dir, config)
        argv, env = build_command(request)
    return _spawn_run(run_dir, list(argv), dict(env))


def stop_run(run_dir: Path) -> bool:
    """Ask the run to save a checkpoint and stop: the STOP file (every rank sees it), plus
    SIGTERM to a single-process trainer that has installed its handler (state running). A
    multi-process run gets only the file: accelerate's launcher answers SIGTERM by killing
    its workers after a grace period, which could cut a large checkpoint in half. Returns
    whether a live process was asked."""
    run_dir = Path(run_dir)
    status = runs.effective_status(run_dir)
    if not status["alive"]:
        return False
    (run_dir / runs.STOP).touch()
    record = runs.write_launch(run_dir, stop_requested=time.time()) if runs.read_launch(run_dir) else {}
    argv, pid = record.get("argv") or [], record.get("pid") or status.get("pid")
    one_process = "accelerate.commands.launch" not in argv and (status.get("world_size") or 1) <= 1
    if status["state"] in ("running", "stopping") and one_process and alive(pid):
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGTERM)  # our own session: the trainer and any helpers
            else:
                os.kill(pid, signal.SIGTERM)  # started from a terminal: only the trainer
        except ProcessLookupError:
            pass  # it ended just now
    return True


def _nvidia_smi() -> list[dict] | None:
    """GPUs as nvidia-smi reports them (no CUDA context in this process); None without it."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    fields = "index,name,memory.used,memory.total,utilization.gpu"
    try:
        out = subprocess.run([exe, f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 5:
            num = [float(p) if p.replace(".", "", 1).isdigit() else None for p in parts[2:]]
            gpus.append({"index": int(parts[0]), "name": parts[1], "memory_used_mb": num[0],
                         "memory_total_mb": num[1], "utilisation": num[2]})
    return gpus


def _torch_gpus() -> list[dict]:
    """GPUs as torch sees them. Only properties: mem_get_info would create a CUDA context
    (hundreds of MB) in the app's process on every GPU."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    return [{"index": i, "name": torch.cuda.get_device_name(i), "memory_used_mb": None,
             "memory_total_mb": torch.cuda.get_device_properties(i).total_memory / 2**20, "utilisation": None}
            for i in range(torch.cuda.device_count())]


def devices() -> dict:
    """{"gpus": [...], "cpu": {count, load, ram_used_gb, ram_total_gb}} for the device panel."""
    import psutil

    gpus = _nvidia_smi()
    if gpus is None:
        gpus = _torch_gpus()
    ram = psutil.virtual_memory()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"gpus": gpus, "cpu": {"count": os.cpu_count(), "load": load, "percent": psutil.cpu_percent(None),
                                  "ram_used_gb": (ram.total - ram.available) / 2**30, "ram_total_gb": ram.total / 2**30}}
