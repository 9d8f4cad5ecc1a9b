"""What the Checkpoints page shows, built from run directories: one row per checkpoint (its
evaluation and integrity), the table with the best value per column marked, and the figures.
No streamlit here, so the pieces can be checked on their own."""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from core.i18n import N_, _
from core.modelfolder import PROMPT_FORMATS
from training import evaluate, runs


METRICS = evaluate.METRICS  # the one registry of checkpoint metrics (labels marked there): columns, caption and charts follow it
BEST = "best"  # the column naming the metrics a row is best at
OK = N_("ok")  # a row's integrity when the checkpoint verifies (the table shows it translated)
COLOURS = qualitative.Plotly


def label_of(run: str, checkpoint: str) -> str:
    return f"{run}/{checkpoint}"


def signature(folder: Path) -> tuple:
    """(name, size, mtime) of every file in a checkpoint: a rewritten or deleted weights file
    changes it, so a cached verification is redone exactly when the folder changed."""
    try:
        return tuple(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in folder.iterdir() if f.is_file()))
    except OSError:
        return ()


def checkpoint_format(run_dir: Path, entry: dict) -> str:
    """The prompt format a checkpoint was trained with: what its evaluation used, else what the
    run's config and data say (training.evaluate's rule)."""
    if entry.get("prompt_format") in PROMPT_FORMATS:
        return entry["prompt_format"]
    config = evaluate.read_config(run_dir)
    return evaluate.prompt_format(config, config.get("data") or None)


def checkpoint_rows(run_dirs: list[Path], integrity: Callable[[Path, dict], list[str]]) -> list[dict]:
    """One dict per checkpoint of each run: names, path, step, integrity, format and metrics.
    `integrity(path, eval_entry)` gives the checkpoint's problems ([] when it verifies)."""
    rows = []
    for run_dir in run_dirs:
        results = evaluate.read_eval(run_dir)["checkpoints"]
        for path in runs.checkpoints(run_dir):
            entry = results.get(path.name, {})
            problems = integrity(path, entry)
            row = {"label": label_of(run_dir.name, path.name), "run": run_dir.name, "checkpoint": path.name,
                   "path": str(path), "step": runs.checkpoint_step(path),
                   "integrity": OK if not problems else "; ".join(problems),
                   "evaluated": bool(entry.get("verified")), "prompt_format": checkpoint_format(run_dir, entry)}
            row.update({m.key: entry.get(m.key) for m in METRICS})
            rows.append(row)
    return rows


