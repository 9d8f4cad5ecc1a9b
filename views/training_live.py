"""Training page, live side: one run's state, curves, estimate, log and devices, refreshed in
place every few seconds from its run directory (never from a pipe to the process, so a closed
browser or a restarted app changes nothing), and the list of every run.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import i18n
from core.i18n import N_, _, ngettext
from training import launch, runs
from views.common import for_display

POLL_SECONDS = 3
ACTIVE = ("starting", "running", "stopping")  # states in which a run's files still change
BADGE = {"starting": ("⏳", "orange"), "running": ("▶️", "blue"), "stopping": ("⏸️", "orange"),
         "stopped": ("⏹️", "gray"), "done": ("✅", "green"), "failed": ("❌", "red"), "unknown": ("❔", "gray")}
# A run's state as a person reads it (the state itself, in run files and in code, stays English).
STATES = {"starting": N_("starting"), "running": N_("running"), "stopping": N_("stopping"),
          "stopped": N_("stopped"), "done": N_("done"), "failed": N_("failed"), "unknown": N_("unknown")}


def state_label(state: str) -> str:
    return _(STATES[state]) if state in STATES else str(state)


def smooth(values: list[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average: the first points are not dragged
    towards zero, and weight 0 returns the values unchanged."""
    out, last, norm = [], 0.0, 0.0
    for v in values:
        last, norm = weight * last + (1 - weight) * v, weight * norm + (1 - weight)
        out.append(last / norm if norm else v)
    return out


def loss_figure(metrics: list[dict], weight: float, log_scale: bool) -> go.Figure:
    train = [m for m in metrics if isinstance(m.get("loss"), (int, float))]
    evals = [m for m in metrics if isinstance(m.get("eval_loss"), (int, float))]
    fig = go.Figure()
    steps, losses = [m["step"] for m in train], [float(m["loss"]) for m in train]
    if weight > 0:  # the raw curve stays visible, faint, under the smoothed one
        fig.add_trace(go.Scatter(x=steps, y=losses, name=_("train loss (raw)"), mode="lines",
                                 line={"color": "rgba(31,119,180,0.25)"}))
    fig.add_trace(go.Scatter(x=steps, y=smooth(losses, weight), name=_("train loss"), mode="lines",
                             line={"color": "#1f77b4"}))
    fig.add_trace(go.Scatter(x=[m["step"] for m in evals], y=[float(m["eval_loss"]) for m in evals],
                             name=_("eval loss"), mode="lines+markers", line={"color": "#d62728"}))
    fig.update_layout(title=_("Loss"), xaxis_title=_("step"), height=340, margin={"t": 40, "b": 30},
                      legend={"orientation": "h", "y": -0.25})
    fig.update_yaxes(type="log" if log_scale else "linear")
    return fig


def lr_figure(metrics: list[dict]) -> go.Figure:
    rows = [m for m in metrics if isinstance(m.get("learning_rate"), (int, float))]
    fig = go.Figure(go.Scatter(x=[m["step"] for m in rows], y=[m["learning_rate"] for m in rows],
                               name=_("learning rate"), mode="lines", line={"color": "#2ca02c"}))
    fig.update_layout(title=_("Learning rate"), xaxis_title=_("step"), height=340, margin={"t": 40, "b": 30})
    return fig


def _numbers(status: dict, metrics: list[dict], minutes: float) -> None:
    step, total = status.get("step") or 0, status.get("total_steps")
    last = next((m for m in reversed(metrics) if "tokens_per_second" in m), {})
    active = status["state"] in ACTIVE
    est = runs.estimate(status, minutes)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(_("Step"), f"{step} / {total or '?'}")
    c2.metric(_("Tokens / s"), i18n.number(last["tokens_per_second"], 0) if last else "–")
    elapsed = metrics[-1].get("elapsed") if metrics else None
    c3.metric(_("Elapsed (this session)"), runs.human_seconds(elapsed))  # in the language in use
    c4.metric(_("Time left"), runs.human_seconds(est["remaining_seconds"]) if active else "–")
    if total:
        st.progress(min(step / total, 1.0))
    if active and est["sessions"]:
        # runs.sessions_text's sentence, for the page in the language in use
        st.caption(ngettext("About {count} more session of {minutes} minutes.",
                            "About {count} more sessions of {minutes} minutes.",
                            est["sessions"]).format(count=est["sessions"], minutes=i18n.number(minutes)))


def _devices() -> None:
    info = launch.devices()
    with st.expander(_("Devices"), expanded=True):
        cols = st.columns(len(info["gpus"]) + 1)
        for col, gpu in zip(cols, info["gpus"]):
            used, total = gpu["memory_used_mb"], gpu["memory_total_mb"]
            memory = (_("{used} / {total} GB").format(used=i18n.number(used / 1024, 1), total=i18n.number(total / 1024, 1))
                      if used is not None else _("{total} GB").format(total=i18n.number(total / 1024, 1)))
            col.metric(_("GPU {index}: {name}").format(index=gpu["index"], name=gpu["name"]), memory,
                       help=_("memory used / total"))
            col.caption(_("memory · {percent} busy").format(percent=i18n.percent(gpu["utilisation"] / 100, 0))
                        if gpu["utilisation"] is not None else _("memory"))
        cpu = info["cpu"]
        cols[-1].metric(ngettext("CPU ({count} core)", "CPU ({count} cores)", cpu["count"]).format(count=cpu["count"]),
                        _("{used} / {total} GB RAM").format(used=i18n.number(cpu["ram_used_gb"], 1),
                                                            total=i18n.number(cpu["ram_total_gb"], 1)))
        busy = i18n.percent(cpu["percent"] / 100, 0)
        cols[-1].caption(_("load {load} · {percent} busy").format(load=i18n.number(cpu["load"], 1), percent=busy)
                         if cpu["load"] is not None else _("{percent} busy").format(percent=busy))


