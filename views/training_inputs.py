"""Training page inputs: the base model (local folder, hub id, the tiny model) and the dataset
(prepared folders on disk, or prepared here from Batch output files in the background).

Folders are listed on every run of the page, never cached, so a dataset prepared in a terminal
or a model copied into data/models shows up without restarting the app.
"""
from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from core import modelfolder, settings
from core.i18n import N_, _, ngettext
from training import jobs
from training.data import prompt_format_of, read_report
from training.prepare import FORMATS, heavy_reasons

PUBLISHED_BASE = "rinna/japanese-gpt2-medium"  # the base the original project fine-tuned
OTHER = "__other__"
PROMPT_FORMATS = ("own", "v1", "v2")  # the selectbox's order; the same set as modelfolder.PROMPT_FORMATS
OWN_FORMAT = N_("own")  # how the selectbox shows "own"; v1 and v2 are names
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


# ---- base model -----------------------------------------------------------------------------

def local_models() -> list[Path]:
    """Model folders (with config.json) under the models folder."""
    return modelfolder.models_in(settings.paths().models)


def model_problem(model: str) -> str | None:
    """Why `model` cannot be trained from, in one sentence; None when it looks usable."""
    if not model:
        return _("Choose a base model, or type a hub id or a model folder.")
    path = Path(model)
    if path.exists():
        if (path / modelfolder.CONFIG).is_file():
            return None
        return _("{model} has no config.json; it is not a model folder.").format(model=model)
    if _HUB_ID.match(model):
        return None
    return _("{model} is neither a model folder nor a hub id like {example}.").format(model=model,
                                                                                       example=PUBLISHED_BASE)


def _build_tiny() -> None:
    """Button callback: runs before the rerun, so the model list drawn next already has it."""
    out = settings.paths().models / "tiny"
    try:
        with st.spinner(_("Building the tiny model…")):
            from training.tiny import build_tiny

            build_tiny(out)
    except OSError as e:
        st.session_state["_tr_tiny_error"] = _("Could not build the tiny model: {error}").format(error=e)
        return
    st.session_state["tr_model"] = str(out)


def chosen_model() -> str:
    """The base model the widgets name (also read by the Start callback, before the rerun)."""
    state = st.session_state
    choice = state.get("tr_model")
    return (state.get("tr_model_other") or "").strip() if choice == OTHER else (choice or "")


def pick_model() -> None:
    models = [str(p) for p in local_models()]
    options = models + [PUBLISHED_BASE, OTHER]
    labels = {m: _("local: {name}").format(name=Path(m).name) for m in models} | {
        PUBLISHED_BASE: _("{model} (hub)").format(model=PUBLISHED_BASE), OTHER: _("Other: a hub id or a folder")}
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    choice = c1.selectbox(_("Base model"), options, format_func=labels.get, key="tr_model")
    c2.button(_("Build the tiny model"), key="tr_tiny", on_click=_build_tiny,
              help=_("A 2-layer GPT-2 with its own tokenizer, trained from scratch in seconds: for trying the page."))
    if error := st.session_state.pop("_tr_tiny_error", None):
        st.error(error)
    if choice == OTHER:
        st.text_input(_("Hub id or model folder"), key="tr_model_other", placeholder=PUBLISHED_BASE)


# ---- dataset --------------------------------------------------------------------------------

def is_dataset(path: Path) -> bool:
    path = Path(path)
    return (path / "dataset").is_dir() or (path / "dataset_dict.json").is_file()


def prepared_datasets() -> list[Path]:
    """Dataset folders written by training.prepare: dataset/ plus report.json."""
    root = settings.paths().datasets
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if (d / "dataset").is_dir() and (d / "report.json").is_file())


def dataset_problem(data: str) -> str | None:
    if not data:
        return _("Choose a prepared dataset, or prepare one from Batch output below.")
    if not is_dataset(Path(data)):
        return _("{data} is not a prepared dataset (it needs the dataset/ folder that training.prepare "
                 "writes).").format(data=data)
    return None


def chosen_dataset() -> str:
    state = st.session_state
    choice = state.get("tr_data")
    return (state.get("tr_data_other") or "").strip() if choice == OTHER else (choice or "")


def _format_key(data: str) -> str:
    """The prompt-format widget is keyed by the dataset's own format, so picking another dataset
    resets it to that dataset's format instead of keeping a stale choice."""
    return f"tr_format_{(prompt_format_of(data) if data else None) or 'own'}"


def chosen_format() -> str:
    key = _format_key(chosen_dataset())
    return st.session_state.get(key) or key.removeprefix("tr_format_")


