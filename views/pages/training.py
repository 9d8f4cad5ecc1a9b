"""Training (admins): start a fine-tuning run from the browser, watch it live, stop and resume it,
and look back at every past run.

A run is its own process in its own session, writing only its run directory; this page reads
those directories on every run, so closing the browser or restarting the app neither stops a
run nor loses it. The form is built from TrainConfig's fields, so every trainer option is here.
"""
from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from core import settings
from core.auth import Role
from core.i18n import N_, _
from training import launch, runs
from training.config import PRECISIONS, TrainConfig
from training.process import ROOT
from views.sidebar import require_role
from views.training_inputs import (chosen_dataset, chosen_format, chosen_model, dataset_problem, model_problem,
                                   pick_dataset, pick_model, prepare_section)
from views.training_live import ACTIVE, POLL_SECONDS, run_panel, run_rows, runs_table

ACCELERATE_CONFIGS = ROOT / "training" / "accelerate"
# Fields with their own widget below; every other TrainConfig field is drawn from its type.
FORM_FIELDS = {"model", "data", "out", "max_steps", "epochs", "batch_size", "learning_rate", "max_length",
               "pack", "precision", "save_steps", "eval_steps", "logging_steps", "lora", "session_minutes"}
DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
HELP = {f.name: f.metadata.get("help", "") for f in dataclasses.fields(TrainConfig)}
# Labels of the fields drawn from their type; a field added later shows its name until it has one.
LABELS = {"warmup_steps": N_("Warmup steps"), "save_total_limit": N_("Save total limit"), "seed": N_("Seed"),
          "lora_r": N_("Lora r"), "lora_alpha": N_("Lora alpha"), "lora_dropout": N_("Lora dropout"),
          "lora_targets": N_("Lora targets"), "gradient_checkpointing": N_("Gradient checkpointing")}
LENGTHS = {"steps": N_("steps"), "epochs": N_("epochs")}  # "Train for" options, kept in English in the state


@dataclass
class Request:
    """Everything Start needs, read from the widgets' session state. `config` holds TrainConfig's
    fields as the widgets have them, unchecked: `train_config` turns it into the checked one."""
    run_id: str
    config: dict
    prompt_format: str = ""
    gpus: list[int] = field(default_factory=list)
    processes: int = 1
    accelerate_config: Path | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "run"


def _run_id() -> str:
    """Timestamp + slug; the stamp is kept until Start so the previewed command is the one run."""
    stamp = st.session_state.setdefault("_tr_stamp", time.strftime("%Y%m%d-%H%M%S"))
    name = st.session_state.get("tr_name") or Path(chosen_model()).name
    return f"{stamp}-{_slug(name)}"


def _help(name: str) -> str | None:
    """A field's help text in the language in use (none for a field without one: `_("")` would
    return the catalogue's header)."""
    text = HELP.get(name)
    return _(text) if text else None


def _number(label: str, name: str, value, **kw):
    return st.number_input(label, value=value, key=f"tr_cfg_{name}", help=_help(name), **kw)


def _field_widget(f: dataclasses.Field) -> None:
    """A widget for a TrainConfig field drawn from its type (fields added to the trainer later
    appear here without a change to this page)."""
    kind, key = str(f.type), f"tr_cfg_{f.name}"
    label = _(LABELS[f.name]) if f.name in LABELS else f.name.replace("_", " ").capitalize()
    if kind == "bool":
        st.toggle(label, value=f.default, key=key, help=_help(f.name))
    elif kind == "int":
        st.number_input(label, value=int(f.default), step=1, key=key, help=_help(f.name))
    elif kind == "float":
        st.number_input(label, value=float(f.default), format="%g", key=key, help=_help(f.name))
    else:
        st.text_input(label, value=str(f.default), key=key, help=_help(f.name))


def hyperparameters() -> None:
    c1, c2, c3 = st.columns(3)
    c1.radio(_("Train for"), list(LENGTHS), horizontal=True, key="tr_length",
             format_func=lambda length: _(LENGTHS[length]))
    with c2:
        if st.session_state.get("tr_length", "steps") == "steps":
            _number(_("Max steps"), "max_steps", 200, min_value=1, step=10)
        else:
            _number(_("Epochs"), "epochs", float(DEFAULTS["epochs"]), min_value=0.01, step=0.5, format="%g")
    with c3:
        _number(_("Batch size"), "batch_size", DEFAULTS["batch_size"], min_value=1, step=1)
    c1, c2, c3 = st.columns(3)
    with c1:
        _number(_("Learning rate"), "learning_rate", DEFAULTS["learning_rate"], min_value=1e-8, format="%.1e", step=1e-5)
    with c2:
        _number(_("Max length (tokens)"), "max_length", DEFAULTS["max_length"], min_value=8, step=64)
    c3.selectbox(_("Precision"), PRECISIONS, key="tr_cfg_precision", help=_help("precision"))
    c1, c2, c3 = st.columns(3)
    with c1:
        _number(_("Save every (steps)"), "save_steps", DEFAULTS["save_steps"], min_value=1, step=10)
    with c2:
        _number(_("Evaluate every (steps, 0 never)"), "eval_steps", DEFAULTS["eval_steps"], min_value=0, step=10)
    with c3:
        _number(_("Log every (steps)"), "logging_steps", DEFAULTS["logging_steps"], min_value=1, step=1)
    c1, c2 = st.columns(2)
    c1.toggle(_("Packing"), value=DEFAULTS["pack"], key="tr_cfg_pack", help=_help("pack"))
    c2.toggle(_("LoRA (train adapters only)"), value=DEFAULTS["lora"], key="tr_cfg_lora", help=_help("lora"))
    rest = [f for f in dataclasses.fields(TrainConfig) if f.name not in FORM_FIELDS]
    lora = [f for f in rest if f.name.startswith("lora_")]
    if lora and st.session_state.get("tr_cfg_lora"):
        for col, f in zip(st.columns(len(lora)), lora):
            with col:
                _field_widget(f)
    with st.expander(_("More settings")):
        for f in rest:
            if f not in lora:
                _field_widget(f)


