"""Supervised fine-tuning of a causal LM on prompt/completion records, in a run directory.

    python -m training.train --model DIR --data DIR --out RUN_DIR --max-steps 10
    python -m training.train --config run.yaml [--learning-rate 1e-4 ...]   # flags win
    torchrun --nproc_per_node 2 -m training.train --config run.yaml        # many processes
    accelerate launch --config_file training/accelerate/ddp.yaml -m training.train --config run.yaml

The run directory follows `training.runs`. Starting a run whose directory already holds
checkpoints resumes from the newest intact one. SIGTERM (to any one process of a multi-process
run, e.g. status.json's pid, which is rank 0's) or a file named STOP in the run directory
saves a checkpoint and exits 0 with state `stopped`: all ranks agree to stop on the same step.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

from core import i18n, modelfolder
from core.i18n import _
from core.modelfolder import verify
from training import distributed, lora, runs
from training.config import TrainConfig, parse_config
from training.data import IGNORE, CompletionCollator, pack_dataset, prompt_format_of, tokenize_records
from training.errors import TrainError


class RunCallback(TrainerCallback):
    """Keeps metrics.jsonl and status.json current, prints a progress line per logging step,
    and stops on SIGTERM or a STOP file, with every rank of a multi-process run agreeing."""

    def __init__(self, run_dir: Path, trainer_ref: list, session_minutes: float = 90.0):
        self.run_dir = Path(run_dir)
        self.trainer_ref = trainer_ref  # filled once the Trainer exists
        self.session_minutes = session_minutes
        self.stop_requested = False
        self.stopped = False
        self.tokens = 0  # loss-bearing tokens trained on this session, all ranks together
        self.start = time.time()
        self.first_step = None
        self.last_log = (self.start, 0)  # (time, tokens) at the previous log line

    def request_stop(self, *_signal):
        self.stop_requested = True

    def _seconds_per_step(self, state) -> float | None:
        done = state.global_step - (self.first_step or 0)
        return (time.time() - self.start) / done if done > 0 else None

    def on_train_begin(self, args, state, control, **kw):
        self.first_step = state.global_step
        self.start = time.time()  # measure steps, not model loading
        self.last_log = (self.start, self.tokens)
        if state.is_world_process_zero:
            runs.write_status(self.run_dir, state="running", step=state.global_step,
                              total_steps=state.max_steps)

    def on_step_end(self, args, state, control, **kw):
        # Every rank asks, then all take the same answer: a rank that stopped alone would
        # leave the others waiting in the next gradient all-reduce for ever.
        stop_file = self.run_dir / runs.STOP
        local_tokens = self.trainer_ref[0].loss_tokens if self.trainer_ref else 0
        stop, self.tokens = distributed.agree(self.stop_requested or stop_file.exists(), local_tokens,
                                              args.device)
        if stop:
            self.stopped = True
            control.should_save = True
            control.should_training_stop = True
        if state.is_world_process_zero:
            if stop:
                stop_file.unlink(missing_ok=True)  # consumed: the resumed run must not stop at once
            runs.write_status(self.run_dir, step=state.global_step, total_steps=state.max_steps,
                              seconds_per_step=self._seconds_per_step(state))
        return control

    def on_log(self, args, state, control, logs=None, **kw):
        if not state.is_world_process_zero or not logs:
            return
        now = time.time()
        record = {"step": state.global_step, "epoch": state.epoch, "elapsed": round(now - self.start, 3)}
        if "eval_loss" in logs:
            record["eval_loss"] = logs["eval_loss"]
        elif "loss" in logs:
            then, before = self.last_log
            self.last_log = (now, self.tokens)
            record.update(loss=logs["loss"], learning_rate=logs.get("learning_rate"),
                          grad_norm=logs.get("grad_norm"),
                          tokens_per_second=round((self.tokens - before) / max(now - then, 1e-9), 2))
            print(progress_line(record, state.max_steps, self._seconds_per_step(state), self.session_minutes),
                  flush=True)
        else:
            return  # the end-of-training summary; status.json carries it
        runs.append_metrics(self.run_dir, record)

    def on_save(self, args, state, control, **kw):
        if not state.is_world_process_zero:
            return
        path = self.run_dir / f"checkpoint-{state.global_step}"
        complete_checkpoint(path, self.run_dir, self.trainer_ref[0].model if self.trainer_ref else None)
        problems = verify(path)
        runs.write_status(self.run_dir, last_checkpoint=path.name,
                          verify={"checkpoint": path.name, "ok": not problems, "problems": problems})


def progress_line(record: dict, total: int, seconds_per_step: float | None, session_minutes: float) -> str:
    """The log's line per logging step, e.g. `step 40/300 loss 3.2100 lr 4.20e-05 12.3 tok/s
    1.90 s/step, about 9 min left = 1 more session of 90 min`, in the trainer's language (the
    numbers are written the same way in every language)."""
    lr = record.get("learning_rate")
    line = _("step {step}/{total} loss {loss} lr {lr} {speed} tok/s").format(
        step=record["step"], total=total, loss=f"{record['loss']:.4f}", lr=lr if lr is None else format(lr, ".2e"),
        speed=f"{record['tokens_per_second']:.1f}")
    est = runs.estimate({"step": record["step"], "total_steps": total, "seconds_per_step": seconds_per_step},
                        session_minutes)
    if est["remaining_seconds"] is None:
        return _("{line}, time left not measured yet").format(line=line)
    per_step = f"{seconds_per_step:.2f}"
    if not est["remaining_steps"]:
        return _("{line} {seconds} s/step, last step").format(line=line, seconds=per_step)
    sessions = runs.sessions_text(est["sessions"], session_minutes, short=True)
    return _("{line} {seconds} s/step, about {minutes} min left = {sessions}").format(
        line=line, seconds=per_step, minutes=math.ceil(est["remaining_seconds"] / 60), sessions=sessions)


def complete_checkpoint(path: Path, run_dir: Path, model) -> None:
    """What the Trainer does not save but readers of a checkpoint look for: the base model's
    config.json next to a LoRA adapter (model lists find models by config.json), and the run's
    prompt-format marker, which the model registry reads from the checkpoint folder."""
    if modelfolder.is_adapter(path) and not (path / modelfolder.CONFIG).exists() and model is not None:
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        base.config.save_pretrained(path)
    fmt = modelfolder.format_marker(run_dir)
    if fmt in modelfolder.PROMPT_FORMATS and modelfolder.format_marker(path) is None:
        modelfolder.write_format(path, fmt)


def record_prompt_format(run_dir: Path, data: str) -> None:
    """A run started from the command line gets the format marker from its dataset's report, so
    its checkpoints prompt the right way in the model list too (the admin page writes its own)."""
    fmt = prompt_format_of(data)
    if fmt in modelfolder.PROMPT_FORMATS and modelfolder.format_marker(run_dir) is None:
        modelfolder.write_format(run_dir, fmt)


def newest_intact_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint that verifies and holds the trainer state needed to resume."""
    for path in reversed(runs.checkpoints(run_dir)):
        if (path / "trainer_state.json").exists() and not verify(path):
            return path
        print(_("skipping checkpoint {name}: not intact").format(name=path.name), file=sys.stderr)
    return None


def load_splits(cfg: TrainConfig, tokenizer):
    from datasets import load_from_disk
    data = Path(cfg.data)
    if (data / "dataset").is_dir():
        data = data / "dataset"
    splits = load_from_disk(str(data))
    if "train" not in splits:
        raise ValueError(_("{data} has no train split; build it with python -m training.prepare.").format(data=data))
    train = tokenize_records(splits["train"], tokenizer, cfg.max_length)
    val = splits.get("validation")
    val = tokenize_records(val, tokenizer, cfg.max_length) if val is not None and len(val) else None
    if cfg.pack:
        train = pack_dataset(train, cfg.max_length)
    return train, val


def _model_source(model: str) -> str:
    """A local folder as an absolute path: LoRA checkpoints record it as their base model and
    must find it from any working directory."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


def load_model(cfg: TrainConfig):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    source = _model_source(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    if cfg.gradient_checkpointing:
        # Non-reentrant: works under DDP and needs no grad on a frozen (LoRA) input.
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if cfg.lora:
        model = lora.wrap(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_targets,
                          cfg.gradient_checkpointing)
    return model, tokenizer


def check_options(cfg: TrainConfig) -> None:
    """Fail before loading anything when this machine cannot do what the config asks."""
    import torch
    if cfg.precision == "fp16" and not torch.cuda.is_available():
        raise TrainError(_("fp16 needs a CUDA GPU; use bf16 or fp32 on CPU."))
    if cfg.precision == "bf16" and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        raise TrainError(_("This GPU has no bf16; use fp16 or fp32."))
    if cfg.lora:
        lora.require_peft()


def precision_flags(precision: str) -> dict:
    import torch
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def training_arguments(cfg: TrainConfig, evaluate: bool):
    import torch
    from transformers import TrainingArguments
    return TrainingArguments(
        output_dir=cfg.out, max_steps=cfg.max_steps, num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate, warmup_steps=cfg.warmup_steps,
        logging_steps=cfg.logging_steps, save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit or None,
        eval_strategy="steps" if evaluate else "no", eval_steps=cfg.eval_steps or None,
        seed=cfg.seed,
        remove_unused_columns=False, report_to="none", disable_tqdm=True,
        ddp_find_unused_parameters=False,  # a causal LM uses every weight it trains each step
        # Without a GPU, say CPU outright: only then does accelerate join the processes of a
        # torchrun launch into one gloo group (else each trains alone) and allow bf16 on CPU.
        use_cpu=not (torch.cuda.is_available() or torch.backends.mps.is_available()),
        **precision_flags(cfg.precision),
    )


def build_trainer(cfg: TrainConfig, callback: RunCallback):
    from transformers import Trainer

    class CompletionTrainer(Trainer):
        loss_tokens = 0  # loss-bearing tokens trained on by this rank, for tokens/second

        def training_step(self, model, inputs, num_items_in_batch=None):
            self.loss_tokens += int((inputs["labels"] != IGNORE).sum())
            return super().training_step(model, inputs, num_items_in_batch)

    model, tokenizer = load_model(cfg)
    train, val = load_splits(cfg, tokenizer)
    evaluate = val is not None and cfg.eval_steps > 0
    args = training_arguments(cfg, evaluate)
    trainer = CompletionTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=val if evaluate else None,
        data_collator=CompletionCollator(tokenizer, cfg.max_length), processing_class=tokenizer,
        callbacks=[callback],
    )
    callback.trainer_ref.append(trainer)
    return trainer


# What a user can fix: the sentence alone, with no exception type before it.
_SENTENCES = (TrainError, modelfolder.ModelFolderError, SystemExit)


def _fail(out: Path, e: BaseException) -> None:
    line = (str(e) if isinstance(e, _SENTENCES) else f"{type(e).__name__}: {e}").splitlines()[0]
    runs.write_status(out, state="failed", error=line)


def run(cfg: TrainConfig) -> int:
    out, main = Path(cfg.out), distributed.is_main()
    out.mkdir(parents=True, exist_ok=True)
    if main:  # one writer; status.json's pid is rank 0's, which a SIGTERM stops the whole run through
        runs.tee_log(out)
        (out / runs.CONFIG).write_text(json.dumps(dataclasses.asdict(cfg), indent=1), encoding="utf-8")
        record_prompt_format(out, cfg.data)
        runs.write_status(out, state="starting", pid=os.getpid(), world_size=distributed.world_size(),
                          error=None, started=time.time())
    callback = RunCallback(out, [], cfg.session_minutes)
    try:
        check_options(cfg)
        signal.signal(signal.SIGTERM, callback.request_stop)
        trainer = build_trainer(cfg, callback)
        # Rank 0 picks the checkpoint (verify loads a whole model) and every rank resumes from it.
        resume = distributed.from_main(lambda: newest_intact_checkpoint(out))
        if resume and main:
            print(_("resuming from {checkpoint}").format(checkpoint=resume), flush=True)
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    except BaseException as e:
        if isinstance(e, SystemExit) and not e.code:
            raise
        _fail(out, e)
        raise
    ending = "stopped" if callback.stopped else "done"
    if main:
        runs.write_status(out, state=ending, step=trainer.state.global_step)
        print((_("stopped at step {step}") if callback.stopped else _("done at step {step}")).format(
            step=trainer.state.global_step), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line: a TrainError (or a model folder that cannot load) becomes exit status 1
    and its one sentence on stderr, with no traceback. Messages, status.json's error included,
    are in the command line's language (NONESTORY_LANG, else the system's; English by default)."""
    i18n.set_language(i18n.from_environment())
    cfg = parse_config(argv, description=_("Supervised fine-tuning of a causal LM on prompt/completion records, "
                                           "in a run directory."))
    try:
        return run(cfg)
    except (TrainError, modelfolder.ModelFolderError) as e:
        print(e, file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
