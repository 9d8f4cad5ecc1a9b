"""Review desk (teachers): every story's N1 density and readability, models compared, rating
and comments in place, and the current selection exported for class."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from core import i18n, store
from core.render import DEFAULT_LEVELS
from core.auth import Role
from core.generation import registry
from core.i18n import N_, _, ngettext
from views.common import cached_analyze, cached_headword, database, flash, for_display
from views.panels import show_analysis
from views.sidebar import require_role
from views.students import students_tab

TABLE_LIMIT = 500  # rows drawn in the table; charts, aggregates and export cover every match
ORDERS = {"newest": N_("Newest"), "density": N_("N1 density"), "unique_n1": N_("Unique N1 words"),
          "length": N_("Length"), "rating": N_("Mean rating")}  # newest first: a desk works through new stories
MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}
# Stored in English (and compared by exports and tests); shown translated with format_func=_.
TAGS = [N_("natural"), N_("unnatural"), N_("too hard"), N_("too easy"), N_("good for class"),
        N_("grammar errors"), N_("off topic")]
SOURCE_LABELS = {"generated": N_("generated"), "pasted": N_("pasted"), "imported": N_("imported")}
NO_MODEL = N_("(no model)")  # pasted and imported stories have an empty model; shown with _


def _model_label(model: str, engine: str = "") -> str:
    """A model's display name with its engine where that is CTranslate2 ("tiny · ct2 int8"), so
    one model's stories on each engine are told apart; never a server path (exports keep the id
    beside it)."""
    return registry.display_name(model, engine) or _(NO_MODEL)


def _option_label(option: tuple[str, str]) -> str:
    return _model_label(*option)


def _model_labels(df: pd.DataFrame) -> pd.Series:
    """_model_label for a table's model and engine columns, reading the registry once."""
    names = registry.display_names(df["model"].unique())
    no_model = _(NO_MODEL)
    engines = df["engine"] if "engine" in df else pd.Series("", index=df.index)
    return pd.Series([registry.with_engine(names[m], e) if names[m] else no_model
                      for m, e in zip(df["model"], engines)], index=df.index, dtype=object)


def _source_label(source: str) -> str:
    return _(SOURCE_LABELS[source]) if source in SOURCE_LABELS else source


