"""The trainer's configuration: every option a run takes, checked once where it is built.

The Training page builds a TrainConfig from its widgets and hands it to training.launch, which
writes it as the run's run.json; `python -m training.train` reads that file (or flags) back
through parse_config. No torch here, so the page imports it without loading the trainer.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from core.i18n import N_, _

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    model: str = _f("", N_("model folder or hub id to start from (e.g. the output of training.tiny)"))
    data: str = _f("", N_("dataset folder written by training.prepare (DIR or DIR/dataset)"))
    out: str = _f("", N_("run directory: config, status, metrics, checkpoints"))
    max_steps: int = _f(-1, N_("optimizer steps to train; -1 trains for `epochs` instead"))
    epochs: float = _f(1.0, N_("passes over the training split when max_steps is -1"))
    batch_size: int = _f(8, N_("examples per device per step"))
    learning_rate: float = _f(5e-5, N_("peak learning rate (linear decay after warm-up)"))
    warmup_steps: int = _f(0, N_("steps of linear learning-rate warm-up"))
    max_length: int = _f(512, N_("tokens per example (prompt + completion + end-of-text), cut beyond"))
    pack: bool = _f(False, N_("concatenate examples up to max_length (prompt masking kept per example)"))
    precision: str = _f("auto", N_("auto (bf16 on GPUs that have it, else fp32), fp32, bf16 or fp16"))
    save_steps: int = _f(100, N_("save a checkpoint every this many steps (and at the end)"))
    save_total_limit: int = _f(0, N_("keep at most this many checkpoints; 0 keeps all"))
    eval_steps: int = _f(100, N_("evaluate on the validation split every this many steps; 0 never"))
    logging_steps: int = _f(10, N_("write a metrics.jsonl line every this many steps"))
    seed: int = _f(42, N_("seed for data order and initialisation of anything new"))
    lora: bool = _f(False, N_("train LoRA adapters through peft instead of all weights"))
    lora_r: int = _f(16, N_("LoRA rank: the inner size of each low-rank update"))
    lora_alpha: int = _f(32, N_("LoRA scale: updates are multiplied by lora_alpha / lora_r"))
    lora_dropout: float = _f(0.05, N_("dropout on the LoRA branch's input"))
    lora_targets: str = _f("", N_("comma-separated module names to adapt; empty: peft's default for the "
                                  "architecture (c_attn for GPT-2)"))
    gradient_checkpointing: bool = _f(False, N_("recompute activations to save GPU memory"))
    session_minutes: float = _f(90.0, N_("length of a training session, for the time estimate"))

    def as_request(self, out: Path | str | None = None) -> dict:
        """The run.json the trainer's --config reads: every field, `out` replaced when given."""
        return {**dataclasses.asdict(self), **({"out": str(out)} if out is not None else {})}

    def __post_init__(self):
        for name in ("model", "data", "out"):
            if not getattr(self, name):
                raise ValueError(_("--{name} is required (give it as a flag or in --config).").format(name=name))
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(_("max_steps must be positive, or -1 to train for `epochs`."))
        if self.max_steps == -1 and self.epochs <= 0:
            raise ValueError(_("epochs must be positive when max_steps is -1."))
        for name in ("batch_size", "max_length", "save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(_("{name} must be at least 1.").format(name=name))
        if self.eval_steps < 0 or self.save_total_limit < 0 or self.warmup_steps < 0:
            raise ValueError(_("eval_steps, save_total_limit and warmup_steps cannot be negative."))
        if self.learning_rate <= 0:
            raise ValueError(_("learning_rate must be positive."))
        if self.precision not in PRECISIONS:
            raise ValueError(_("precision must be one of {choices}, not {value}.").format(
                choices=", ".join(PRECISIONS), value=repr(self.precision)))
        if self.session_minutes <= 0:
            raise ValueError(_("session_minutes must be positive."))
        if self.lora_r < 1 or self.lora_alpha <= 0 or not 0 <= self.lora_dropout < 1:
            raise ValueError(_("lora_r must be at least 1, lora_alpha positive and lora_dropout in [0, 1)."))


def _read_config_file(path: Path) -> dict:
    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix in (".yaml", ".yml"):
        import yaml
        data = yaml.safe_load(text) or {}
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(_("{path} must hold a mapping of config keys to values.").format(path=path))
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(_("{path} has unknown keys {unknown}; known keys: {known}.").format(
            path=path, unknown=sorted(unknown), known=sorted(known)))
    return data


def parse_config(argv: list[str] | None = None, description: str = "") -> TrainConfig:
    """--config FILE (YAML or JSON) first, then every flag given on the command line on top."""
    parser = argparse.ArgumentParser(prog="python -m training.train", description=description)
    parser.add_argument("--config", type=Path, help=_("run.yaml or run.json with any of the keys below"))
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=_(f.metadata["help"]))
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=None,
                                help=_("{help} (default {default})").format(help=_(f.metadata["help"]),
                                                                            default=repr(f.default)))
    args = vars(parser.parse_args(argv))
    values = _read_config_file(args.pop("config")) if args.get("config") else {}
    values.update({k: v for k, v in args.items() if v is not None})
    try:
        return TrainConfig(**values)
    except (ValueError, TypeError) as e:
        parser.error(str(e))