def _finite(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _number(value) -> float | None:
    """A metric as a float (an overflowed perplexity stays inf), None when absent."""
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def best_rows(rows: list[dict]) -> dict[str, set[int]]:
    """For each metric with a better end, the indexes of the rows that reach it (ties share).
    A column where every measured row has the same value marks nothing: there is no best."""
    best: dict[str, set[int]] = {}
    for m in METRICS:
        values = {i: _finite(r.get(m.key)) for i, r in enumerate(rows)}
        values = {i: v for i, v in values.items() if v is not None}
        if m.better is None or len(set(values.values())) < 2:
            continue
        target = min(values.values()) if m.better == "min" else max(values.values())
        best[m.key] = {i for i, v in values.items() if v == target}
    return best


def metrics_table(rows: list[dict]) -> pd.DataFrame:
    """The table the page shows: a checkpoint per row, a column per metric, and `best` naming
    the columns in which that row is the best (each metric's better end). Column names stay
    English (the page labels them); the cells a person reads are in the language in use."""
    best = best_rows(rows)
    table = []
    for i, r in enumerate(rows):
        line = {"run": r["run"], "checkpoint": r["checkpoint"], "step": r["step"],
                "integrity": _(OK) if r["integrity"] == OK else r["integrity"],
                "evaluated": _("yes") if r["evaluated"] else _("no")}
        line.update({m.label: _number(r.get(m.key)) for m in METRICS})
        line[BEST] = ", ".join(_(m.label) for m in METRICS if i in best.get(m.key, ()))
        table.append(line)
    columns = ["run", "checkpoint", "step", "integrity", "evaluated", *(m.label for m in METRICS), BEST]
    return pd.DataFrame(table, columns=columns)


def _listed(labels: list[str]) -> str:
    """'a, b and c', in the language in use."""
    if len(labels) < 2:
        return "".join(labels)
    return _("{first} and {last}").format(first=_(", ").join(labels[:-1]), last=labels[-1])


def best_caption() -> str:
    """Which end of each metric is better, in one sentence, from the registry."""
    lower = _listed([_(m.label) for m in METRICS if m.better == "min"])
    higher = _listed([_(m.label) for m in METRICS if m.better == "max"])
    if lower and higher:
        return _("Best per column in green (lower is better for {lower}; higher for {higher}).").format(
            lower=lower, higher=higher)
    if lower:
        return _("Best per column in green (lower is better for {lower}).").format(lower=lower)
    if higher:
        return _("Best per column in green (higher is better for {higher}).").format(higher=higher)
    return _("Best per column in green.")


def formats() -> dict[str, str]:
    """The table's number format per metric column."""
    return {m.label: "{:" + m.fmt + "}" for m in METRICS}


def highlight_best(table: pd.DataFrame) -> pd.DataFrame:
    """Styler.apply(axis=None) input: a bold green cell where a row is best in that column, and
    a red integrity cell for a checkpoint that does not verify. `best` and `integrity` are as
    metrics_table wrote them, in the language in use."""
    column = {_(m.label): m.label for m in METRICS}
    css = pd.DataFrame("", index=table.index, columns=table.columns)
    for i, marked in table[BEST].items():
        for name in filter(None, str(marked).split(", ")):
            css.loc[i, column.get(name, name)] = "background-color: #d4f4dd; font-weight: bold"
    css.loc[table["integrity"] != _(OK), "integrity"] = "color: #b3261e"
    return css


def _colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def loss_figure(metrics: dict[str, list[dict]], log_y: bool = False) -> go.Figure:
    """Training loss of every run on one set of axes (solid), validation loss dashed in the
    run's colour."""
    fig = go.Figure()
    for i, (run, records) in enumerate(metrics.items()):
        for key, dash, name in (("loss", "solid", run), ("eval_loss", "dash", _("{run} (eval)").format(run=run))):
            points = [(r["step"], r[key]) for r in records if _finite(r.get(key)) is not None and "step" in r]
            if points:
                fig.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=name,
                                legendgroup=run, line={"color": _colour(i), "dash": dash})
    fig.update_layout(xaxis_title=_("step"), yaxis_title=_("loss"), height=380, margin={"t": 30, "b": 10},
                      legend={"orientation": "h"})
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def metric_figure(rows: list[dict]) -> go.Figure:
    """One small chart per evaluation metric over steps, two abreast, a line per run; the grid
    grows with the registry."""
    grid = math.ceil(len(METRICS) / 2)
    fig = make_subplots(rows=grid, cols=2, subplot_titles=[_(m.label) for m in METRICS],
                        vertical_spacing=min(0.09, 0.36 / grid))
    by_run: dict[str, list[dict]] = {}
    for r in rows:
        by_run.setdefault(r["run"], []).append(r)
    for i, (run, items) in enumerate(by_run.items()):
        items = sorted(items, key=lambda r: r["step"])
        for j, m in enumerate(METRICS):
            points = [(r["step"], _finite(r.get(m.key))) for r in items if _finite(r.get(m.key)) is not None]
            fig.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=run,
                            legendgroup=run, showlegend=j == 0, line={"color": _colour(i)},
                            row=j // 2 + 1, col=j % 2 + 1)
    fig.update_layout(height=225 * grid, margin={"t": 40, "b": 10}, legend={"orientation": "h"})
    fig.update_xaxes(title_text=_("step"), row=grid)
    return fig
