"""Review desk (teachers): every story's N1 density and readability, models compared, rating
and comments in place, and the current selection exported for class."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from core import store
from core.render import DEFAULT_LEVELS
from core.auth import Role
from core.generation import registry
from views.common import cached_analyze, cached_headword, database, flash, for_display
from views.panels import show_analysis
from views.sidebar import require_role
from views.students import students_tab

TABLE_LIMIT = 500  # rows drawn in the table; charts, aggregates and export cover every match
ORDERS = {"newest": "Newest", "density": "N1 density", "unique_n1": "Unique N1 words",
          "length": "Length", "rating": "Mean rating"}  # newest first: a desk works through new stories
MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}
TAGS = ["natural", "unnatural", "too hard", "too easy", "good for class", "grammar errors", "off topic"]
NO_MODEL = "(no model)"  # pasted and imported stories have an empty model


def _model_label(model: str, engine: str = "") -> str:
    """A model's display name with its engine where that is CTranslate2 ("tiny · ct2 int8"), so
    one model's stories on each engine are told apart; never a server path (exports keep the id
    beside it)."""
    return registry.display_name(model, engine) or NO_MODEL


def _option_label(option: tuple[str, str]) -> str:
    return _model_label(*option)


def _model_labels(df: pd.DataFrame) -> pd.Series:
    """_model_label for a table's model and engine columns, reading the registry once."""
    names = registry.display_names(df["model"].unique())
    engines = df["engine"] if "engine" in df else pd.Series("", index=df.index)
    return pd.Series([registry.with_engine(names[m], e) if names[m] else NO_MODEL
                      for m, e in zip(df["model"], engines)], index=df.index, dtype=object)


def _filters(db: store.Database) -> tuple[store.StoryFilter, set[tuple[str, str]]]:
    """The filter for the store and the (model, engine) pairs picked (empty: every one)."""
    models = [(r["model"], r["engine"]) for r in store.model_aggregates(db)]
    profiles = store.profiles(db)
    with st.expander("Filters", expanded=True):
        c1, c2, c3 = st.columns(3)
        chosen = c1.multiselect("Models", models, format_func=_option_label, key="rev_models",
                                placeholder="All models")
        source = c2.selectbox("Source", store.SOURCES, index=None, key="rev_source", placeholder="Any source")
        profile = c3.selectbox("Profile", profiles, index=None, key="rev_profile", placeholder="All profiles")
        c4, c5 = st.columns(2)
        low, high = c4.slider("N1 density (%)", 0.0, 100.0, (0.0, 100.0), step=0.5, key="rev_density")
        dates = c5.date_input("Created between", value=(), key="rev_dates")
        c6, c7 = st.columns(2)
        search = c6.text_input("Search title and text", key="rev_search")
        word = c7.text_input("Uses the word", key="rev_word", placeholder="e.g. 促す",
                             help="A dictionary form; conjugated uses count too (促す finds 促した).")
    since, until = (tuple(dates) + (None, None))[:2]
    return store.StoryFilter(
        profile=profile, source=source, search=search.strip() or None, word=cached_headword(word),
        models=tuple(dict.fromkeys(m for m, _ in chosen)), min_density=low if low > 0 else None,
        max_density=high if high < 100 else None, since=since,
        until=until + timedelta(days=1) if until else None), set(chosen)  # until is exclusive


def _picked(frame: pd.DataFrame, pairs: set[tuple[str, str]]) -> pd.DataFrame:
    """The rows of the (model, engine) pairs picked: the store filters by model only, and a
    model may have stories on two engines."""
    if not pairs or frame.empty:
        return frame
    return frame[[(m, e) in pairs for m, e in zip(frame["model"], frame["engine"])]]


def _rows(db: store.Database, f: store.StoryFilter, order: str, pairs: set[tuple[str, str]]) -> pd.DataFrame:
    return _picked(pd.DataFrame(store.review_table(db, f, order=order, limit=None)), pairs)


