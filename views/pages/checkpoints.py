"""Checkpoints (admins): compare runs and their checkpoints — loss curves, evaluation metrics
with the best marked, integrity — evaluate the ones without results in the background, write
with several side by side, and promote one into the model list students pick from."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from core import i18n, settings
from core.auth import Role
from core.generation import promotion, registry
from core.i18n import N_, _
from core.modelfolder import verify
from training import evaluate, runs
from views import checkpoints_compare, checkpoints_engine, checkpoints_eval
from views.checkpoints_data import (BEST, METRICS, OK, best_caption, checkpoint_rows, formats, highlight_best,
                                    loss_figure, metric_figure, metrics_table, signature)
from views.common import for_display
from views.sidebar import require_role

# The tables' column names (code and tests read them) -> the header a person reads.
HEADERS = {"run": N_("run"), "checkpoint": N_("checkpoint"), "step": N_("step"), "integrity": N_("integrity"),
           "evaluated": N_("evaluated"), BEST: N_("best"), "figure": N_("figure"), "when": N_("when"),
           "by": N_("by"), "name": N_("name"), "coverage": N_("coverage"), "clean endings": N_("clean endings"),
           "forced": N_("forced"), "reason": N_("reason"), "format": N_("format"), "default": N_("default"),
           "engine": N_("engine"), "CTranslate2 copy": N_("CTranslate2 copy"), "folder": N_("folder"),
           "promoted": N_("promoted")}


def headers(columns, narrow: tuple[str, ...] = ()) -> dict:
    """column_config giving each of `columns` its header in the language in use (`narrow` ones
    small text columns)."""
    return {c: st.column_config.TextColumn(_(HEADERS[c]), width="small") if c in narrow
            else st.column_config.Column(_(HEADERS[c])) for c in columns if c in HEADERS}


@st.cache_data(max_entries=2048, show_spinner=False)
def _verify(path: str, stamp: tuple) -> list[str]:
    """verify() loads the weights; keyed by the folder's files, a page with many checkpoints
    loads each once, and again only after it changed."""
    return verify(Path(path))


def integrity(path: Path, entry: dict) -> list[str]:
    """The checkpoint's problems; an evaluation that ran after its files were last written has
    verified this very folder already, so its verdict is reused instead of loading it again."""
    stamp = signature(path)
    newest = max((mtime for _name, _size, mtime in stamp), default=0) / 1e9
    if "verified" in entry and (entry.get("evaluated") or 0) >= newest:
        return list(entry.get("problems") or [])
    return _verify(str(path), stamp)


def pick_runs() -> list[Path]:
    root = settings.paths().runs
    found = [r["name"] for r in runs.list_runs(root) if r["checkpoints"]]
    if not found:
        st.info(_("No training run with checkpoints yet (looked in {folder}). Start one on the Training page "
                  "or with `python -m training.train`.").format(folder=root))
        return []
    chosen = st.multiselect(_("Runs"), found, default=found[:1], key="ck_runs",
                            placeholder=_("Pick runs to compare"))
    if not chosen:
        st.info(_("Pick one or more runs to compare their checkpoints."))
    return [root / name for name in chosen]


def pick_checkpoints(rows: list[dict]) -> list[dict]:
    chosen = st.multiselect(_("Checkpoints"), [r["label"] for r in rows], key="ck_checkpoints",
                            placeholder=_("All checkpoints of these runs"))
    return [r for r in rows if not chosen or r["label"] in chosen]


def loss_section(run_dirs: list[Path]) -> None:
    st.subheader(_("Loss"))
    metrics = {d.name: runs.read_metrics(d) for d in run_dirs}
    if not any(metrics.values()):
        st.caption(_("These runs have logged no loss yet."))
        return
    log_y = st.toggle(_("Log scale"), key="ck_log")
    st.plotly_chart(loss_figure(metrics, log_y), key="ck_loss_chart")
    st.caption(_("Training loss solid, validation loss dashed, one colour per run."))


def table_section(rows: list[dict]) -> None:
    st.subheader(_("Metrics per checkpoint"))
    table = metrics_table(rows)
    shown = for_display(table, formats())  # a dash where nothing was measured
    config = headers(shown.columns) | {m.label: st.column_config.Column(_(m.label), help=_(m.description))
                                       for m in METRICS}
    st.dataframe(shown.style.apply(highlight_best, axis=None), hide_index=True, key="ck_table",
                 column_config=config)
    st.caption(_("{best} Integrity is `python -m training.checkpoints verify`; only checkpoints that verify can be "
                 "promoted.").format(best=best_caption()))
    if any(r["evaluated"] for r in rows):
        st.plotly_chart(metric_figure(rows), key="ck_metric_chart")
    else:
        st.caption(_("No evaluation results yet: evaluate below to fill the table and the charts."))


def _thresholds_form() -> promotion.Thresholds:
    current = promotion.thresholds()
    with st.expander(_("Thresholds: coverage ≥ {coverage}, clean endings ≥ {clean}").format(
            coverage=i18n.percent(current.min_coverage, 0), clean=i18n.percent(current.min_clean_ending, 0))):
        with st.form("ck_thresholds", border=False):
            c1, c2 = st.columns(2)
            cov = c1.slider(_("Minimum target coverage"), 0.0, 1.0, current.min_coverage, 0.05, key="ck_min_cov")
            clean = c2.slider(_("Minimum clean-ending rate"), 0.0, 1.0, current.min_clean_ending, 0.05,
                              key="ck_min_clean")
            if st.form_submit_button(_("Save thresholds"), key="ck_thresholds_go"):
                current = promotion.Thresholds(cov, clean)
                promotion.save_thresholds(current)
                st.success(_("Saved: promotions are checked against these from now on."))
    return current


def _comparison(row: dict, evaluation: dict | None) -> None:
    """The candidate's figures beside the current default model's (when it has any on record)."""
    default = registry.default_model()
    on_record = next((e.get("figures") or {} for e in registry.promoted() if e["name"] == default.name), {})
    candidate = promotion.figures(evaluation)
    table = pd.DataFrame({"figure": [_(m.label) for m in METRICS],
                          row["label"]: [_fmt(candidate.get(m.key)) for m in METRICS],
                          _("{model} (default)").format(model=default.name): [_fmt(on_record.get(m.key))
                                                                             for m in METRICS]})
    st.dataframe(table, hide_index=True, key="ck_promote_compare", column_config=headers(["figure"]))
    if not on_record:
        st.caption(_("The default model ({model}) has no evaluation on record.").format(model=default.name))


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def promote_section(rows: list[dict]) -> None:
    st.subheader(_("Promote"))
    limits = _thresholds_form()
    by_label = {r["label"]: r for r in rows}
    pick = st.selectbox(_("Checkpoint"), list(by_label), key="ck_promote_pick",
                        format_func=lambda lb: lb if by_label[lb]["integrity"] == OK
                        else _("{checkpoint} (does not verify)").format(checkpoint=lb))
    if pick is None:
        return
    row = by_label[pick]
    evaluation = evaluate.read_eval(Path(row["path"]).parent)["checkpoints"].get(row["checkpoint"])
    _comparison(row, evaluation)
    problems = promotion.shortfalls(evaluation, limits)
    for problem in problems:
        st.warning(problem)
    name = st.text_input(_("Name in the model list"), key="ck_promote_name", placeholder=_("e.g. N1 stories v3"))
    default = st.checkbox(_("Make it the default model"), key="ck_promote_default",
                          help=_("NONESTORY_DEFAULT_MODEL, when set, still decides the default."))
    keep = st.checkbox(_("Keep a copy in data/models/promoted"), value=True, key="ck_promote_copy",
                       help=_("The model files (not the optimizer state) are copied, so deleting the run or "
                              "save_total_limit rotating its checkpoints cannot take the model from students."))
    engine = checkpoints_engine.engine_picker()
    reason = ""
    if problems and evaluation and evaluation.get("verified"):
        if st.checkbox(_("Promote anyway"), key="ck_promote_force"):
            reason = st.text_input(_("Reason (kept in the promotion log)"), key="ck_promote_reason")
    if st.button(_("Promote"), key="ck_promote_go", type="primary"):
        _promote(row, name, evaluation, reason, default, keep, engine)


def _promote(row: dict, name: str, evaluation: dict | None, reason: str, default: bool, keep: bool,
             engine: str) -> None:
    """Promote the picked checkpoint; on the ct2 engine, its conversion starts in the background."""
    try:
        if checkpoints_engine.refusal(engine):
            raise registry.PromotionError(checkpoints_engine.refusal(engine))
        with st.spinner(_("Checking the checkpoint… and copying it…") if keep else _("Checking the checkpoint…")):
            entry = promotion.promote(row["path"], name, evaluation, force_reason=reason,
                                      by=st.session_state.get("user") or "", prompt_format=row["prompt_format"],
                                      run=row["run"], checkpoint=row["checkpoint"], default=default,
                                      keep_copy=keep, engine=engine)
        ready = checkpoints_engine.start_if_needed(entry["path"]) if engine == "ct2" else None
    except registry.PromotionError as err:
        st.error(str(err))
    except OSError as err:  # promoted, but its conversion could not start
        st.error(_("Promoted, but the conversion could not start: {error}.").format(error=err.strerror or err))
    else:
        st.session_state["ck_promoted_pick"] = entry["name"]  # drawn below: its engine and conversion
        if engine != "ct2":
            message = _("Promoted {checkpoint} as “{name}”: it is now in the Generate page's model list.")
        elif ready:
            message = _("Promoted {checkpoint} as “{name}”: it is now in the Generate page's model list, on "
                        "CTranslate2 int8; its converted copy is ready.")
        else:
            message = _("Promoted {checkpoint} as “{name}”: it is now in the Generate page's model list, on "
                        "CTranslate2 int8; converting it in the background.")
        st.success(message.format(checkpoint=row["label"], name=entry["name"]))


def log_section() -> None:
    entries = promotion.log()
    st.subheader(_("Promotion log"))
    if not entries:
        st.caption(_("No promotions yet."))
        return
    table = pd.DataFrame([{
        "when": datetime.fromtimestamp(e.get("at") or 0).strftime("%Y-%m-%d %H:%M"), "by": e.get("by", ""),
        "name": e.get("name", ""), "checkpoint": f"{e.get('run', '')}/{e.get('checkpoint', '')}",
        "coverage": _fmt((e.get("figures") or {}).get("coverage")),
        "clean endings": _fmt((e.get("figures") or {}).get("clean_ending_rate")),
        "forced": _("yes") if e.get("forced") else "", "reason": e.get("reason", "")} for e in entries])
    st.dataframe(table, hide_index=True, key="ck_promotion_log", column_config=headers(table.columns))


def _promoted_table(entries: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "name": e["name"], "run": e.get("run", ""), "checkpoint": e.get("checkpoint", ""),
        "format": e.get("prompt_format", ""), "default": _("yes") if e.get("default") else "",
        "engine": registry.ENGINE_LABELS.get(registry.engine_of(e), "transformers"),  # as the model list says
        "CTranslate2 copy": checkpoints_engine.copy_label(e),
        "folder": (_("copy") if e.get("copied") else _("checkpoint")) if registry.promoted_present(e) else _("missing"),
        "promoted": datetime.fromtimestamp(e.get("promoted_at") or 0).strftime("%Y-%m-%d %H:%M"),
        "by": e.get("by", "")} for e in entries])


def promoted_section() -> None:
    st.subheader(_("Promoted models"))
    entries = registry.promoted()
    if not entries:
        st.caption(_("No promoted models yet. A promoted checkpoint appears in the Generate page's model list "
                     "under its name."))
        return
    table = _promoted_table(entries)
    st.dataframe(table, hide_index=True, key="ck_promoted",
                 column_config=headers(table.columns, narrow=("run", "format", "default", "folder", "by")))
    if any(not registry.promoted_present(e) for e in entries):
        st.caption(_("A missing folder was deleted after promotion (a checkpoint promoted without a copy); "
                     "students no longer see that model."))
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    name = c1.selectbox(_("Promoted model"), [e["name"] for e in entries], key="ck_promoted_pick")
    try:
        if c2.button(_("Make default"), key="ck_make_default"):
            registry.set_default(name)
            st.rerun()
        if c3.button(_("Remove from the list"), key="ck_unpromote",
                     help=_("A kept copy is deleted with it; a checkpoint promoted in place is left alone.")):
            registry.unpromote(name)
            st.rerun()
    except registry.PromotionError as err:  # e.g. removed meanwhile in another tab
        st.error(str(err))
    entry = next((e for e in entries if e["name"] == name), None)
    if entry is not None:
        checkpoints_engine.section(entry)


def main() -> None:
    require_role(Role.ADMIN)
    st.title(_("Checkpoints"))
    run_dirs = pick_runs()
    if not run_dirs:
        promoted_section()
        return
    with st.spinner(_("Checking checkpoints…")):
        rows = checkpoint_rows(run_dirs, integrity)
    rows = pick_checkpoints(rows)
    compare, side, promote = st.tabs([_("Compare and evaluate"), _("Side by side"), _("Promote")])
    with compare:
        loss_section(run_dirs)
        table_section(rows)
        checkpoints_eval.section(run_dirs)
    with side:
        checkpoints_compare.section(rows)
    with promote:
        promote_section(rows)
        promoted_section()
        log_section()


main()
