"""Score every checkpoint of a run: validation loss and perplexity, and sample stories.

    python -m training.evaluate --run RUN_DIR [--data DATASET_DIR] [--samples 4]
        [--max-new-tokens 80] [--seed 0] [--checkpoint checkpoint-30] [--new-only]

For each checkpoint (runs.checkpoints) that passes checkpoints.verify:
  - validation loss: the mean loss per completion token over the validation split, masked
    exactly as in training (data.CompletionCollator: prompt and padding carry no loss), and
    perplexity = exp(min(loss, 50)) (inf only when the loss itself is not finite);
  - sample stories for a fixed prompt set (fixed target words, genres and styles; seed + i),
    generated through the app's TransformersBackend in the run's prompt format, each analysed:
    N1 density, coverage of its targets, distinct-2 (unique character bigrams / bigrams),
    repeated-sentence rate, length in characters, and whether it ended at a sentence end.
A checkpoint that does not verify is skipped and recorded with `verified: false` and its problems.

Results are merged into RUN_DIR/eval.json (other checkpoints' entries are kept):
    {"checkpoints": {"checkpoint-30": {"step", "val_loss", "perplexity", "n1_density", "coverage",
     "distinct_2", "repeated_rate", "mean_chars", "clean_ending_rate", "samples": [...],
     "verified": true, ...}}, "data": DATASET_DIR, "updated": unix time}
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core import i18n
from core.files import atomic_write
from core.i18n import N_, _
from core.modelfolder import PROMPT_FORMATS, verify
from training import runs
from training.data import prompt_format_of

EVAL = "eval.json"
PPL_CAP = 50.0  # exp(50) ~ 5e21: finite; a random model's loss stays far below

# The fixed prompt set: same stories asked of every checkpoint, so checkpoints compare.
PROMPTS = (
    {"targets": ("曖昧", "宿命", "吟味", "憧憬", "葛藤"), "genres": ("学園", "恋愛"), "style": "文学風"},
    {"targets": ("契機", "秩序", "偏見", "把握", "顕著"), "genres": ("異能力", "バトル"), "style": "評論風"},
    {"targets": ("面影", "余韻", "儚い", "潔い", "眼差し"), "genres": ("恋愛", "乙女"), "style": "文学風"},
    {"targets": ("慣習", "試練", "使命", "矛盾", "覚悟"), "genres": ("学園", "ハーレム"), "style": "論述風"},
    {"targets": ("兆し", "沈黙", "衝動", "誇り", "軌跡"), "genres": ("バトル", "異能力"), "style": "論述風"},
    {"targets": ("思惑", "郷愁", "気配", "緊迫感", "絆"), "genres": ("乙女", "学園"), "style": "評論風"},
    {"targets": ("懸念", "妥協", "模索", "抱負", "戸惑い"), "genres": ("ハーレム", "恋愛"), "style": "文学風"},
    {"targets": ("一環", "趣旨", "根底", "踏襲", "逸脱"), "genres": ("異能力", "学園"), "style": "論述風"},
)


@dataclass(frozen=True)
class Metric:
    """One figure of a checkpoint's evaluation: evaluate writes it into eval.json under `key`,
    and the Checkpoints page builds its table columns, caption and charts from these entries.
    Adding a metric is one entry here (and, for a per-sample one, its value in score_sample)."""

    key: str  # eval.json's field
    label: str  # the table's column and the chart's title
    better: str | None  # "min", "max", or None where neither end is better (length)
    fmt: str  # format spec for the log line and the table
    description: str  # what it measures, for the page
    sample: str | None = None  # score_sample's field it is the mean of; None: from the validation split


# label and description stay English here (the page keys its table columns by the label) and are
# shown through _(); views/checkpoints_data.py's METRIC_TEXTS marks the same English.
METRICS = (
    Metric("val_loss", N_("val loss"), "min", ".4f", N_("mean loss per completion token on the validation split")),
    Metric("perplexity", N_("perplexity"), "min", ".1f", N_("exp(validation loss), capped at exp(50)")),
    Metric("n1_density", N_("N1 density"), "max", ".2f", N_("share of the sample stories' words that are N1"),
           "n1_density"),
    Metric("coverage", N_("coverage"), "max", ".2f", N_("share of each sample's target words it used"), "coverage"),
    Metric("distinct_2", N_("distinct-2"), "max", ".3f", N_("unique character bigrams / all bigrams"), "distinct_2"),
    Metric("repeated_rate", N_("repeated"), "min", ".3f", N_("share of sentences that repeat an earlier one"),
           "repeated_rate"),
    Metric("mean_chars", N_("mean chars"), None, ".0f", N_("mean length of a sample story in characters"), "chars"),
    Metric("clean_ending_rate", N_("clean endings"), "max", ".2f", N_("share of samples that end at a sentence end"),
           "clean_ending"),
)


class EvaluateError(Exception):
    """Something the user can fix (no run, no checkpoints, no dataset), in one sentence."""


# ---- small pieces ------------------------------------------------------------------------------

def perplexity(loss: float | None) -> float | None:
    """exp(loss) that cannot overflow: capped at exp(50); inf for a NaN/Inf loss."""
    if loss is None:
        return None
    if not math.isfinite(loss):
        return math.inf
    return math.exp(min(loss, PPL_CAP))


def distinct_2(text: str) -> float:
    """Unique character bigrams / all character bigrams (whitespace removed); 0 for < 2 chars."""
    chars = re.sub(r"\s", "", text)
    grams = [chars[i:i + 2] for i in range(len(chars) - 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def ends_cleanly(text: str) -> bool:
    """The text's last visible character is a sentence end (。！？!?」』)."""
    from core.generation.prompts import SENTENCE_ENDS
    text = text.rstrip()
    return bool(text) and text[-1] in SENTENCE_ENDS