def _filters(db: store.Database) -> tuple[store.StoryFilter, set[tuple[str, str]]]:
    """The filter for the store and the (model, engine) pairs picked (empty: every one)."""
    models = [(r["model"], r["engine"]) for r in store.model_aggregates(db)]
    profiles = store.profiles(db)
    with st.expander(_("Filters"), expanded=True):
        c1, c2, c3 = st.columns(3)
        chosen = c1.multiselect(_("Models"), models, format_func=_option_label, key="rev_models",
                                placeholder=_("All models"))
        source = c2.selectbox(_("Source"), store.SOURCES, index=None, key="rev_source", format_func=_source_label,
                              placeholder=_("Any source"))
        profile = c3.selectbox(_("Profile"), profiles, index=None, key="rev_profile", placeholder=_("All profiles"))
        c4, c5 = st.columns(2)
        low, high = c4.slider(_("N1 density (%)"), 0.0, 100.0, (0.0, 100.0), step=0.5, key="rev_density")
        dates = c5.date_input(_("Created between"), value=(), key="rev_dates")
        c6, c7 = st.columns(2)
        search = c6.text_input(_("Search title and text"), key="rev_search")
        word = c7.text_input(_("Uses the word"), key="rev_word", placeholder=_("e.g. 促す"),
                             help=_("A dictionary form; conjugated uses count too (促す finds 促した)."))
    since, until = (tuple(dates) + (None, None))[:2]
    return store.StoryFilter(
        profile=profile, source=source, search=search.strip() or None, word=cached_headword(word),
        models=tuple(dict.fromkeys(m for m, _e in chosen)), min_density=low if low > 0 else None,
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


def _table_columns() -> dict:
    """The stories table's headers, in the language in use, over the stored column names."""
    return {
        "id": st.column_config.NumberColumn(_("ID"), format="%d"),
        "created": st.column_config.DatetimeColumn(_("Created"), format="YYYY-MM-DD HH:mm"),
        "profile": _("profile"),
        "source": _("source"),
        "model": _("model"),
        "title": _("title"),
        "length": _("length"),
        "n1_density": st.column_config.NumberColumn(_("N1 density"), format="%.1f%%"),
        "unique_n1": st.column_config.NumberColumn(_("Unique N1")),
        "n1_per_1000": st.column_config.NumberColumn(_("N1 / 1,000 chars"), format="%.1f"),
        "coverage": _("Target coverage"),
        "readability": _("Readability"),
        "readability_band": _("Band"),
        "rating": _("Rating"),
        "reviews": st.column_config.NumberColumn(_("Reviews")),
    }


def _table(df: pd.DataFrame) -> None:
    if len(df) > TABLE_LIMIT:
        st.caption(_("Showing the first {shown} of {total} stories in this order; the charts, "
                     "per-model table and export cover all of them.").format(
                         shown=i18n.number(TABLE_LIMIT), total=i18n.number(len(df))))
    st.dataframe(_for_display(df.head(TABLE_LIMIT)), hide_index=True, column_config=_table_columns(),
                 key="rev_table")


def _for_display(shown: pd.DataFrame) -> pd.DataFrame:
    """Model names (with a CTranslate2 engine) instead of ids; figures as text with a dash where
    a story has none."""
    out = shown.assign(model=_model_labels(shown)).drop(columns="engine", errors="ignore")
    if "source" in out:  # the stored words, shown in the language in use
        out = out.assign(source=[_source_label(s) if isinstance(s, str) else s for s in out["source"]])
    if "readability_band" in out:
        out = out.assign(readability_band=[_(b) if isinstance(b, str) and b else b for b in out["readability_band"]])
    if "reviews" in out:
        out = out.assign(reviews=out["reviews"].fillna(0).astype(int))
    return for_display(out, {"coverage": "{:.0%}", "rating": "{:.1f} ★", "readability": "{:.2f}"})


def _export(db: store.Database, f: store.StoryFilter, df: pd.DataFrame) -> None:
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    fmt = c1.radio(_("Export format"), store.EXPORT_FORMATS, horizontal=True, key="rev_fmt",
                   format_func=str.upper)
    # The stories shown, in the order shown, with their reviews; each model's id and its name.
    ids = df["id"].tolist()
    # Deferred: the file is built when the button is pressed, not on every rerun of the page.
    label = ngettext("Download {count} story", "Download {count} stories", len(df)).format(
        count=i18n.number(len(df)))
    c2.download_button(label,
                       lambda: store.export_bytes(db, fmt, f, ids=ids, model_name=registry.display_name),
                       file_name=f"nonestory-stories-{date.today():%Y%m%d}.{fmt}", mime=MIME[fmt],
                       key="rev_download", icon=":material/download:")


def _charts(df: pd.DataFrame, aggs: pd.DataFrame) -> None:
    df = df.assign(model=_model_labels(df))
    c1, c2 = st.columns(2)
    box = px.box(df, x="model", y="n1_density", color="model", points="outliers",
                 labels={"model": _("Model"), "n1_density": _("N1 density (%)")}, title=_("N1 density per model"))
    c1.plotly_chart(box.update_layout(showlegend=False), key="rev_density_box")
    scatter = px.scatter(df, x="length", y="n1_density", color="model", hover_data=["id", "title"],
                         labels={"length": _("Length (characters)"), "n1_density": _("N1 density (%)"),
                                 "model": _("Model"), "id": _("id"), "title": _("title")}, title=_("N1 density against length"))
    c2.plotly_chart(scatter, key="rev_scatter")
    rated = aggs.dropna(subset=["mean_rating"]).assign(model=_model_labels)
    if rated.empty:
        st.caption(_("No ratings yet: the mean rating per model appears once stories are reviewed."))
    else:
        bar = px.bar(rated, x="model", y="mean_rating", range_y=[0, 5], title=_("Mean rating per model"),
                     labels={"model": _("Model"), "mean_rating": _("Mean rating (1–5)")})
        st.plotly_chart(bar, key="rev_rating_bar")
    shown = aggs.assign(model=_model_labels(aggs)).drop(columns="engine")
    st.dataframe(for_display(shown, {"mean_rating": "{:.2f} ★"}),
                 hide_index=True, key="rev_aggregates",
                 column_config={"mean_density": st.column_config.NumberColumn(_("Mean density"), format="%.2f%%"),
                                "median_density": st.column_config.NumberColumn(_("Median density"),
                                                                                format="%.2f%%"),
                                "mean_unique_n1": _("Mean unique N1 words"), "mean_length": _("Mean length (chars)"),
                                "model": _("Model"), "stories": _("Stories"), "mean_rating": _("Mean rating")})
    if aggs["engine"].astype(bool).any():
        st.caption(_("A model's stories written by the CTranslate2 int8 engine are counted apart from its "
                     "transformers stories (“· ct2 int8”), so the two engines can be compared."))


def _save_review(story_id: int) -> None:
    """Form callback: runs before the rerun, so the table drawn next already has the rating."""
    state = st.session_state
    rating = state.get("rev_rating")
    if rating is None:
        state["_rev_result"] = ("error", _("Choose a rating from 1 to 5 stars before saving."))
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
    state["_rev_result"] = ("success", _("Saved your {rating}★ review of story #{story_id}.").format(
        rating=rating, story_id=story_id))


def _review_form(story_id: int) -> None:
    with st.form("rev_form"):
        st.radio(_("Rating"), [1, 2, 3, 4, 5], index=None, horizontal=True, key="rev_rating",
                 format_func=lambda n: "★" * n)
        st.multiselect(_("Tags"), TAGS, accept_new_options=True, key="rev_tags", format_func=_,
                       placeholder=_("Pick or type tags"))
        st.text_area(_("Comment"), key="rev_comment", height=90)
        st.form_submit_button(_("Save review"), key="rev_save", type="primary", on_click=_save_review,
                              args=(story_id,))
    st.caption(_("Saving again replaces your earlier review of this story."))
    flash("_rev_result")


def _story(db: store.Database, df: pd.DataFrame) -> None:
    shown = df.head(TABLE_LIMIT)
    titles = dict(zip(shown["id"], shown["title"]))
    untitled = _("(untitled)")
    story_id = st.selectbox(_("Story"), list(titles), key="rev_story",
                            format_func=lambda i: f"#{i} · {titles.get(i) or untitled}")
    story = store.get_story(db, story_id) if story_id is not None else None
    if story is None:
        st.info(_("Pick a story from the table's selection."))
        return
    who = story["profile"] or _("(no profile)")
    st.caption(f"{who} · {_source_label(story['source'])} · "
               f"{_model_label(story['model'], story['backend'])} · {story['created']:%Y-%m-%d %H:%M}")
    furigana = st.toggle(_("Furigana"), key="rev_furigana")
    show_analysis(cached_analyze(story["text"], targets=tuple(story["targets"] or ())), list(DEFAULT_LEVELS), furigana, key="rev")
    reviews = store.reviews_for(db, story_id)
    if reviews:
        st.dataframe(reviews, hide_index=True, key="rev_reviews", column_config={
            "reviewer": _("reviewer"),
            "rating": st.column_config.NumberColumn(_("Rating"), format="%d ★"),
            "tags": st.column_config.ListColumn(_("Tags")),
            "comment": _("comment"),
            "updated": _("updated")})
    else:
        st.caption(_("No reviews of this story yet."))
    _review_form(story_id)


def main() -> None:
    require_role(Role.TEACHER)
    st.title(_("Review desk"))
    db = database()
    if db is None:
        return
    if store.count_stories(db) == 0:
        st.info(_("No stories yet. Stories appear here once students save or generate them."))
        with st.expander(_("Students"), expanded=True):
            students_tab(db)
        return
    f, pairs = _filters(db)
    order = st.selectbox(_("Sort by"), list(ORDERS), format_func=lambda o: _(ORDERS[o]), key="rev_order")
    df = _rows(db, f, order, pairs)
    stories, models, rate, students = st.tabs([_("Stories"), _("Models"), _("Rate and comment"), _("Students")])
    with students:
        students_tab(db)
    if df.empty:
        with stories:
            st.info(_("No stories match these filters."))
        return
    with stories:
        _table(df)
        _export(db, f, df)
    with models:
        _charts(df, _aggregates(db, f, pairs))
    with rate:
        _story(db, df)


main()
