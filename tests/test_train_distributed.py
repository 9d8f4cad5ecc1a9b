"""Multi-process training for real: two CPU processes in one gloo group (the shipped
accelerate config cpu_ddp.yaml, and torchrun), a STOP file and a SIGTERM to rank 0 alone each
stopping every rank on the same step, resume, and the accelerate configs' keys."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.test_train import ENV, ROOT, data, tiny  # noqa: F401 - module fixtures, reused
from training import runs
from training.checkpoints import verify

BIN = Path(sys.executable).parent
CONFIGS = ROOT / "training" / "accelerate"
HANG = 150  # seconds; a run that has not ended by then is hung (a rank waiting for the others)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(launcher: list[str], tiny, data, out) -> subprocess.Popen:
    """A long 2-process run (stopped by the test) in its own process group, so a hang can be
    killed whole."""
    cmd = [*launcher, "-m", "training.train", "--model", str(tiny), "--data", str(data), "--out", str(out),
           "--max-steps", "5000", "--batch-size", "4", "--learning-rate", "2e-3", "--logging-steps", "2",
           "--save-steps", "6", "--eval-steps", "0", "--max-length", "64"]
    return subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def finish(proc: subprocess.Popen) -> str:
    """The run's output once it exits; a run that does not exit in HANG seconds fails the test."""
    try:
        output, _ = proc.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"the run hung (some rank never stopped):\n{output[-3000:]}")
    return output


def wait_for_step(run: Path, proc: subprocess.Popen, step: int) -> None:
    deadline = time.time() + HANG
    while time.time() < deadline:
        if any(m.get("step", 0) >= step for m in runs.read_metrics(run)):
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended early:\n{proc.stdout.read()[-3000:]}")
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"no metrics reached step {step} in {HANG}s")


def loss_steps(run: Path) -> list[int]:
    return [m["step"] for m in runs.read_metrics(run) if "loss" in m]


@pytest.fixture(scope="module")
def stopped_run(tiny, data, tmp_path_factory):
    """Two processes through `accelerate launch` with cpu_ddp.yaml, stopped by a STOP file."""
    run = tmp_path_factory.mktemp("ddp") / "run"
    launcher = [str(BIN / "accelerate"), "launch", "--config_file", str(CONFIGS / "cpu_ddp.yaml"),
                "--main_process_port", str(free_port())]
    proc = launch(launcher, tiny, data, run)
    wait_for_step(run, proc, 8)  # past the first periodic checkpoint (checkpoint-6)
    status = runs.read_status(run)
    (run / runs.STOP).touch()
    output = finish(proc)
    return run, proc.returncode, output, status


def test_two_processes_train_as_one_run(stopped_run):
    run, rc, output, running = stopped_run
    assert rc == 0, output[-3000:]
    assert running["world_size"] == 2 and running["state"] == "running"
    steps = loss_steps(run)
    assert steps == list(range(2, steps[-1] + 1, 2))  # each step logged once: rank 0 writes alone
    first = runs.read_metrics(run)[0]
    # 36 training rows split over two processes: 18 each, 5 batches of 4 an epoch, so step 2 is
    # epoch 0.4. One process alone would need 9 batches (step 2 = epoch 0.22).
    assert first["step"] == 2 and abs(first["epoch"] - 2 / 5) < 1e-6
    assert output.count("step 2/5000 loss") == 1  # one progress line per step in the log
    checkpoint = run / "checkpoint-6"
    assert (checkpoint / "model.safetensors").is_file() and verify(checkpoint) == []
    assert sorted(p.name for p in checkpoint.glob("rng_state_*.pth")) == ["rng_state_0.pth", "rng_state_1.pth"]


