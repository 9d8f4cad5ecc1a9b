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
    parser = argparse.ArgumentParser(prog="python -m training.checkpoints", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("verify", help="check one model folder").add_argument("dir", type=Path)
    sub.add_parser("list", help="list a run's checkpoints").add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "verify":
        problems = verify(args.dir)
        for p in problems:
            print(f"{args.dir}: {p}", file=sys.stderr)
        if not problems:
            print(f"{args.dir}: ok")
        return 1 if problems else 0
    rows = describe(args.run_dir)
    if not rows:
        print(f"no checkpoints in {args.run_dir}")
    for r in rows:
        loss = f"{r['loss']:.4f}" if r["loss"] is not None else "-"
        print(f"{r['name']:<20} step {r['step']:>7}  {r['mb']:>8.1f} MB  loss {loss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