def _aggregates(db: store.Database, f: store.StoryFilter, pairs: set[tuple[str, str]]) -> pd.DataFrame:
    return _picked(pd.DataFrame(store.model_aggregates(db, f)), pairs)


TABLE_COLUMNS = {
    "id": st.column_config.NumberColumn("ID", format="%d"),
    "created": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
    "n1_density": st.column_config.NumberColumn("N1 density", format="%.1f%%"),
    "unique_n1": st.column_config.NumberColumn("Unique N1"),
    "n1_per_1000": st.column_config.NumberColumn("N1 / 1,000 chars", format="%.1f"),
    "coverage": "Target coverage",
    "readability": "Readability",
    "readability_band": "Band",
    "rating": "Rating",
    "reviews": st.column_config.NumberColumn("Reviews"),
}


def _table(df: pd.DataFrame) -> None:
    if len(df) > TABLE_LIMIT:
        st.caption(f"Showing the first {TABLE_LIMIT:,} of {len(df):,} stories in this order; the charts, "
                   "per-model table and export cover all of them.")
    st.dataframe(_for_display(df.head(TABLE_LIMIT)), hide_index=True, column_config=TABLE_COLUMNS, key="rev_table")


def _for_display(shown: pd.DataFrame) -> pd.DataFrame:
    """Model names (with a CTranslate2 engine) instead of ids; figures as text with a dash where
    a story has none."""
    out = shown.assign(model=_model_labels(shown)).drop(columns="engine", errors="ignore")
    if "reviews" in out:
        out = out.assign(reviews=out["reviews"].fillna(0).astype(int))
    return for_display(out, {"coverage": "{:.0%}", "rating": "{:.1f} ★", "readability": "{:.2f}"})


def _export(db: store.Database, f: store.StoryFilter, df: pd.DataFrame) -> None:
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    fmt = c1.radio("Export format", store.EXPORT_FORMATS, horizontal=True, key="rev_fmt",
                   format_func=str.upper)
    # The stories shown, in the order shown, with their reviews; each model's id and its name.
    ids = df["id"].tolist()
    # Deferred: the file is built when the button is pressed, not on every rerun of the page.
    c2.download_button(f"Download {len(df):,} {'story' if len(df) == 1 else 'stories'}",
                       lambda: store.export_bytes(db, fmt, f, ids=ids, model_name=registry.display_name),
                       file_name=f"nonestory-stories-{date.today():%Y%m%d}.{fmt}", mime=MIME[fmt],
                       key="rev_download", icon=":material/download:")


def _charts(df: pd.DataFrame, aggs: pd.DataFrame) -> None:
    df = df.assign(model=_model_labels(df))
    c1, c2 = st.columns(2)
    box = px.box(df, x="model", y="n1_density", color="model", points="outliers",
                 labels={"model": "Model", "n1_density": "N1 density (%)"}, title="N1 density per model")
    c1.plotly_chart(box.update_layout(showlegend=False), key="rev_density_box")
    scatter = px.scatter(df, x="length", y="n1_density", color="model", hover_data=["id", "title"],
                         labels={"length": "Length (characters)", "n1_density": "N1 density (%)",
                                 "model": "Model"}, title="N1 density against length")
    c2.plotly_chart(scatter, key="rev_scatter")
    rated = aggs.dropna(subset=["mean_rating"]).assign(model=_model_labels)
    if rated.empty:
        st.caption("No ratings yet: the mean rating per model appears once stories are reviewed.")
    else:
        bar = px.bar(rated, x="model", y="mean_rating", range_y=[0, 5], title="Mean rating per model",
                     labels={"model": "Model", "mean_rating": "Mean rating (1–5)"})
        st.plotly_chart(bar, key="rev_rating_bar")
    shown = aggs.assign(model=_model_labels(aggs)).drop(columns="engine")
    st.dataframe(for_display(shown, {"mean_rating": "{:.2f} ★"}),
                 hide_index=True, key="rev_aggregates",
                 column_config={"mean_density": st.column_config.NumberColumn("Mean density", format="%.2f%%"),
                                "median_density": st.column_config.NumberColumn("Median density",
                                                                                format="%.2f%%"),
                                "mean_unique_n1": "Mean unique N1 words", "mean_length": "Mean length (chars)",
                                "model": "Model", "stories": "Stories", "mean_rating": "Mean rating"})
    if aggs["engine"].astype(bool).any():
        st.caption("A model's stories written by the CTranslate2 int8 engine are counted apart from its "
                   "transformers stories (“· ct2 int8”), so the two engines can be compared.")


