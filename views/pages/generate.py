"""Generate: pick target words (or let the student's own words be picked), genre, style, model,
and optionally a premise or a Library story to continue; the story streams in, then shows
highlighted with its score (and, for a student, their real coverage of it) and is kept in the
Library. Generation runs as a job, so the page stays usable and a closed tab loses nothing."""
from __future__ import annotations

import random
from dataclasses import replace

import pandas as pd
import streamlit as st

from core import i18n, learner, store, vocab
from core.generation import registry
from core.generation.base import GENRES, PREMISE_MAX, STYLES, GenerationError, GenerationRequest
from core.generation.prompts import PREMISE_NOTES
from core.jobs import FROM_MY_WORDS, continue_story
from core.render import DEFAULT_LEVELS
from core.store.coverage import has_known_words
from core.vocab import LEVELS
from core.wordlists import typed_words
from core.auth import Role, role_allows
from core.i18n import N_, _, ngettext
from views.common import cached_analyze, database, in_words, job_manager, profile
from views.sidebar import current_role
from views.panels import show_analysis

ACTIVE = ("queued", "running")
MODES = (N_("Random sample"), N_("Pick from a list"), N_("Paste"))  # compared in English, shown with _
MY_WORDS = N_("Write from my words")
# Tables show these headers (translated) over the stored column names the code keeps.
CANDIDATE_COLUMNS = {"seed": N_("seed"), "coverage": N_("coverage"), "n1_density": N_("N1 density"),
                     "unique_n1": N_("unique N1"), "repeated": N_("repeated"), "chars": N_("characters"),
                     "title": N_("title"), "kept": N_("kept"), "winner": N_("winner")}
JOB_COLUMNS = {"id": N_("id"), "created": N_("created"), "status": N_("status"), "model_name": N_("model"),
               "kind": N_("kind"), "error": N_("error")}
STATUSES = {"queued": N_("queued"), "running": N_("running"), "done": N_("done"), "failed": N_("failed"),
            "cancelled": N_("cancelled")}
KINDS = {"story": N_("story"), "batch": N_("batch")}


def _headers(columns: dict[str, str]) -> dict[str, str]:
    """column_config labels: each stored column name shown by its translated header."""
    return {col: _(label) for col, label in columns.items()}


@st.cache_resource(show_spinner=False)
def _level_words(level: str) -> list[str]:
    return sorted(vocab.level_words(level))


def _source_words(db: store.Database, source: str) -> list[str]:
    if source in LEVELS:
        return _level_words(source)
    return [w.word for w in store.load_word_list(db, source)]


def pick_words(db: store.Database) -> list[str] | None:
    """Target words: a random sample of a level or custom list, a pick from it, or pasted; None
    for "Write from my words" (an open profile only), whose words depend on the model and length
    chosen below (my_words)."""
    sources = list(reversed(LEVELS)) + [r["name"] for r in store.word_lists(db, profile())]
    modes = list(MODES) + ([MY_WORDS] if profile() else [])
    mode = st.radio(_("Target words"), modes, horizontal=True, key="gen_words_mode", format_func=in_words(modes))
    if mode == MY_WORDS:
        st.caption(_("Your due words and new N1 words, as many as keep the story readable for you; "
                     "they are chosen below, once the model and length are set."))
        return None
    if mode == "Paste":
        text = st.text_input(_("Words, comma-separated"), key="gen_paste", placeholder="把握, 促す, 和やか")
        return typed_words(text)
    c1, c2 = st.columns([2, 1])
    source = c1.selectbox(_("From"), sources, key="gen_source")
    words = _source_words(db, source)
    if mode == "Pick from a list":
        return st.multiselect(_("Words (type to search)"), words, key="gen_pick", max_selections=100, placeholder=_("Choose…"))
    count = c2.number_input(_("How many"), min_value=1, max_value=100, value=10, key="gen_count")
    if st.button(_("Draw new words"), key="gen_draw") or st.session_state.get("gen_sample_of") != source:
        st.session_state["gen_sample"] = random.sample(words, min(int(count), len(words)))
        st.session_state["gen_sample_of"] = source
    sample = st.session_state.get("gen_sample", [])
    st.caption("、".join(sample))
    return sample


