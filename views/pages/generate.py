"""Generate: pick target words, genre, style, model; the story streams in, then shows
highlighted with its score and is kept in the Library. Generation runs as a job, so the page
stays usable and a closed tab loses nothing."""
from __future__ import annotations

import random
from dataclasses import replace

import pandas as pd
import streamlit as st

from core import store, vocab
from core.generation import registry
from core.generation.base import GENRES, STYLES, GenerationError, GenerationRequest
from core.render import DEFAULT_LEVELS
from core.vocab import LEVELS
from core.wordlists import typed_words
from core.auth import Role, role_allows
from views.common import cached_analyze, database, job_manager, profile
from views.sidebar import current_role
from views.panels import show_analysis

ACTIVE = ("queued", "running")


@st.cache_resource(show_spinner=False)
def _level_words(level: str) -> list[str]:
    return sorted(vocab.level_words(level))


def _source_words(db: store.Database, source: str) -> list[str]:
    if source in LEVELS:
        return _level_words(source)
    return [w.word for w in store.load_word_list(db, source)]


def pick_words(db: store.Database) -> list[str]:
    """Target words: a random sample of a level or custom list, a pick from it, or pasted."""
    sources = list(reversed(LEVELS)) + [r["name"] for r in store.word_lists(db, profile())]
    mode = st.radio("Target words", ["Random sample", "Pick from a list", "Paste"], horizontal=True,
                    key="gen_words_mode")
    if mode == "Paste":
        text = st.text_input("Words, comma-separated", key="gen_paste", placeholder="把握, 促す, 和やか")
        return typed_words(text)
    c1, c2 = st.columns([2, 1])
    source = c1.selectbox("From", sources, key="gen_source")
    words = _source_words(db, source)
    if mode == "Pick from a list":
        return st.multiselect("Words (type to search)", words, key="gen_pick", max_selections=100)
    count = c2.number_input("How many", min_value=1, max_value=100, value=10, key="gen_count")
    if st.button("Draw new words", key="gen_draw") or st.session_state.get("gen_sample_of") != source:
        st.session_state["gen_sample"] = random.sample(words, min(int(count), len(words)))
        st.session_state["gen_sample_of"] = source
    sample = st.session_state.get("gen_sample", [])
    st.caption("、".join(sample))
    return sample


def settings_form(targets: list[str]) -> tuple[GenerationRequest | None, registry.ModelSpec, bool]:
    # Students and teachers get what admins chose (promoted, published, API, examples); admins
    # also see raw checkpoints and model folders to try them before promoting.
    models = registry.available() if role_allows(current_role(), Role.ADMIN) else registry.for_students()
    spec = st.selectbox("Model", models, format_func=lambda m: m.name, key="gen_model")
    c1, c2 = st.columns(2)
    genres = c1.multiselect("Genres (two)", GENRES, default=["学園", "恋愛"], max_selections=2, key="gen_genres")
    style = c2.radio("Style", STYLES, horizontal=True, key="gen_style")
    length = st.slider("Length (new tokens)", 100, 1500, 600, step=50, key="gen_length")
    with st.expander("Advanced settings"):
        a1, a2, a3 = st.columns(3)
        temperature = a1.slider("Temperature", 0.0, 1.5, 0.9, 0.05, key="gen_temperature")
        top_p = a2.slider("Top-p", 0.1, 1.0, 0.95, 0.05, key="gen_top_p")
        rep = a3.slider("Repetition penalty", 1.0, 2.0, 1.1, 0.05, key="gen_repetition")
        b1, b2, b3 = st.columns(3)
        ngram = b1.number_input("No-repeat n-gram", 0, 10, 0, key="gen_ngram")
        seed_text = b2.text_input("Seed (blank = random)", key="gen_seed")
        n = b3.number_input("Candidates (best kept)", 1, 8, 1, key="gen_n")
        min_chars = st.number_input("Minimum length (characters)", 0, 3000, 200, step=50, key="gen_min_chars")
        keep_all = st.checkbox("Also keep the other candidates", key="gen_keep_all")
    try:
        seed = int(seed_text) if seed_text.strip() else None
        request = GenerationRequest(targets=tuple(targets), genres=tuple(genres), style=style,
                                    max_new_tokens=int(length), min_chars=int(min_chars), temperature=temperature,
                                    top_p=top_p, repetition_penalty=rep, no_repeat_ngram_size=int(ngram),
                                    seed=seed, n=int(n))
    except ValueError:
        st.error("The seed must be a whole number.")
        return None, spec, keep_all
    except GenerationError as exc:
        st.error(str(exc))
        return None, spec, keep_all
    return request, spec, keep_all