def _save_review(story_id: int) -> None:
    """Form callback: runs before the rerun, so the table drawn next already has the rating."""
    state = st.session_state
    rating = state.get("rev_rating")
    if rating is None:
        state["_rev_result"] = ("error", "Choose a rating from 1 to 5 stars before saving.")
        return
    db = database()
    if db is None:
        return
    try:
        store.save_review(db, story_id, reviewer=state.get("user", "teacher"), rating=rating,
                          tags=state.get("rev_tags") or [], comment=state.get("rev_comment", "").strip())
    except store.StoreError as exc:
        state["_rev_result"] = ("error", str(exc))
        return
    state["_rev_result"] = ("success", f"Saved your {rating}★ review of story #{story_id}.")


def _review_form(story_id: int) -> None:
    with st.form("rev_form"):
        st.radio("Rating", [1, 2, 3, 4, 5], index=None, horizontal=True, key="rev_rating",
                 format_func=lambda n: "★" * n)
        st.multiselect("Tags", TAGS, accept_new_options=True, key="rev_tags",
                       placeholder="Pick or type tags")
        st.text_area("Comment", key="rev_comment", height=90)
        st.form_submit_button("Save review", key="rev_save", type="primary", on_click=_save_review,
                              args=(story_id,))
    st.caption("Saving again replaces your earlier review of this story.")
    flash("_rev_result")


def _story(db: store.Database, df: pd.DataFrame) -> None:
    shown = df.head(TABLE_LIMIT)
    titles = dict(zip(shown["id"], shown["title"]))
    story_id = st.selectbox("Story", list(titles), key="rev_story",
                            format_func=lambda i: f"#{i} · {titles.get(i) or '(untitled)'}")
    story = store.get_story(db, story_id) if story_id is not None else None
    if story is None:
        st.info("Pick a story from the table's selection.")
        return
    st.caption(f"{story['profile'] or '(no profile)'} · {story['source']} · "
               f"{_model_label(story['model'], story['backend'])} · {story['created']:%Y-%m-%d %H:%M}")
    furigana = st.toggle("Furigana", key="rev_furigana")
    show_analysis(cached_analyze(story["text"], targets=tuple(story["targets"] or ())), list(DEFAULT_LEVELS), furigana, key="rev")
    reviews = store.reviews_for(db, story_id)
    if reviews:
        st.dataframe(reviews, hide_index=True, key="rev_reviews", column_config={
            "rating": st.column_config.NumberColumn("Rating", format="%d ★"),
            "tags": st.column_config.ListColumn("Tags")})
    else:
        st.caption("No reviews of this story yet.")
    _review_form(story_id)


def main() -> None:
    require_role(Role.TEACHER)
    st.title("Review desk")
    db = database()
    if db is None:
        return
    if store.count_stories(db) == 0:
        st.info("No stories yet. Stories appear here once students save or generate them.")
        with st.expander("Students", expanded=True):
            students_tab(db)
        return
    f, pairs = _filters(db)
    order = st.selectbox("Sort by", list(ORDERS), format_func=ORDERS.get, key="rev_order")
    df = _rows(db, f, order, pairs)
    stories, models, rate, students = st.tabs(["Stories", "Models", "Rate and comment", "Students"])
    with students:
        students_tab(db)
    if df.empty:
        with stories:
            st.info("No stories match these filters.")
        return
    with stories:
        _table(df)
        _export(db, f, df)
    with models:
        _charts(df, _aggregates(db, f, pairs))
    with rate:
        _story(db, df)


main()
