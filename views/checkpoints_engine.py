"""The engine each promoted model writes with, set by the admin on the Checkpoints page, and its
CTranslate2 conversion run in the background with its progress shown live.

The conversion job (a detached `python -m core.generation.ct2 convert`, its record, status
file and log) is training.jobs'; the converted copy and whether it is current are
core.generation.ct2's. A model on the ct2 engine that is not converted yet still writes: the
first story written with it converts it first (or waits for the conversion running here), so
it only starts later; where that conversion fails, the transformers engine writes the story and
says so (core.jobs.backend_for). Where CTranslate2 is not installed, ct2 cannot be chosen here (the
registry would run the model on transformers anyway, with a note on every story).
"""
from __future__ import annotations

import time

import streamlit as st

from core import i18n
from core.generation import ct2, registry
from core.i18n import N_, _
from training import jobs
from views.common import flash

POLL_SECONDS = 2.0
ENGINE_NAMES = {"hf": "transformers", "ct2": "CTranslate2 int8"}
ENGINE_HELP = N_("transformers runs the model as it was trained (exact, needed for training and evaluation); "
               "CTranslate2 int8 runs a converted 8-bit copy several times faster on a CPU (int8_float16 on a "
               "GPU), converted once in the background and again after the model changes.")
COPY_STATES = {"ready": N_("ready"), "running": N_("converting"), "failed": N_("failed"),
               "missing": N_("not converted"), "stale": N_("out of date"), "unavailable": N_("not installed")}
RESULT = "_ck_engine_result"


def conversion(model: str) -> dict:
    """Where `model`'s CTranslate2 copy stands: state (running | ready | failed | missing |
    stale | unavailable) and message (one sentence, or '')."""
    job = jobs.conversion_progress(model)
    if job is not None and job["running"]:
        return {"state": "running", "message": job["message"], "started": job["started"]}
    if not ct2.available():
        return {"state": "unavailable", "message": _(ct2.NOT_INSTALLED)}
    state = ct2.status(model)
    if state != "ready" and job is not None and job["state"] == "failed":
        return {"state": "failed", "message": job["message"]}
    return {"state": state, "message": ""}


def copy_label(entry: dict) -> str:
    """The promoted table's "CTranslate2 copy" column, in the language in use."""
    return _(COPY_STATES[conversion(entry["path"])["state"]]) if registry.promoted_present(entry) else "–"


def refusal(engine: str) -> str:
    """Why `engine` cannot be chosen here; '' when it can."""
    if engine == "ct2" and not ct2.available():
        return _("CTranslate2 is not installed on this server (pip install ctranslate2==4.8.5), so the model "
                 "stays on transformers.")
    return ""


def start_if_needed(model: str) -> bool:
    """Start `model`'s conversion unless its copy is ready or one is running; True when the copy
    is ready already, False when it is converting (now, in the background)."""
    state = conversion(model)["state"]
    if state == "ready":
        return True
    if state != "running":
        jobs.start_conversion(model)
    return False


def engine_picker() -> str:
    """The promote form's engine choice."""
    return st.radio(_("Engine"), registry.ENGINES, format_func=ENGINE_NAMES.get, horizontal=True,
                    key="ck_promote_engine", help=_(ENGINE_HELP))


def _choose(name: str, model: str, was: str) -> None:
    """The engine radio's callback: set the engine (and start the conversion for ct2); a
    refusal puts the radio back and says why in one sentence."""
    engine = st.session_state["ck_engine"]
    try:
        why = refusal(engine)
        if why:
            raise registry.PromotionError(why)
        registry.set_engine(name, engine)
        ready = start_if_needed(model) if engine == "ct2" else None
    except (registry.PromotionError, OSError) as err:
        st.session_state["ck_engine"] = was
        st.session_state[RESULT] = ("error", str(err) if isinstance(err, registry.PromotionError) else
                                    _("Could not start the conversion: {error}.").format(error=err.strerror or err))
        return
    if engine != "ct2":
        message = _("“{name}” now writes with {engine}.").format(name=name, engine=ENGINE_NAMES[engine])
    elif ready:
        message = _("“{name}” now writes with CTranslate2 int8; its converted copy is ready.").format(name=name)
    else:
        message = _("“{name}” now writes with CTranslate2 int8; converting it in the background.").format(name=name)
    st.session_state[RESULT] = ("success", message)


@st.fragment(run_every=POLL_SECONDS)
def live(name: str, model: str) -> None:
    """A running conversion, polled; the whole page redraws once it ends (table and message)."""
    state = conversion(model)
    if state["state"] != "running":
        st.rerun()
    waited = time.time() - (state.get("started") or time.time())
    st.info(_("Converting “{name}” for CTranslate2 ({seconds} s so far): {message}").format(
        name=name, seconds=i18n.number(waited, 0), message=state["message"]), icon=":material/hourglass_top:")


def _status(entry: dict, engine: str) -> None:
    """The picked model's conversion: live while it runs, then ready, failed or not yet."""
    name, model = entry["name"], entry["path"]
    state = conversion(model)
    if state["state"] == "running":
        live(name, model)
        if engine == "ct2":
            st.caption(_("Until it is ready, the first story written with this model waits for the conversion "
                         "to finish, then writes as usual."))
        return
    if state["state"] == "ready":
        st.caption(_("“{name}” has a current CTranslate2 copy ({compute_type}).").format(
            name=name, compute_type=ct2.compute_type()))
        return
    if engine != "ct2":
        return
    if state["state"] == "unavailable":
        st.warning(_("CTranslate2 is not installed on this server, so this model writes with transformers until "
                     "it is (pip install ctranslate2==4.8.5)."))
        return
    if state["state"] == "failed":
        st.error(state["message"])
        st.caption(_("Stories with this model try the conversion again; when it fails, the transformers engine "
                     "writes them and each says so (a running app keeps that fallback until it restarts)."))
    elif state["state"] == "stale":
        st.warning(_("“{name}” has an out-of-date CTranslate2 copy: the first story written with it converts it "
                     "first, so it starts later. Convert it now to spare a student the wait.").format(name=name))
    else:
        st.warning(_("“{name}” has no CTranslate2 copy: the first story written with it converts it first, so it "
                     "starts later. Convert it now to spare a student the wait.").format(name=name))
    if st.button(_("Convert again") if state["state"] == "failed" else _("Convert now"), key="ck_convert_go"):
        jobs.start_conversion(model)
        st.rerun()


def section(entry: dict) -> None:
    """The picked promoted model's engine (radio) and its conversion."""
    name, engine = entry["name"], registry.engine_of(entry)
    if st.session_state.get("_ck_engine_of") != (name, engine):  # another model picked, or set elsewhere
        st.session_state["ck_engine"] = engine
        st.session_state["_ck_engine_of"] = (name, engine)
    st.radio(_("Engine of “{name}”").format(name=name), registry.ENGINES, format_func=ENGINE_NAMES.get,
             horizontal=True, key="ck_engine", help=_(ENGINE_HELP), on_change=_choose,
             args=(name, entry["path"], engine))
    flash(RESULT)
    if registry.promoted_present(entry):
        _status(entry, engine)
