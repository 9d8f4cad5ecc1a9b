"""Promotion gated by evaluation: what stands between a training checkpoint and students.

A checkpoint needs an evaluation (training.evaluate's entry in its run's eval.json) before it
can be promoted. Its target coverage and clean-ending rate must reach the thresholds an admin
sets (kept in data/models/promotion.json), and its sample stories must hold no U+FFFD (bytes
the tokenizer could not decode). An admin may promote anyway, with a written reason. Every
promotion, forced or not, is appended to data/models/promotions.jsonl: who, when, which
checkpoint, its figures, and the reason.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from core import i18n, settings
from core.files import atomic_write, read_jsonl
from core.generation import registry
from core.i18n import N_, _

SETTINGS = "promotion.json"
LOG = "promotions.jsonl"
_BOOKKEEPING = ("step", "evaluated")  # numbers in an evaluation entry that are not figures
# A threshold out of range, by the field it is in (one whole sentence each, for translation).
_OUT_OF_RANGE = {"min_coverage": N_("The threshold min coverage must be between 0 and 1."),
                 "min_clean_ending": N_("The threshold min clean ending must be between 0 and 1.")}


@dataclass(frozen=True)
class Thresholds:
    min_coverage: float = 0.5  # share of the target words a sample story uses, mean over samples
    min_clean_ending: float = 0.75  # share of samples that end on a finished sentence

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise registry.PromotionError(_(_OUT_OF_RANGE[name]))


class PromotionRefused(registry.PromotionError):
    """The checkpoint falls short; `reasons` says how, one sentence each."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__(" ".join(reasons))


def _path(name: str) -> Path:
    return settings.paths().models / name


def thresholds() -> Thresholds:
    """The thresholds an admin set, or the defaults (also when the file is unreadable)."""
    try:
        data = json.loads(_path(SETTINGS).read_text(encoding="utf-8"))
        return Thresholds(float(data["min_coverage"]), float(data["min_clean_ending"]))
    except (OSError, ValueError, KeyError, TypeError, registry.PromotionError):
        return Thresholds()


def save_thresholds(value: Thresholds) -> None:
    path = _path(SETTINGS)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(asdict(value)))


def shortfalls(evaluation: dict | None, limits: Thresholds) -> list[str]:
    """Why `evaluation` (an eval.json entry) should not reach students; [] when it may."""
    if not evaluation or not evaluation.get("verified"):
        return [_("It has no evaluation: evaluate it on the Compare tab first.")]
    out = []
    coverage, clean = evaluation.get("coverage"), evaluation.get("clean_ending_rate")
    if coverage is None or coverage < limits.min_coverage:
        out.append(_("Its target coverage {coverage} is below the threshold {threshold}.").format(
            coverage=_pct(coverage), threshold=_pct(limits.min_coverage)))
    if clean is None or clean < limits.min_clean_ending:
        out.append(_("Its clean-ending rate {rate} is below the threshold {threshold}.").format(
            rate=_pct(clean), threshold=_pct(limits.min_clean_ending)))
    broken = sum(1 for s in evaluation.get("samples") or () if "\ufffd" in (s.get("text") or ""))
    if broken:
        out.append(_("{count} of its sample stories contain U+FFFD (characters the tokenizer could not decode).")
                   .format(count=i18n.number(broken)))
    return out


def _pct(value: float | None) -> str:
    return _("not measured") if value is None else i18n.percent(value, 0)


def figures(evaluation: dict | None) -> dict:
    """The evaluation's figures: every number its entry holds (the metrics training.evaluate's
    registry names, whatever they are), not its samples, flags or bookkeeping."""
    return {k: v for k, v in (evaluation or {}).items()
            if k not in _BOOKKEEPING and isinstance(v, (int, float)) and not isinstance(v, bool)}


def promote(path: str | Path, name: str, evaluation: dict | None, *, force_reason: str = "", by: str = "",
            **kwargs) -> dict:
    """registry.promote behind the gate. A checkpoint without an evaluation is refused; one
    that falls short of the thresholds is refused unless `force_reason` says why it should go
    anyway. The promotion is logged; the registry entry carries the figures."""
    problems = shortfalls(evaluation, thresholds())
    if problems and (not evaluation or not evaluation.get("verified")):
        raise PromotionRefused(problems)
    force_reason = (force_reason or "").strip()
    if problems and not force_reason:
        raise PromotionRefused(problems + [_("To promote it anyway, tick “promote anyway” and give a reason.")])
    entry = registry.promote(path, name, by=by, figures=figures(evaluation), **kwargs)
    _append_log({"at": time.time(), "by": by, "name": entry["name"], "run": entry.get("run", ""),
                 "checkpoint": entry.get("checkpoint", ""), "figures": figures(evaluation),
                 "thresholds": asdict(thresholds()), "forced": bool(problems), "shortfalls": problems,
                 "reason": force_reason})
    return entry


def _append_log(record: dict) -> None:
    path = _path(LOG)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def log() -> list[dict]:
    """Every promotion, newest first; unreadable lines are skipped."""
    return read_jsonl(_path(LOG))[::-1]
