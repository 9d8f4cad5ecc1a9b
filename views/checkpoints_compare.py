"""Side by side on the Checkpoints page: one prompt and seed through two to four models
(checkpoints, and any model of the registry), each story highlighted and scored in its own
column — the original project's multi-model comparison script, as a page section.

Generation runs in the page's own script run: checkpoints are compared on the machine that
trained them, and one story per model is quick next to a whole training run.
"""
from __future__ import annotations

import contextlib

import streamlit as st

from core import i18n
from core.generation import pipeline, registry
from core.generation.base import GENRES, STYLES, GenerationError, GenerationRequest
from core.generation.loading import first_line
from core.i18n import _, ngettext
from core.render import DEFAULT_LEVELS, STYLE, render_text
from core.wordlists import typed_words
from views.panels import score_card

RESULTS = "ck_cmp_results"
MIN_MODELS, MAX_MODELS = 2, 4


def model_options(rows: list[dict]) -> dict[str, registry.ModelSpec]:
    """Checkpoints that verify (by run/checkpoint), then every other model the registry offers."""
    options = {r["label"]: registry.ModelSpec(r["label"], "hf", r["path"], r["prompt_format"], "checkpoint")
               for r in rows if r["integrity"] == "ok"}
    for m in registry.available():
        if m.source != "checkpoint":
            options.setdefault(m.name, m)
    return options


def _run_one(spec: registry.ModelSpec, request: GenerationRequest) -> dict:
    """One story from one model; a failure becomes that column's error, not the page's."""
    try:
        with _kept_loaded_only_for_now(spec):
            [best] = pipeline.produce(registry.make_backend(spec), request)
    except GenerationError as err:
        return {"label": spec.name, "error": str(err)}
    except Exception as err:  # noqa: BLE001 - e.g. NaN weights inside torch: this column only
        return {"label": spec.name, "error": _("{model} could not write a story: {error}").format(
            model=spec.name, error=first_line(err))}
    return {"label": spec.name, "analysis": best.analysis, "repeat": best.repeat_rate,
            "warning": best.draft.warning, "seed": request.seed}


def _kept_loaded_only_for_now(spec: registry.ModelSpec):
    """A training run has many checkpoints; a comparison must not leave them all in memory.
    Models that were loaded already (students' models) stay loaded."""
    if spec.source != "checkpoint" or spec.backend != "hf":
        return contextlib.nullcontext()
    from core.generation.loading import borrowed
    return borrowed(spec.model)


def _request() -> GenerationRequest | None:
    words = st.text_input(_("Target words, comma-separated"), "曖昧, 宿命, 吟味", key="ck_cmp_words")
    c1, c2 = st.columns(2)
    genres = c1.multiselect(_("Genres (two)"), GENRES, default=["学園", "恋愛"], max_selections=2,
                            key="ck_cmp_genres", placeholder=_("Choose…"))
    style = c2.radio(_("Style"), STYLES, horizontal=True, key="ck_cmp_style")
    c3, c4, c5 = st.columns(3)
    seed = c3.number_input(_("Seed"), 0, 2**31 - 1, 0, key="ck_cmp_seed")
    tokens = c4.number_input(_("Max new tokens"), 8, 1500, 200, step=8, key="ck_cmp_tokens")
    temperature = c5.slider(_("Temperature"), 0.0, 1.5, 0.9, 0.05, key="ck_cmp_temperature")
    targets = tuple(typed_words(words))
    try:
        return GenerationRequest(targets=targets, genres=tuple(genres), style=style, max_new_tokens=int(tokens),
                                 min_chars=0, temperature=temperature, seed=int(seed))
    except GenerationError as err:
        st.error(str(err))
        return None


def _show(result: dict) -> None:
    st.markdown(f"**{result['label']}**")
    if "error" in result:
        st.error(result["error"])
        return
    a = result["analysis"]
    st.html(STYLE + render_text(a, levels=DEFAULT_LEVELS))
    score_card(a)
    st.caption(_("Repeated sentences {share} · seed {seed}").format(share=i18n.percent(result["repeat"], 0),
                                                                     seed=result["seed"]))
    if result["warning"]:
        st.caption(result["warning"])


def section(rows: list[dict]) -> None:
    st.subheader(_("Side by side"))
    options = model_options(rows)
    picked = st.multiselect(_("Models ({min} to {max})").format(min=MIN_MODELS, max=MAX_MODELS), list(options),
                            max_selections=MAX_MODELS, key="ck_cmp_models",
                            placeholder=_("Checkpoints, promoted or published models"))
    request = _request()
    ready = request is not None and len(picked) >= MIN_MODELS
    if st.button(_("Write with each model"), key="ck_cmp_go", disabled=not ready):
        with st.status(ngettext("Writing with {count} model…", "Writing with {count} models…",
                                len(picked)).format(count=len(picked))) as status:
            results = []
            for name in picked:
                status.update(label=_("Writing with {model}…").format(model=name))
                results.append(_run_one(options[name], request))
            status.update(label=_("Done"), state="complete")
        st.session_state[RESULTS] = results
    results = st.session_state.get(RESULTS) or []
    if results:
        for column, result in zip(st.columns(len(results)), results):
            with column:
                _show(result)

