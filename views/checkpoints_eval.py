"""Evaluating checkpoints in the background from the Checkpoints page.

The job itself (its command, eval.pid, eval.log, progress read from eval.json) is
training.jobs'; this section only starts it and shows how far it got, so a closed tab or an app
restart loses nothing.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.i18n import _, ngettext
from training import evaluate, jobs

POLL_SECONDS = 2.0


@st.fragment(run_every=POLL_SECONDS)
def live(run_dir: str) -> None:
    """Progress of a running evaluation, polled; the whole page redraws once it ends, so the
    table gains the new rows."""
    state = jobs.eval_progress(Path(run_dir))
    if state is None or not state["running"]:
        st.rerun()
    n, k = len(state["asked"]), len(state["done"])
    st.progress(k / max(n, 1), text=_("{run}: evaluating… {done} of {total} done").format(
        run=Path(run_dir).name, done=k, total=n))
    if state["last_line"]:
        st.caption(state["last_line"])


def _outcome(run_dir: Path, state: dict) -> None:
    n, k = len(state["asked"]), len(state["done"])
    if k == n:
        st.caption(_("{run}: the last evaluation finished ({done} of {total} checkpoints).").format(
            run=run_dir.name, done=k, total=n))
    elif state["last_line"]:
        st.error(_("The evaluation of {run} ended after {done} of {total} checkpoints: {reason}").format(
            run=run_dir.name, done=k, total=n, reason=state["last_line"]))
    else:
        st.error(_("The evaluation of {run} ended after {done} of {total} checkpoints").format(
            run=run_dir.name, done=k, total=n))


def section(run_dirs: list[Path]) -> None:
    """Evaluate the checkpoints of the chosen runs that have no results, in the background."""
    st.subheader(_("Evaluate"))
    c1, c2 = st.columns(2)
    samples = c1.number_input(_("Sample stories per checkpoint"), 1, len(evaluate.PROMPTS), 4,
                              key="ck_eval_samples")
    tokens = c2.number_input(_("New tokens per sample"), 8, 1024, 80, step=8, key="ck_eval_tokens")
    for run_dir in run_dirs:
        state = jobs.eval_progress(run_dir)
        if state is not None and state["running"]:
            live(str(run_dir))
            continue
        if state is not None:
            _outcome(run_dir, state)
        pending = jobs.unevaluated(run_dir)
        if not pending:
            st.caption(_("{run}: every checkpoint has an evaluation.").format(run=run_dir.name))
            continue
        label = ngettext("Evaluate {count} checkpoint of {run}", "Evaluate {count} checkpoints of {run}",
                         len(pending)).format(count=len(pending), run=run_dir.name)
        if st.button(label, key=f"ck_eval_go_{run_dir.name}", help=", ".join(pending)):
            jobs.start_evaluation(run_dir, pending, int(samples), int(tokens))
            st.rerun()