def settings_form(targets: list[str]) -> tuple[GenerationRequest | None, registry.ModelSpec, bool]:
    # Students and teachers get what admins chose (promoted, published, API, examples); admins
    # also see raw checkpoints and model folders to try them before promoting.
    models = registry.available() if role_allows(current_role(), Role.ADMIN) else registry.for_students()
    # A name the catalogue holds (the example passage's) in this run's language; the others as they are.
    names = {m: registry.with_engine(_(m.name), m.backend) for m in models}
    spec = st.selectbox(_("Model"), models, format_func=names.get, key="gen_model")
    c1, c2 = st.columns(2)
    genres = c1.multiselect(_("Genres (two)"), GENRES, default=["学園", "恋愛"], max_selections=2, key="gen_genres", placeholder=_("Choose…"))
    style = c2.radio(_("Style"), STYLES, horizontal=True, key="gen_style")
    length = st.slider(_("Length (new tokens)"), 100, 1500, 600, step=50, key="gen_length")
    with st.expander(_("Advanced settings")):
        a1, a2, a3 = st.columns(3)
        temperature = a1.slider(_("Temperature"), 0.0, 1.5, 0.9, 0.05, key="gen_temperature")
        top_p = a2.slider(_("Top-p"), 0.1, 1.0, 0.95, 0.05, key="gen_top_p")
        rep = a3.slider(_("Repetition penalty"), 1.0, 2.0, 1.1, 0.05, key="gen_repetition")
        b1, b2, b3 = st.columns(3)
        ngram = b1.number_input(_("No-repeat n-gram"), 0, 10, 0, key="gen_ngram")
        seed_text = b2.text_input(_("Seed (blank = random)"), key="gen_seed")
        n = b3.number_input(_("Candidates (best kept)"), 1, 8, 1, key="gen_n")
        min_chars = st.number_input(_("Minimum length (characters)"), 0, 3000, 200, step=50, key="gen_min_chars")
        keep_all = st.checkbox(_("Also keep the other candidates"), key="gen_keep_all")
    try:
        seed = int(seed_text) if seed_text.strip() else None
        request = GenerationRequest(targets=tuple(targets), genres=tuple(genres), style=style,
                                    max_new_tokens=int(length), min_chars=int(min_chars), temperature=temperature,
                                    top_p=top_p, repetition_penalty=rep, no_repeat_ngram_size=int(ngram),
                                    seed=seed, n=int(n))
    except ValueError:
        st.error(_("The seed must be a whole number."))
        return None, spec, keep_all
    except GenerationError as exc:
        st.error(str(exc))
        return None, spec, keep_all
    return request, spec, keep_all


def _story_choices(db: store.Database) -> list[dict]:
    """Stories one may continue: a student their own Library's, teachers and admins any."""
    if role_allows(current_role(), Role.TEACHER):
        return store.list_stories(db, store.StoryFilter(), limit=200, columns=("id", "created", "profile", "title"))
    if not profile():
        return []
    return store.list_stories(db, store.StoryFilter(profile=profile()), limit=200,
                              columns=("id", "created", "profile", "title"))


def plot_form(db: store.Database, spec: registry.ModelSpec,
              request: GenerationRequest | None) -> GenerationRequest | None:
    """An optional premise (設定) and a Library story to continue, added to `request`; what the
    chosen model does with them is said under the boxes. None (after an error box) when bad."""
    stories, me = {r["id"]: r for r in _story_choices(db)}, profile()
    # Labels made now, in this run's language (AppTest calls format_func outside the run).
    labels = {None: _("— a new story —")} | {i: _story_label(row, me) for i, row in stories.items()}
    c1, c2 = st.columns([3, 2])
    premise = c1.text_area(_("Premise (設定, optional)"), key="gen_premise", max_chars=PREMISE_MAX, height=80,
                           placeholder="舞台は海辺の町の高校。転校生の美咲は、図書室で古い日記を見つける。")
    story_id = c2.selectbox(_("Continue story #"), [None, *stories], key="gen_continue", format_func=labels.get)
    if premise.strip() or story_id is not None:
        st.caption(_(PREMISE_NOTES.get(spec.prompt_format, PREMISE_NOTES["own"])))
    if request is None:
        return None
    try:
        request = replace(request, premise=premise)
        if story_id is not None:
            request = continue_story(db, request, story_id, profile(), role_allows(current_role(), Role.TEACHER))
    except GenerationError as exc:
        st.error(str(exc))
        return None
    return request