def devices_form() -> None:
    """GPU choice and process count, only where GPUs exist (launched through accelerate)."""
    gpus = launch.devices()["gpus"]
    if not gpus:
        st.caption(_("No GPU here: the run trains on the CPU in one process."))
        return
    labels = {g["index"]: _("GPU {index}: {name}").format(index=g["index"], name=g["name"]) for g in gpus}
    c1, c2, c3 = st.columns(3)
    chosen = c1.multiselect(_("GPUs"), list(labels), default=list(labels), format_func=labels.get, key="tr_gpus", placeholder=_("Choose…"))
    c2.number_input(_("Processes"), 1, 64, max(len(chosen), 1), key="tr_processes",
                    help=_("One per GPU for DDP; more than one starts the run through accelerate launch."))
    configs = sorted(ACCELERATE_CONFIGS.glob("*.yaml")) if ACCELERATE_CONFIGS.is_dir() else []
    c3.selectbox(_("Accelerate config"), [None, *configs], key="tr_accelerate",
                 format_func=lambda p: _("(none: plain DDP)") if p is None else p.name)


def request_from_state() -> Request:
    """The run that Start would launch, from the widgets' state (also used in the callback)."""
    state = st.session_state
    # Folders as absolute paths: the trainer runs from the repository root, the app maybe not.
    model, data = chosen_model(), chosen_dataset()
    config = {"model": str(Path(model).resolve()) if model and Path(model).exists() else model,
              "data": str(Path(data).resolve()) if data and Path(data).exists() else data}
    config |= {name: state.get(f"tr_cfg_{name}", default) for name, default in DEFAULTS.items()
               if name not in ("model", "data", "out")}
    if state.get("tr_length", "steps") == "steps":
        config["max_steps"], config["epochs"] = int(state.get("tr_cfg_max_steps", 200)), DEFAULTS["epochs"]
    else:
        config["max_steps"] = -1
    config["session_minutes"] = float(state.get("tr_session") or DEFAULTS["session_minutes"])
    gpus = [int(g) for g in state.get("tr_gpus") or []]
    return Request(_run_id(), config, chosen_format(), gpus,
                   int(state.get("tr_processes") or 1) if gpus else 1, state.get("tr_accelerate"))


def train_config(req: Request, run_dir: Path) -> TrainConfig:
    """The request as the TrainConfig the launcher takes, checked once here; ValueError with the
    first thing wrong, in one sentence."""
    problem = model_problem(req.config["model"]) or dataset_problem(req.config["data"])
    if problem:
        raise ValueError(problem)
    try:
        return TrainConfig(**req.config, out=str(run_dir))
    except TypeError as e:  # a field the form does not know: a programming error, said plainly
        raise ValueError(str(e)) from None


def _start() -> None:
    """Start button callback: before the rerun, so the page opens the new run right away."""
    req = request_from_state()
    run_dir = (settings.paths().runs / req.run_id).resolve()
    try:
        config = train_config(req, run_dir)
        launch.start_run(run_dir, config, req.gpus, req.processes, req.accelerate_config, req.prompt_format)
    except (ValueError, launch.LaunchError, OSError) as e:
        st.session_state["_tr_error"] = str(e)
        return
    st.session_state["tr_run"] = req.run_id
    st.session_state.pop("_tr_stamp", None)  # the next run gets a new id


def new_run_form() -> None:
    st.text_input(_("Run name (optional)"), key="tr_name", placeholder=_("e.g. words-lr2e-4"),
                  help=_("The run folder is a timestamp plus this name."))
    pick_model()
    pick_dataset()
    prepare_section()
    hyperparameters()
    devices_form()
    req = request_from_state()
    run_dir = (settings.paths().runs / req.run_id).resolve()
    request = runs.request_path(run_dir)
    try:
        argv, env = launch.build_command(request, req.gpus, req.processes, req.accelerate_config)
        st.markdown(_("**The command that will run** (in its own process; output goes to the run's `log`):"))
        st.code(launch.command_line(argv, env), language="bash")
    except launch.LaunchError as e:
        st.error(str(e))
        return
    with st.expander(_("{path} (the trainer's --config)").format(path=request)):
        st.code(json.dumps({**req.config, "out": str(run_dir)}, ensure_ascii=False, indent=1), language="json")
    st.button(_("Start training"), key="tr_start", type="primary", on_click=_start, icon=":material/play_arrow:")
    if error := st.session_state.pop("_tr_error", None):
        st.error(error)


def main() -> None:
    require_role(Role.ADMIN)
    st.title(_("Training"))
    rows = run_rows(settings.paths().runs)
    names = [r["name"] for r in rows]
    if rows:
        if st.session_state.get("tr_run") not in names:
            st.session_state["tr_run"] = names[0]
        st.selectbox(_("Run"), names, key="tr_run")
        run_panel(settings.paths().runs / st.session_state["tr_run"])
        st.subheader(_("All runs"))
        st.caption(_("Pick a run in the Run box above to see its curves; a stopped or failed run has Resume there."))
        active = any(r["state"] in ACTIVE for r in rows)
        st.fragment(runs_table, run_every=POLL_SECONDS if active else None)(settings.paths().runs)
    else:
        st.info(_("No training runs yet. Start one below."))
    with st.expander(_("New run"), expanded=not rows):
        new_run_form()


main()