def requests(samples: int, max_new_tokens: int, seed: int) -> list:
    """The first `samples` prompts of the fixed set as GenerationRequests, seeded seed + i."""
    from core.generation.base import GenerationRequest
    if not 1 <= samples <= len(PROMPTS):
        raise EvaluateError(_("samples must be between 1 and {count}.").format(count=len(PROMPTS)))
    return [GenerationRequest(targets=p["targets"], genres=p["genres"], style=p["style"],
                              max_new_tokens=max_new_tokens, seed=seed + i)
            for i, p in enumerate(PROMPTS[:samples])]


def score_sample(text: str, targets, all_targets) -> dict:
    """The analysis of one generated story. `all_targets`: one shared target set for analyze
    (its index is built once per set), coverage then counts only this story's own words."""
    from core.analysis import analyze
    from core.generation.pipeline import repeated_sentence_rate
    from training.prepare import coverage
    score = analyze(text, targets=all_targets).score
    return {"n1_density": score.n1_density, "coverage": coverage(targets, score.targets_used),
            "distinct_2": round(distinct_2(text), 4), "repeated_rate": round(repeated_sentence_rate(text), 4),
            "chars": len(re.sub(r"\s", "", text)), "clean_ending": ends_cleanly(text)}


def _mean(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return round(sum(values) / len(values), 4) if values else None


def aggregate(samples: list[dict]) -> dict:
    """The per-sample metrics of METRICS as means over the samples (a flag counts as 0 or 1)."""
    return {m.key: _mean(s[m.sample] for s in samples) for m in METRICS if m.sample}


# ---- run, data, format -----------------------------------------------------------------------

def read_config(run_dir: Path) -> dict:
    return runs.read_json(Path(run_dir) / runs.CONFIG)


def dataset_dir(data: str | Path) -> Path:
    """DIR or DIR/dataset, as training.train accepts it."""
    data = Path(data)
    return data / "dataset" if (data / "dataset").is_dir() else data


def prompt_format(config: dict, data: str | Path | None) -> str:
    """The run config's prompt_format, else the format prepare wrote the data in, else "own"."""
    if config.get("prompt_format") in PROMPT_FORMATS:
        return config["prompt_format"]
    return (prompt_format_of(data) if data is not None else None) or "own"


def load_validation(data: str | Path | None):
    """The validation split (a datasets.Dataset), or None when there is none."""
    if data is None:
        return None
    from datasets import load_from_disk
    folder = dataset_dir(data)
    if not folder.is_dir():
        raise EvaluateError(_("Dataset folder {folder} does not exist; pass --data or fix the run's config.").format(
            folder=folder))
    splits = load_from_disk(str(folder))
    val = splits.get("validation") if hasattr(splits, "get") else None
    return val if val is not None and len(val) else None


# ---- the measurements ------------------------------------------------------------------------

def validation_loss(model, tokenizer, dataset, max_length: int, batch_size: int = 8) -> float | None:
    """Mean loss per loss-bearing token over `dataset` (prompt/completion rows), masked as in
    training; None when no row has a completion token."""
    import torch
    import torch.nn.functional as F
    from training.data import IGNORE, CompletionCollator

    collator = CompletionCollator(tokenizer, max_length)
    device = next(model.parameters()).device
    total, tokens = 0.0, 0
    rows = [{"prompt": r["prompt"], "completion": r["completion"]} for r in dataset]
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch = collator(rows[start:start + batch_size])
            logits = model(input_ids=batch["input_ids"].to(device),
                           attention_mask=batch["attention_mask"].to(device)).logits.float()
            labels = batch["labels"].to(device)[:, 1:]
            logits = logits[:, :-1]
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                           ignore_index=IGNORE, reduction="sum"))
            tokens += int((labels != IGNORE).sum())
    return total / tokens if tokens else None


