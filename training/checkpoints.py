"""Check that a saved model folder is whole, and list a run's checkpoints.

    python -m training.checkpoints verify DIR      # exit 1 with the reasons if not
    python -m training.checkpoints list RUN_DIR

What makes a checkpoint whole is core.modelfolder.verify's rule (config, tokenizer, weights with
nothing missing, the output head, no NaN or Inf; a LoRA adapter merged into its base model).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core import i18n
from core.i18n import _
from core.modelfolder import verify  # what a model folder is, and when it is whole, lives in core
from training import runs


def describe(run_dir: Path) -> list[dict]:
    """One row per checkpoint: name, step, size in MB, and the trainer's last logged loss."""
    rows = []
    for path in runs.checkpoints(run_dir):
        loss = None
        try:
            history = json.loads((path / "trainer_state.json").read_text())["log_history"]
            loss = next((h["loss"] for h in reversed(history) if "loss" in h), None)
        except (OSError, ValueError, KeyError):
            pass
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / 1e6
        rows.append({"name": path.name, "step": runs.checkpoint_step(path), "mb": round(size, 1),
                     "loss": loss})
    return rows


def main(argv: list[str] | None = None) -> int:
    i18n.set_language(i18n.from_environment())
    parser = argparse.ArgumentParser(prog="python -m training.checkpoints", description=_(
        "Check that a saved model folder is whole, and list a run's checkpoints."))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("verify", help=_("check one model folder")).add_argument("dir", type=Path)
    sub.add_parser("list", help=_("list a run's checkpoints")).add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "verify":
        problems = verify(args.dir)
        for p in problems:
            print(f"{args.dir}: {p}", file=sys.stderr)
        if not problems:
            print(_("{path}: ok").format(path=args.dir))
        return 1 if problems else 0
    rows = describe(args.run_dir)
    if not rows:
        print(_("no checkpoints in {path}").format(path=args.run_dir))
    for r in rows:
        loss = f"{r['loss']:.4f}" if r["loss"] is not None else "-"
        print(_("{name} step {step}  {size} MB  loss {loss}").format(
            name=f"{r['name']:<20}", step=f"{r['step']:>7}", size=f"{r['mb']:>8.1f}", loss=loss))
    return 0


if __name__ == "__main__":
    sys.exit(main())