@st.fragment(run_every=1.0)
def live_job(job_id: int) -> None:
    """Polls the job: place in line, the text as it streams, then hands over to the full view."""
    db, manager = database(), job_manager()
    job = store.get_job(db, job_id)
    if job["status"] not in ACTIVE:
        st.rerun()  # finished: redraw the whole page with the stored story
    live = manager.live(job_id)
    if job["status"] == "queued":
        st.info(f"Job #{job_id} is waiting; {store.queue_position(db, job_id)} ahead of it for this model.")
    elif job["kind"] == "batch":
        st.progress(job["done_count"] / max(job["total"], 1), text=f"{job['done_count']} of {job['total']} stories")
    else:
        n = len(live.pieces) if live else 1
        st.caption(f"Job #{job_id} is writing (candidate {n} of {job['request'].get('n', 1)})… "
                   "You can leave this page: the story will be in your Library.")
        st.text(live.text() if live else "")
    if st.button("Cancel", key=f"gen_cancel_{job_id}"):
        manager.cancel(job_id)
        st.rerun()


def finished_job(job: dict) -> None:
    db = database()
    if job["status"] == "failed":
        st.error(job["error"] or "The job failed.")
        return
    if job["status"] == "cancelled":
        st.warning(f"Job #{job['id']} was cancelled.")
        return
    if job["warning"]:
        st.warning(job["warning"])
    if job["kind"] == "batch":
        st.success(f"Saved {len(job['story_ids'])} stories to your Library.")
        st.dataframe(pd.DataFrame(job["candidates"]), hide_index=True)
        return
    story = store.get_story(db, job["story_ids"][0]) if job["story_ids"] else None
    if story is None:
        st.info("The story was deleted.")
        return
    st.subheader(story["title"] or "Your story")
    st.caption(f"Story #{story['id']} · {registry.display_name(story['model'])} · saved to "
               f"{story['profile'] or 'guest'}'s Library")
    show_analysis(cached_analyze(story["text"], targets=tuple(story["targets"])), list(DEFAULT_LEVELS), False, key="gen")
    if len(job["candidates"]) > 1:
        st.markdown("**Candidates** (best first: target coverage, then N1 density less repeated sentences)")
        st.dataframe(pd.DataFrame(job["candidates"]), hide_index=True)


def batch_section(db: store.Database, spec: registry.ModelSpec, request: GenerationRequest | None,
                  targets: list[str]) -> None:
    with st.expander("Batch: several stories at once"):
        n = st.number_input("Stories", 2, 50, 4, key="gen_batch_n")
        fresh = st.checkbox("Draw a new random word sample for each story", key="gen_batch_fresh")
        if st.button("Start batch", key="gen_batch_go", disabled=request is None):
            source = st.session_state.get("gen_source", "N1")
            words = _source_words(db, source) if fresh else []
            requests = [request.with_seed(None if request.seed is None else request.seed + i) for i in range(int(n))]
            if fresh:
                rng, size = random.Random(request.seed), min(len(targets) or 10, len(words))
                requests = [replace(r, targets=tuple(rng.sample(words, size))) for r in requests]
            st.session_state["gen_job"] = job_manager().submit_batch(spec, requests, profile())


def main() -> None:
    st.title("Generate")
    db = database()
    if db is None:
        st.stop()
    targets = pick_words(db)
    request, spec, keep_all = settings_form(targets)
    if st.button("Write a story", key="gen_go", type="primary", disabled=request is None):
        st.session_state["gen_job"] = job_manager().submit(spec, request, profile(), keep_all)
    batch_section(db, spec, request, targets)
    job_id = st.session_state.get("gen_job")
    if job_id is not None:
        job = store.get_job(db, job_id)
        # A statement, not a bare conditional expression: Streamlit's magic would write its
        # value (None) under every story.
        if job["status"] in ACTIVE:
            live_job(job_id)
        else:
            finished_job(job)
    recent = store.list_jobs(db, profile=profile(), limit=10)
    if recent:
        with st.expander("My recent jobs"):
            st.dataframe(pd.DataFrame([{k: j[k] for k in ("id", "created", "status", "model_name", "kind", "error")}
                                       for j in recent]), hide_index=True)


main()