def _stop(run_dir: str) -> None:
    if not launch.stop_run(Path(run_dir)):
        st.session_state["_tr_live_msg"] = _("The run is not running.")


def _resume(run_dir: str) -> None:
    try:
        launch.resume_run(Path(run_dir))
    except launch.LaunchError as e:
        st.session_state["_tr_live_msg"] = str(e)
        return
    st.session_state["_tr_rerun"] = True  # the whole page: the panel must start polling again


def _controls(run_dir: Path, status: dict) -> None:
    icon, colour = BADGE.get(status["state"], BADGE["unknown"])
    c1, c2 = st.columns([3, 1], vertical_alignment="center")
    c1.markdown(f"**{run_dir.name}** &nbsp; :{colour}-badge[{icon} {state_label(status['state'])}]")
    if status["alive"]:
        c2.button(_("Stop"), key="tr_stop", on_click=_stop, args=(str(run_dir),), icon=":material/stop:",
                  disabled=status["state"] == "stopping", help=_("Saves a checkpoint, then stops."))
    elif status["state"] in ("stopped", "failed"):
        c2.button(_("Resume"), key="tr_resume", on_click=_resume, args=(str(run_dir),), type="primary",
                  icon=":material/play_arrow:", help=_("Continues from the newest intact checkpoint."))
    if message := st.session_state.pop("_tr_live_msg", None):
        st.warning(message)
    if status["state"] == "failed":
        st.error(status.get("error") or _("The run failed."))
        if status.get("log_tail"):
            st.code("\n".join(status["log_tail"][-12:]), language=None)


def _live(run_dir: Path) -> None:
    if st.session_state.pop("_tr_rerun", False):
        st.rerun()  # from a fragment: reruns the app, so run_every is decided afresh
    status, metrics = runs.effective_status(run_dir), runs.read_metrics(run_dir)
    _controls(run_dir, status)
    _numbers(status, metrics, float(st.session_state.get("tr_session") or 90))
    if not any("loss" in m or "eval_loss" in m for m in metrics):
        every = runs.run_config(run_dir).get("logging_steps", "?")
        st.info(_("No loss logged yet: the first point comes after {every} steps.").format(every=every))
    else:
        weight, log_scale = st.session_state.get("tr_smooth", 0.6), st.session_state.get("tr_log", False)
        c1, c2 = st.columns(2)
        c1.plotly_chart(loss_figure(metrics, weight, log_scale), key="tr_loss_chart")
        c2.plotly_chart(lr_figure(metrics), key="tr_lr_chart")
    with st.expander(_("Last log lines"), expanded=status["state"] != "failed"):
        st.code("\n".join(runs.log_tail(run_dir, 15)) or _("(nothing logged yet)"), language=None)
    _devices()


def run_panel(run_dir: Path) -> None:
    """One run, live: polls every few seconds while it may still change."""
    c1, c2, c3 = st.columns(3)
    c1.slider(_("Smoothing"), 0.0, 0.99, 0.6, 0.01, key="tr_smooth")
    c2.toggle(_("Log scale"), key="tr_log")
    c3.number_input(_("Session length (minutes)"), 1, 24 * 60, int(runs.run_config(run_dir).get("session_minutes") or 90),
                    key="tr_session", help=_("For 'about N more sessions': e.g. a Colab or a booked GPU slot."))
    active = runs.effective_status(run_dir)["state"] in ACTIVE
    st.fragment(_live, run_every=POLL_SECONDS if active else None)(run_dir)


def _when(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts) if ts else None


@st.cache_data(max_entries=2000, show_spinner=False)
def _summary(path: str, stamp: tuple, language: str) -> dict:
    """A run's summary, whose messages are in `language` (so it is part of the key)."""
    return runs.summary(Path(path))


def run_rows(root: Path) -> list[dict]:
    """runs.summaries, but a run whose files have not changed since the last call is not read
    again (the table polls while a run is active; finished runs can hold long metrics files).
    Active runs are always re-read: their state depends on a process, not on a file."""
    rows = []
    for run in runs.list_runs(root):
        row = _summary(str(run["path"]), runs.stamp(run["path"]), i18n.current())
        rows.append(runs.summary(run["path"]) if row["state"] in ACTIVE else row)
    return sorted(rows, key=lambda r: r["started"], reverse=True)


def runs_table(root: Path) -> None:
    """Every run under `root`, re-read on each call: as a polling fragment it stays current."""
    rows = run_rows(root)
    table = pd.DataFrame([{
        "run": r["name"], "state": r["state"], "base model": Path(r["model"]).name or r["model"],
        "dataset": Path(r["data"]).name, "step": r["step"], "of": r["total_steps"],
        "best eval loss": r["best_eval_loss"], "last loss": r["last_loss"],
        "started": _when(r["started"]), "finished": _when(r["finished"]), "checkpoints": r["checkpoints"],
    } for r in rows])
    formats = {"best eval loss": "{:.4f}", "last loss": "{:.4f}", "of": "{:.0f}", "step": "{:.0f}",
               "started": "{:%Y-%m-%d %H:%M}", "finished": "{:%Y-%m-%d %H:%M}"}
    if not table.empty:
        table = for_display(table.assign(state=table["state"].map(state_label)), formats)
    headers = {"run": _("run"), "state": _("state"), "base model": _("base model"), "dataset": _("dataset"),
               "step": _("step"), "of": _("of"), "best eval loss": _("best eval loss"), "last loss": _("last loss"),
               "started": _("started"), "finished": _("finished"), "checkpoints": _("checkpoints")}
    st.dataframe(table.rename(columns=headers), hide_index=True, key="tr_runs_table")