def pick_dataset() -> None:
    found = [str(p) for p in prepared_datasets()]
    choice = st.selectbox(_("Dataset"), found + [OTHER], key="tr_data",
                          format_func=lambda d: _("Other: a dataset folder") if d == OTHER else Path(d).name)
    if choice == OTHER:
        st.text_input(_("Dataset folder"), key="tr_data_other")
    data = chosen_dataset()
    info = read_report(data) if data else {}
    if info:
        splits, kept = info.get("splits") or {}, info.get("kept", "?")
        parts = [_("{format} format").format(format=info.get("format", "?")),
                 ngettext("{count} story", "{count} stories", kept if isinstance(kept, int) else 2).format(count=kept),
                 _("records: {splits}").format(splits=", ".join(f"{n} {name}" for name, n in splits.items()))]
        if info.get("mean_density") is not None:
            parts.append(_("mean N1 density {density}").format(density=info["mean_density"]))
        parts += [_("{count} with no {field} in the header").format(count=n, field=what)
                  for what, n in (info.get("unknown") or {}).items() if n]
        st.caption(" · ".join(parts))
        for line in heavy_reasons(info):  # a fifth of the batch lost to one rule: say it where it is chosen
            st.warning(line)
    key = _format_key(data)
    st.selectbox(_("Prompt format"), PROMPT_FORMATS, index=PROMPT_FORMATS.index(key.removeprefix("tr_format_")),
                 key=key, format_func=lambda f: _(OWN_FORMAT) if f == "own" else f,
                 help=_("How the dataset's prompts are written; recorded with the run so generation "
                        "prompts the trained model the same way. Taken from the dataset's report."))


# ---- prepare a dataset here -----------------------------------------------------------------

def _saved_upload(key: str, name: str) -> str:
    upload = st.session_state.get(key)
    if upload is None:
        return ""
    path = settings.paths().datasets / "uploads" / f"{name}-{Path(upload.name).name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(upload.getvalue())
    return str(path)


def _start_prepare() -> None:
    """Button callback: run training.prepare in the background (training.jobs checks the inputs)."""
    state = st.session_state
    name, root = (state.get("tr_prep_name") or "").strip(), settings.paths().datasets
    try:
        jobs.dataset_folder(root, name)  # before saving an upload under that name
    except jobs.JobError as e:
        state["_tr_prep_error"] = str(e)
        return
    output = (state.get("tr_prep_output") or "").strip() or _saved_upload("tr_prep_output_file", name + "-output")
    inputs = (state.get("tr_prep_input") or "").strip() or _saved_upload("tr_prep_input_file", name + "-input")
    try:
        jobs.start_prepare(root, name, output, state.get("tr_prep_format", "words"), inputs)
    except (jobs.JobError, OSError) as e:
        state["_tr_prep_error"] = str(e)


@st.fragment(run_every=3)
def _preparing() -> None:
    """Background preparations still running; a full rerun once one ends, so its dataset (or
    its failure) shows in the page."""
    running = {str(f) for f, alive in jobs.preparations(settings.paths().datasets) if alive}
    if st.session_state.get("_tr_preparing", set()) - running:
        st.session_state["_tr_preparing"] = running
        st.rerun()
    st.session_state["_tr_preparing"] = running
    for folder in sorted(running):
        st.info(_("Preparing {name}…").format(name=Path(folder).name) + f"  \n{jobs.prepare_log(Path(folder), 1)}")


def _dismiss(folder: str) -> None:
    jobs.dismiss_prepare(Path(folder))


def prepare_section() -> None:
    found = jobs.preparations(settings.paths().datasets)
    with st.expander(_("Prepare a dataset from Batch output"), expanded=bool(found)):
        st.caption(_("Runs `python -m training.prepare` in the background; the dataset appears in the list "
                     "above when it is done."))
        c1, c2 = st.columns(2)
        c1.text_input(_("Batch output JSONL (path)"), key="tr_prep_output", placeholder="data/batch/output.jsonl")
        c1.file_uploader(_("…or upload it"), type=["jsonl"], key="tr_prep_output_file")
        c2.text_input(_("Batch input JSONL (path, optional: target words)"), key="tr_prep_input")
        c2.file_uploader(_("…or upload it"), type=["jsonl"], key="tr_prep_input_file")
        c3, c4 = st.columns(2)
        c3.selectbox(_("Record format"), FORMATS, index=FORMATS.index("words"), key="tr_prep_format")
        c4.text_input(_("Dataset name"), key="tr_prep_name", placeholder="n1-words")
        st.button(_("Prepare"), key="tr_prep_go", on_click=_start_prepare)
        if error := st.session_state.pop("_tr_prep_error", None):
            st.error(error)
        for folder, alive in found:
            if not alive:
                st.error(_("Preparing {name} failed; the end of its log:").format(name=folder.name))
                st.code(jobs.prepare_log(folder), language=None, wrap_lines=True)  # the reason is the last line
                st.button(_("Dismiss"), key=f"tr_prep_dismiss_{folder.name}", on_click=_dismiss, args=(str(folder),))
        if any(alive for _folder, alive in found):
            _preparing()