def _story_label(row: dict, me: str) -> str:
    who = f" · {row['profile'] or _('guest')}" if row["profile"] != me else ""
    return f"#{row['id']} {row['title'] or _('(untitled)')}{who} · {row['created']:%Y-%m-%d}"


def my_words(db: store.Database, spec: registry.ModelSpec,
             request: GenerationRequest | None) -> GenerationRequest | None:
    """The targets of "Write from my words": the plan for this model and length, shown with
    its predicted coverage; None when there is nothing to write about."""
    draw = st.session_state.get("gen_mine_draw", 0)
    if request is None:
        return None
    mine = learner.plan(db, profile(), request, spec.backend, spec.model, draw=draw, analyze_fn=cached_analyze)
    if not mine.targets:
        st.info(_("You have no due words and no N1 word left that is new to you; pick words another way."))
        return None
    s = mine.sizing
    # Once a story is shown below, this plan is already the next one's: say so, or a student
    # reads it as the words the story below was written from.
    after = st.session_state.get("gen_job") is not None
    words = "、".join(mine.targets)
    st.markdown(_("**Your words for the next story**: {words}").format(words=words) if after
                else _("**Your words**: {words}").format(words=words))
    st.caption(_("Due for review: {due} · new: {new} · predicted {percent} known running words ({band}) in "
                 "about {count} words, from {basis}.").format(
        due="、".join(mine.due) or _("none"), new="、".join(mine.new), percent=i18n.percent(s.predicted_known),
        band=_(s.band), count=i18n.number(s.running_words), basis=_(mine.basis)))
    if st.button(_("Draw other new words"), key="gen_mine_draw_btn"):
        st.session_state["gen_mine_draw"] = draw + 1
        st.rerun()
    return replace(request, targets=mine.targets, extra={FROM_MY_WORDS: mine.to_json()})


@st.fragment(run_every=1.0)
def live_job(job_id: int) -> None:
    """Polls the job: place in line, the text as it streams, then hands over to the full view."""
    db, manager = database(), job_manager()
    job = store.get_job(db, job_id)
    if job["status"] not in ACTIVE:
        st.rerun()  # finished: redraw the whole page with the stored story
    live = manager.live(job_id)
    if job["status"] == "queued":
        st.info(_("Job #{id} is waiting; {count} ahead of it for this model.").format(
            id=job_id, count=i18n.number(store.queue_position(db, job_id))))
    elif job["kind"] == "batch":
        st.progress(job["done_count"] / max(job["total"], 1), text=_("{done} of {total} stories").format(
            done=i18n.number(job["done_count"]), total=i18n.number(job["total"])))
    else:
        n = len(live.pieces) if live else 1
        st.caption(_("Job #{id} is writing (candidate {n} of {total})… "
                     "You can leave this page: the story will be in your Library.").format(
            id=job_id, n=i18n.number(n), total=i18n.number(job["request"].get("n", 1))))
        st.text(live.text() if live else "")
    if st.button(_("Cancel"), key=f"gen_cancel_{job_id}"):
        manager.cancel(job_id)
        st.rerun()


def finished_job(job: dict) -> None:
    db = database()
    if job["status"] == "failed":
        st.error(job["error"] or _("The job failed."))
        return
    if job["status"] == "cancelled":
        st.warning(_("Job #{id} was cancelled.").format(id=job["id"]))
        return
    if job["warning"]:
        st.warning(job["warning"])
    if job["kind"] == "batch":
        saved = len(job["story_ids"])
        st.success(ngettext("Saved {count} story to your Library.", "Saved {count} stories to your Library.",
                            saved).format(count=i18n.number(saved)))
        st.dataframe(pd.DataFrame(job["candidates"]), hide_index=True, column_config=_headers(CANDIDATE_COLUMNS))
        return
    story = store.get_story(db, job["story_ids"][0]) if job["story_ids"] else None
    if story is None:
        st.info(_("The story was deleted."))
        return
    st.subheader(story["title"] or _("Your story"))
    st.caption(_("Story #{id} · {model} · saved to {name}'s Library").format(
        id=story["id"], model=_written_by(story), name=story["profile"] or _("guest")))
    plot_result(job, story["params"])
    personal_result(job["candidates"][0].get("personal") if job["candidates"] else None,
                    story["params"].get("extra", {}).get(FROM_MY_WORDS))
    show_analysis(cached_analyze(story["text"], targets=tuple(story["targets"])), list(DEFAULT_LEVELS), False, key="gen")
    if len(job["candidates"]) > 1:
        st.markdown(_("**Candidates** (best first: target coverage, then N1 density less repeated sentences)"))
        st.dataframe(pd.DataFrame([{k: v for k, v in c.items() if k != "personal"} for c in job["candidates"]]),
                     hide_index=True, column_config=_headers(CANDIDATE_COLUMNS))