def test_stop_file_stops_every_process_with_one_checkpoint(stopped_run):
    run, rc, output, _ = stopped_run
    assert rc == 0, output[-3000:]
    status = runs.read_status(run)
    assert status["state"] == "stopped", status
    saved = status["step"]
    assert saved >= 8 and status["last_checkpoint"] == f"checkpoint-{saved}" and status["verify"]["ok"]
    assert [p.name for p in runs.checkpoints(run)][-1] == f"checkpoint-{saved}"
    assert not (run / runs.STOP).exists()  # consumed by rank 0 once all agreed
    assert output.count(f"stopped at step {saved}") == 1


def test_resume_then_sigterm_to_rank_zero_alone_stops_every_process(stopped_run, tiny, data):
    run, _, _, _ = stopped_run
    saved = runs.read_status(run)["step"]
    before = len(runs.read_metrics(run))
    launcher = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", str(free_port())]
    proc = launch(launcher, tiny, data, run)
    wait_for_step(run, proc, saved + 4)
    pid = runs.read_status(run)["pid"]
    assert pid != proc.pid  # rank 0's pid, not the launcher's
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"training.train" in cmdline
    os.kill(pid, signal.SIGTERM)  # only rank 0 hears it: rank 1 must learn it through the all-reduce
    output = finish(proc)
    assert proc.returncode == 0, output[-3000:]
    assert f"resuming from {run / f'checkpoint-{saved}'}" in output
    resumed = [m["step"] for m in runs.read_metrics(run)[before:] if "loss" in m]
    assert saved < resumed[0] <= saved + 2  # continued from the saved step, not from 0
    status = runs.read_status(run)
    assert status["state"] == "stopped" and status["step"] > saved + 4, status
    assert status["last_checkpoint"] == f"checkpoint-{status['step']}" and status["verify"]["ok"]


# --- the accelerate configs ------------------------------------------------------------------

@pytest.mark.parametrize("name, kind, processes", [
    ("cpu_ddp", "multi_gpu", 2), ("ddp", "multi_gpu", 2), ("multinode_ddp", "multi_gpu", 16),
    ("fsdp", "use_fsdp", 2), ("deepspeed_zero2", "use_deepspeed", 2)])
def test_accelerate_config_uses_only_keys_accelerate_knows(name, kind, processes):
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    path = CONFIGS / f"{name}.yaml"
    ClusterConfig.from_yaml_file(str(path))  # raises on an unknown top-level key
    parser = launch_command_parser()
    flags = {a.dest for a in parser._actions}
    raw = yaml.safe_load(path.read_text())
    for section in ("fsdp_config", "deepspeed_config"):  # nested keys become launch flags
        unknown = [k for k in raw.get(section, {}) if k not in flags]
        assert not unknown, f"{name}: {section} keys accelerate launch does not know: {unknown}"
    args, _, _ = _validate_launch_command(parser.parse_args(["--config_file", str(path), "-m", "training.train"]))
    assert getattr(args, kind) and args.num_processes == processes
    assert raw["mixed_precision"] == "no"  # precision is the run config's, in one place


def test_fsdp_config_wraps_gpt2_blocks_with_values_accelerate_accepts():
    import transformers.models.gpt2.modeling_gpt2 as gpt2
    from accelerate.utils import constants
    fsdp = yaml.safe_load((CONFIGS / "fsdp.yaml").read_text())["fsdp_config"]
    assert hasattr(gpt2, fsdp["fsdp_transformer_layer_cls_to_wrap"])
    assert fsdp["fsdp_reshard_after_forward"] == "FULL_SHARD" in constants.FSDP_SHARDING_STRATEGY
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP" in constants.FSDP_AUTO_WRAP_POLICY
    assert fsdp["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # checkpoints keep model.safetensors
    assert fsdp["fsdp_backward_prefetch"] in constants.FSDP_BACKWARD_PREFETCH
    ds = yaml.safe_load((CONFIGS / "deepspeed_zero2.yaml").read_text())["deepspeed_config"]
    assert ds["zero_stage"] == 2 and ds["gradient_accumulation_steps"] == 1 and ds["gradient_clipping"] == 1.0
