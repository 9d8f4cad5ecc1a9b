"""Evaluating checkpoints in the background from the Checkpoints page.

The job itself (its command, eval.pid, eval.log, progress read from eval.json) is
training.jobs'; this section only starts it and shows how far it got, so a closed tab or an app
restart loses nothing.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

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
    st.progress(k / max(n, 1), text=f"{Path(run_dir).name}: evaluating… {k} of {n} done")
    if state["last_line"]:
        st.caption(state["last_line"])


def _outcome(run_dir: Path, state: dict) -> None:
    n, k = len(state["asked"]), len(state["done"])
    if k == n:
        st.caption(f"{run_dir.name}: the last evaluation finished ({k} of {n} checkpoints).")
    else:
        why = f": {state['last_line']}" if state["last_line"] else ""
        st.error(f"The evaluation of {run_dir.name} ended after {k} of {n} checkpoints{why}")


def section(run_dirs: list[Path]) -> None:
    """Evaluate the checkpoints of the chosen runs that have no results, in the background."""
    st.subheader("Evaluate")
    c1, c2 = st.columns(2)
    samples = c1.number_input("Sample stories per checkpoint", 1, len(evaluate.PROMPTS), 4, key="ck_eval_samples")
    tokens = c2.number_input("New tokens per sample", 8, 1024, 80, step=8, key="ck_eval_tokens")
    for run_dir in run_dirs:
        state = jobs.eval_progress(run_dir)
        if state is not None and state["running"]:
            live(str(run_dir))
            continue
        if state is not None:
            _outcome(run_dir, state)
        pending = jobs.unevaluated(run_dir)
        if not pending:
            st.caption(f"{run_dir.name}: every checkpoint has an evaluation.")
            continue
        label = f"Evaluate {len(pending)} checkpoint{'s' * (len(pending) > 1)} of {run_dir.name}"
        if st.button(label, key=f"ck_eval_go_{run_dir.name}", help=", ".join(pending)):
            jobs.start_evaluation(run_dir, pending, int(samples), int(tokens))
            st.rerun()