def generate_samples(path: Path, fmt: str, reqs: list, device: str | None) -> list[dict]:
    """One story per request through the app's backend, raw (untrimmed) so the ending shows."""
    from core.generation.hf import TransformersBackend
    from core.generation.prompts import prompt_for
    backend = TransformersBackend(str(path), prompt_format=fmt, device=device)
    all_targets = tuple(sorted({t for r in reqs for t in r.targets}))
    samples = []
    for req in reqs:
        text = "".join(backend.stream(req)).strip()
        samples.append({"prompt": {"targets": list(req.targets), "genres": list(req.genres), "style": req.style,
                                   "seed": req.seed, "text": prompt_for(fmt, req)},
                        "text": text, **score_sample(text, req.targets, all_targets)})
    return samples


def evaluate_checkpoint(path: Path, validation, fmt: str, reqs: list, max_length: int, batch_size: int = 8,
                        device: str | None = None) -> dict:
    """eval.json's entry for one verified checkpoint."""
    from core.generation.loading import borrowed, pick_device
    device = device or pick_device()
    with borrowed(str(path), device) as loaded:  # a run has many checkpoints: not all kept in memory
        context = loaded.context or max_length
        loss = (validation_loss(loaded.model, loaded.tokenizer, validation, min(max_length, context), batch_size)
                if validation is not None else None)
        samples = generate_samples(path, fmt, reqs, device)
    return {"step": runs.checkpoint_step(path), "verified": True, "problems": [],
            "val_loss": None if loss is None else round(loss, 6), "perplexity": perplexity(loss),
            **aggregate(samples), "prompt_format": fmt, "samples": samples, "evaluated": time.time()}


# ---- eval.json -------------------------------------------------------------------------------

def read_eval(run_dir: Path) -> dict:
    """eval.json as a dict ({"checkpoints": {}} when missing or unreadable)."""
    data = runs.read_json(Path(run_dir) / EVAL)
    if not isinstance(data.get("checkpoints"), dict):
        data["checkpoints"] = {}
    return data


def _write_eval(run_dir: Path, data: dict) -> None:
    atomic_write(Path(run_dir) / EVAL, json.dumps(data, ensure_ascii=False, indent=1, allow_nan=True))


def _progress_line(name: str, entry: dict) -> str:
    """The log's line per checkpoint (the Checkpoints page shows the latest), in this process's
    language: the head sentence, then one `label value` pair per sample metric."""
    if not entry.get("verified"):
        return _("{name}: skipped, does not verify: {problems}").format(
            name=name, problems="; ".join(entry.get("problems") or []))
    loss = entry["val_loss"]
    head = (_("{name}: val loss {loss} ppl {perplexity}").format(
        name=name, loss=f"{loss:.4f}", perplexity=f"{entry['perplexity']:.1f}") if loss is not None
        else _("{name}: no validation loss").format(name=name))
    figures = (f"{_label(m)} {'-' if entry.get(m.key) is None else format(entry[m.key], m.fmt)}"
               for m in METRICS if m.sample)
    return "  ".join((head, *figures))


def _label(metric: Metric) -> str:
    """A metric's label in the log line: lower case in English (n1 density), as translated else."""
    label = _(metric.label)
    return label.lower() if label == metric.label else label


