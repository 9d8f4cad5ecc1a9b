"""Checkpoints (admins): compare runs and their checkpoints — loss curves, evaluation metrics
with the best marked, integrity — evaluate the ones without results in the background, write
with several side by side, and promote one into the model list students pick from."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from core import settings
from core.auth import Role
from core.generation import registry
from training import checkpoints as ckpt
from training import runs
from views import checkpoints_compare, checkpoints_eval
from views.checkpoints_data import (METRICS, OK, checkpoint_rows, highlight_best, loss_figure, metric_figure,
                                    metrics_table, signature)
from views.sidebar import require_role


@st.cache_data(max_entries=2048, show_spinner=False)
def _verify(path: str, stamp: tuple) -> list[str]:
    """verify() loads the weights; keyed by the folder's files, a page with many checkpoints
    loads each once, and again only after it changed."""
    return ckpt.verify(Path(path))


def integrity(path: Path, entry: dict) -> list[str]:
    """The checkpoint's problems; an evaluation that ran after its files were last written has
    verified this very folder already, so its verdict is reused instead of loading it again."""
    stamp = signature(path)
    newest = max((mtime for _, _, mtime in stamp), default=0) / 1e9
    if "verified" in entry and (entry.get("evaluated") or 0) >= newest:
        return list(entry.get("problems") or [])
    return _verify(str(path), stamp)


def pick_runs() -> list[Path]:
    root = settings.paths().runs
    found = [r["name"] for r in runs.list_runs(root) if r["checkpoints"]]
    if not found:
        st.info(f"No training run with checkpoints yet (looked in {root}). Start one on the Training page "
                "or with `python -m training.train`.")
        return []
    chosen = st.multiselect("Runs", found, default=found[:1], key="ck_runs", placeholder="Pick runs to compare")
    if not chosen:
        st.info("Pick one or more runs to compare their checkpoints.")
    return [root / name for name in chosen]


def pick_checkpoints(rows: list[dict]) -> list[dict]:
    chosen = st.multiselect("Checkpoints", [r["label"] for r in rows], key="ck_checkpoints",
                            placeholder="All checkpoints of these runs")
    return [r for r in rows if not chosen or r["label"] in chosen]


def loss_section(run_dirs: list[Path]) -> None:
    st.subheader("Loss")
    metrics = {d.name: runs.read_metrics(d) for d in run_dirs}
    if not any(metrics.values()):
        st.caption("These runs have logged no loss yet.")
        return
    log_y = st.toggle("Log scale", key="ck_log")
    st.plotly_chart(loss_figure(metrics, log_y), key="ck_loss_chart")
    st.caption("Training loss solid, validation loss dashed, one colour per run.")


def table_section(rows: list[dict]) -> None:
    st.subheader("Metrics per checkpoint")
    table = metrics_table(rows)
    labels = [m.label for m in METRICS]
    styled = table.style.apply(highlight_best, axis=None).format(precision=4, na_rep="–", subset=labels)
    st.dataframe(styled, hide_index=True, key="ck_table")
    st.caption("Best per column in green (lower is better for val loss, perplexity and repeated sentences; "
               "higher for N1 density, coverage, distinct-2 and clean endings). Integrity is "
               "`python -m training.checkpoints verify`; only checkpoints that verify can be promoted.")
    if any(r["evaluated"] for r in rows):
        st.plotly_chart(metric_figure(rows), key="ck_metric_chart")
    else:
        st.caption("No evaluation results yet: evaluate below to fill the table and the charts.")


def promote_section(rows: list[dict]) -> None:
    st.subheader("Promote")
    by_label = {r["label"]: r for r in rows}
    pick = st.selectbox("Checkpoint", list(by_label), key="ck_promote_pick",
                        format_func=lambda lb: lb if by_label[lb]["integrity"] == OK else f"{lb} (does not verify)")
    name = st.text_input("Name in the model list", key="ck_promote_name", placeholder="e.g. N1 stories v3")
    default = st.checkbox("Make it the default model", key="ck_promote_default",
                          help="NONESTORY_DEFAULT_MODEL, when set, still decides the default.")
    keep = st.checkbox("Keep a copy in data/models/promoted", value=True, key="ck_promote_copy",
                       help="The model files (not the optimizer state) are copied, so deleting the run or "
                            "save_total_limit rotating its checkpoints cannot take the model from students.")
    if st.button("Promote", key="ck_promote_go", type="primary", disabled=pick is None):
        row = by_label[pick]
        try:
            with st.spinner("Checking the checkpoint…" + (" and copying it…" if keep else "")):
                entry = registry.promote(row["path"], name, row["prompt_format"], run=row["run"],
                                         checkpoint=row["checkpoint"], by=st.session_state.get("user") or "",
                                         default=default, keep_copy=keep)
        except registry.PromotionError as err:
            st.error(str(err))
        else:
            st.success(f"Promoted {pick} as “{entry['name']}”: it is now in the Generate page's model list.")


def _promoted_table(entries: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "name": e["name"], "run": e.get("run", ""), "checkpoint": e.get("checkpoint", ""),
        "format": e.get("prompt_format", ""), "default": "yes" if e.get("default") else "",
        "folder": ("copy" if e.get("copied") else "checkpoint") if registry.promoted_present(e) else "missing",
        "promoted": datetime.fromtimestamp(e.get("promoted_at") or 0).strftime("%Y-%m-%d %H:%M"),
        "by": e.get("by", "")} for e in entries])


def promoted_section() -> None:
    st.subheader("Promoted models")
    entries = registry.promoted()
    if not entries:
        st.caption("None yet. A promoted checkpoint appears in the Generate page's model list under its name.")
        return
    st.dataframe(_promoted_table(entries), hide_index=True, key="ck_promoted")
    if any(not registry.promoted_present(e) for e in entries):
        st.caption("A missing folder was deleted after promotion (a checkpoint promoted without a copy); "
                   "students no longer see that model.")
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    name = c1.selectbox("Promoted model", [e["name"] for e in entries], key="ck_promoted_pick")
    try:
        if c2.button("Make default", key="ck_make_default"):
            registry.set_default(name)
            st.rerun()
        if c3.button("Remove from the list", key="ck_unpromote",
                     help="A kept copy is deleted with it; a checkpoint promoted in place is left alone."):
            registry.unpromote(name)
            st.rerun()
    except registry.PromotionError as err:  # e.g. removed meanwhile in another tab
        st.error(str(err))


def main() -> None:
    require_role(Role.ADMIN)
    st.title("Checkpoints")
    run_dirs = pick_runs()
    if not run_dirs:
        promoted_section()
        return
    with st.spinner("Checking checkpoints…"):
        rows = checkpoint_rows(run_dirs, integrity)
    rows = pick_checkpoints(rows)
    compare, side, promote = st.tabs(["Compare and evaluate", "Side by side", "Promote"])
    with compare:
        loss_section(run_dirs)
        table_section(rows)
        checkpoints_eval.section(run_dirs)
    with side:
        checkpoints_compare.section(rows)
    with promote:
        promote_section(rows)
        promoted_section()


main()
