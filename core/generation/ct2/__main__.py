"""python -m core.generation.ct2 convert MODEL [--device cpu] [--status FILE] | status MODEL"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core import i18n
from core.files import atomic_write
from core.generation.base import GenerationError
from core.generation.ct2.conversion import convert, status
from core.i18n import _


def _convert_command(model: str, device: str | None, status_file: Path | None) -> int:
    def report(state: str, message: str, path: str = "") -> None:
        if status_file is not None:
            atomic_write(status_file, json.dumps({"state": state, "message": message, "path": path},
                                                 ensure_ascii=False))

    def progress(line: str) -> None:
        print(line, flush=True)
        report("running", line)

    report("running", _("Preparing to convert {model}…").format(model=model))
    try:
        path = convert(model, device, progress)
    except GenerationError as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        report("failed", str(err))
        return 2
    except Exception as err:
        report("failed", _("Internal error: {kind}: {error}").format(kind=type(err).__name__, error=err)[:300])
        raise
    print(path)
    report("done", _("{model} is ready for the CTranslate2 engine.").format(model=model), str(path))
    return 0


def main(argv: list[str] | None = None) -> int:
    # The command line's language (NONESTORY_LANG, else the system's), as `python -m core` has it;
    # the status file's messages are shown on the Checkpoints page in it.
    with i18n.language(i18n.from_environment()):
        parser = argparse.ArgumentParser(prog="python -m core.generation.ct2",
                                         description=_("Convert local models for the CTranslate2 engine."))
        sub = parser.add_subparsers(dest="command", required=True)
        c = sub.add_parser("convert", help=_("convert a model folder or cached hub model (once; again after it "
                                             "changed)"))
        c.add_argument("model", help=_("a model folder, checkpoint, LoRA adapter or hub id"))
        c.add_argument("--device", help=_("cpu or cuda (default: cuda when CTranslate2 sees a GPU)"))
        c.add_argument("--status", type=Path, metavar="FILE",
                       help=_("keep a JSON status here: state, message, path"))
        s = sub.add_parser("status", help=_("ready, stale or missing; converts nothing"))
        s.add_argument("model")
        s.add_argument("--device")
        args = parser.parse_args(argv)
        if args.command == "status":
            print(status(args.model, args.device))
            return 0
        return _convert_command(args.model, args.device, args.status)


if __name__ == "__main__":
    sys.exit(main())