def evaluate_run(run_dir: str | Path, data_dir: str | Path | None = None, samples: int = 4,
                 max_new_tokens: int = 80, seed: int = 0, checkpoint: str | None = None,
                 new_only: bool = False, device: str | None = None, prompt_format_: str | None = None,
                 progress: Callable[[str], None] | None = print) -> dict:
    """Evaluate the run's checkpoints (or only `checkpoint`), merge into eval.json, return it.
    `new_only` skips checkpoints eval.json already holds as verified."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise EvaluateError(_("Run directory {run_dir} does not exist.").format(run_dir=run_dir))
    config = read_config(run_dir)
    data = data_dir if data_dir is not None else config.get("data") or None
    paths = runs.checkpoints(run_dir)
    if checkpoint is not None:
        paths = [p for p in paths if p.name == checkpoint]
        if not paths:
            raise EvaluateError(_("{run_dir} has no checkpoint named {checkpoint}.").format(
                run_dir=run_dir, checkpoint=checkpoint))
    if not paths:
        raise EvaluateError(_("{run_dir} has no checkpoint-<step> folders yet.").format(run_dir=run_dir))
    fmt = prompt_format_ or prompt_format(config, data)
    reqs = requests(samples, max_new_tokens, seed)
    validation = load_validation(data)
    max_length = int(config.get("max_length") or 512)
    batch_size = int(config.get("batch_size") or 8)
    result = read_eval(run_dir)
    for path in paths:
        if new_only and result["checkpoints"].get(path.name, {}).get("verified"):
            continue
        problems = verify(path)
        if problems:
            entry = {"step": runs.checkpoint_step(path), "verified": False, "problems": problems,
                     "evaluated": time.time()}
        else:
            entry = evaluate_checkpoint(path, validation, fmt, reqs, max_length, batch_size, device)
        # Re-read before each write: another evaluation may have added a checkpoint meanwhile.
        result = read_eval(run_dir)
        result["checkpoints"][path.name] = entry
        result["checkpoints"] = dict(sorted(result["checkpoints"].items(),
                                            key=lambda kv: runs.checkpoint_step(Path(kv[0])) or 0))
        result.update(data=None if data is None else str(data), updated=time.time())
        _write_eval(run_dir, result)
        if progress:
            progress(_progress_line(path.name, entry))
    return result


def main(argv: list[str] | None = None) -> int:
    i18n.set_language(i18n.from_environment())
    ap = argparse.ArgumentParser(prog="python -m training.evaluate", description=_(
        "Score every checkpoint of a run: validation loss and perplexity, and sample stories."))
    ap.add_argument("--run", required=True, type=Path, help=_("run directory (with checkpoint-<step> folders)"))
    ap.add_argument("--data", type=Path, help=_("dataset folder (default: the run's config.json data)"))
    ap.add_argument("--samples", type=int, default=4,
                    help=_("sample stories per checkpoint (1-{count})").format(count=len(PROMPTS)))
    ap.add_argument("--max-new-tokens", type=int, default=80, help=_("tokens per sample story"))
    ap.add_argument("--seed", type=int, default=0, help=_("seed of the first sample (sample i uses seed + i)"))
    ap.add_argument("--checkpoint", help=_("evaluate only this checkpoint (e.g. checkpoint-30)"))
    ap.add_argument("--new-only", action="store_true", help=_("skip checkpoints eval.json already has"))
    ap.add_argument("--prompt-format", choices=PROMPT_FORMATS,
                    help=_("prompt format (default: from the run's data, else own)"))
    ap.add_argument("--device", help=_("cuda, mps or cpu (default: the fastest present)"))
    args = ap.parse_args(argv)
    from core.generation.base import GenerationError
    try:
        evaluate_run(args.run, args.data, samples=args.samples, max_new_tokens=args.max_new_tokens,
                     seed=args.seed, checkpoint=args.checkpoint, new_only=args.new_only, device=args.device,
                     prompt_format_=args.prompt_format, progress=lambda line: print(line, flush=True))
    except (EvaluateError, GenerationError) as e:
        print(_("error: {message}").format(message=e), file=sys.stderr)
        return 1
    print(_("wrote {path}").format(path=args.run / EVAL))
    return 0


if __name__ == "__main__":
    sys.exit(main())