def _written_by(story: dict) -> str:
    """The model that wrote the story with the engine that really ran it (the stored backend:
    transformers where a ct2 model fell back), "tiny · ct2 int8" or "tiny · transformers"."""
    name = registry.display_name(story["model"], story["backend"])
    return f"{name} · transformers" if story["backend"] == "hf" and name else name


def plot_result(job: dict, params: dict) -> None:
    """The premise and the story continued, as asked, and what this model did with them."""
    lines = []
    if params.get("continued_from") is not None:
        lines.append(_("Continues story #{id}: 前情提要「{summary}」").format(
            id=params["continued_from"], summary=params.get("continues", "")))
    if params.get("premise"):
        lines.append(_("Premise: {premise}").format(premise=params["premise"]))
    if lines:
        st.caption(" · ".join(lines) + " — " + _(PREMISE_NOTES.get(job["prompt_format"], PREMISE_NOTES["own"])))


def personal_result(personal: dict | None, plan: dict | None) -> None:
    """The open profile's real coverage of the new story and its new words; for a story from
    the student's words, the prediction beside it and the words that entered learning. A
    profile that has marked no word known sees the score card's hint instead: its coverage
    would count only the function words."""
    db, name = database(), profile()
    if not personal or not (plan or (db is not None and name and has_known_words(db, name))):
        return
    values = dict(percent=i18n.percent(personal["known"]), band=_(personal["band"]),
                  count=i18n.number(len(personal["new_words"])),
                  words="、".join(personal["new_words"][:40]) or _("none"))
    if plan:
        st.markdown(_("**Your coverage of this story**: {percent} known running words (predicted {predicted}) — "
                      "{band}. New words ({count}): {words}").format(
            predicted=i18n.percent(1 - plan["predicted_miss"]), **values))
        st.success(_("Now learning (the new target words it used): {words}.").format(
            words="、".join(personal["learning"]) or _("none")))
    else:
        st.markdown(_("**Your coverage of this story**: {percent} known running words — {band}. "
                      "New words ({count}): {words}").format(**values))


def batch_section(db: store.Database, spec: registry.ModelSpec, request: GenerationRequest | None,
                  targets: list[str]) -> None:
    with st.expander(_("Batch: several stories at once")):
        n = st.number_input(_("Stories"), 2, 50, 4, key="gen_batch_n")
        fresh = st.checkbox(_("Draw a new random word sample for each story"), key="gen_batch_fresh")
        if st.button(_("Start batch"), key="gen_batch_go", disabled=request is None):
            source = st.session_state.get("gen_source", "N1")
            words = _source_words(db, source) if fresh else []
            requests = [request.with_seed(None if request.seed is None else request.seed + i) for i in range(int(n))]
            if fresh:
                rng, size = random.Random(request.seed), min(len(targets) or 10, len(words))
                requests = [replace(r, targets=tuple(rng.sample(words, size))) for r in requests]
            st.session_state["gen_job"] = job_manager().submit_batch(spec, requests, profile())


def main() -> None:
    st.title(_("Generate"))
    db = database()
    if db is None:
        st.stop()
    targets = pick_words(db)
    request, spec, keep_all = settings_form(targets or [])
    request = plot_form(db, spec, request)
    if targets is None:
        request = my_words(db, spec, request)
    if st.button(_("Write a story"), key="gen_go", type="primary", disabled=request is None):
        st.session_state["gen_job"] = job_manager().submit(spec, request, profile(), keep_all)
    batch_section(db, spec, request, targets or [])
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
        with st.expander(_("My recent jobs")):
            rows = [{k: j[k] for k in JOB_COLUMNS} for j in recent]
            for row in rows:  # states and kinds in words, for display only
                row["status"] = _(STATUSES.get(row["status"], row["status"]))
                row["kind"] = _(KINDS.get(row["kind"], row["kind"]))
            st.dataframe(pd.DataFrame(rows), hide_index=True, column_config=_headers(JOB_COLUMNS))


main()
