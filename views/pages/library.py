"""Library: a student's own stories — find, open, delete and restore — and the N1 words met so far."""
from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import i18n, store
from core.coverage import NO_KNOWN_WORDS, count_old_stories
from core.store.coverage import has_known_words, refresh
from core.render import DEFAULT_LEVELS
from core.vocab import LEVELS, jlpt, level_sizes
from core.generation import registry
from core.i18n import N_, _, ngettext
from views.common import cached_analyze, cached_headword, database, in_words, profile
from views.panels import show_analysis

PAGE = 20  # stories per table page
_PAGE_NO = "_lib_page"  # 0-based table page (not a widget: Previous/Next move it)
_DELETED = "_lib_deleted"  # id of the story just deleted, while its Undo is on offer
_NOTICE = "_lib_notice"  # one success line to show on the next run: (what happened, story id or count)
# Headers the tables show (translated) over the column names the code and tests keep.
COLUMNS = {"id": N_("id"), "created": N_("created"), "title": N_("title"), "model": N_("model"),
           "source": N_("source"), "N1 density": N_("N1 density"), "unique N1": N_("unique N1"),
           "length": N_("length"), "known": N_("known"), "new words": N_("new words"), "word": N_("word"),
           "reading": N_("reading"), "count": N_("count"), "stories": N_("stories"), "first seen": N_("first seen")}
SOURCES = {"generated": N_("generated"), "pasted": N_("pasted"), "imported": N_("imported")}


@st.cache_resource(show_spinner=False)
def _n1_total() -> int:
    return level_sizes(jlpt())["N1"]


def _label(row: dict) -> str:
    return (row.get("title") or row["text"][:30]).strip() or _("(empty)")


def _source(source: str) -> str:
    """A story's source in words (the stored value stays English)."""
    return _(SOURCES[source]) if source in SOURCES else source


def _header(col: str) -> str:
    return _(COLUMNS[col])


# --- callbacks: they run before the page, so the lists below already show the change ---

def _delete(db: store.Database, story_id: int) -> None:
    if store.delete_story(db, story_id):
        st.session_state[_DELETED] = story_id
        st.session_state["lib_open"] = None


def _restore(db: store.Database, story_id: int | None) -> None:
    if story_id is not None and store.restore_story(db, story_id):
        st.session_state[_NOTICE] = ("restored", story_id)  # put in words when shown, in the page's language
        st.session_state["lib_open"] = story_id  # shown again if it is on this table page
    if st.session_state.get(_DELETED) == story_id:
        st.session_state.pop(_DELETED)


def _purge(db: store.Database, name: str) -> None:
    removed = store.purge_deleted(db, name)  # `name` is never empty here: None would purge everyone's
    st.session_state.pop(_DELETED, None)
    st.session_state[_NOTICE] = ("purged", removed)


def _first_page() -> None:
    st.session_state[_PAGE_NO] = 0


def _turn(step: int) -> None:
    st.session_state[_PAGE_NO] = st.session_state.get(_PAGE_NO, 0) + step


# --- the page ---

def _notices(db: store.Database) -> None:
    if notice := st.session_state.pop(_NOTICE, None):
        what, n = notice
        st.success(_("Restored story #{id}.").format(id=n) if what == "restored" else
                   ngettext("Removed {count} story for good.", "Removed {count} stories for good.", n)
                   .format(count=i18n.number(n)))
    story_id = st.session_state.get(_DELETED)
    if story_id is not None:
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.success(_("Moved story #{id} to the bin.").format(id=story_id))
        c2.button(_("Undo"), key="lib_undo", on_click=_restore, args=(db, story_id))


def _filters(db: store.Database, name: str) -> store.StoryFilter:
    c1, c2 = st.columns(2)
    search = c1.text_input(_("Search titles and text"), key="lib_search", on_change=_first_page)
    word = c2.text_input(_("Uses the word"), key="lib_word", placeholder="促す", on_change=_first_page,
                         help=_("A dictionary form; conjugated uses count too (促す finds 促した)."))
    rows = store.list_stories(db, store.StoryFilter(profile=name), limit=None, columns=("model",))
    models = sorted({r["model"] for r in rows if r["model"]})
    c3, c4 = st.columns(2)
    names = registry.display_names(models) | {"any": _("any")}  # made now: AppTest formats outside the run
    model = c3.selectbox(_("Model"), ["any", *models], key="lib_model", on_change=_first_page,
                         format_func=lambda m: names.get(m, m))
    low, high = c4.slider(_("N1 density (%)"), 0, 100, (0, 100), key="lib_density", on_change=_first_page)
    c5, c6 = st.columns(2)
    dates = c5.date_input(_("Created between"), value=(), key="lib_dates", on_change=_first_page)
    since = dates[0] if len(dates) >= 1 else None
    until = dates[1] + timedelta(days=1) if len(dates) == 2 else None  # the store's `until` is exclusive
    knows = has_known_words(db, name)
    readable = c6.selectbox(_("I can read"), list(READABLE), key="lib_readable", on_change=_first_page,
                            format_func=in_words(READABLE), disabled=not knows,
                            help=_("Known running words, from the words you marked known. "
                                   "95%: reading without help; 98%: comfortable reading."))
    return store.StoryFilter(profile=name, search=search.strip() or None, word=cached_headword(word),
                             models=() if model == "any" else (model,), min_density=low or None,
                             max_density=None if high == 100 else high, since=since, until=until,
                             reader=name if knows else None, min_known=READABLE[readable] if knows else None)


# Option values (and session state) stay English; the widgets show them with `_`.
READABLE = {N_("any story"): None, N_("95% known or more"): 0.95, N_("98% known or more"): 0.98}
ORDERS = {N_("Newest first"): "newest", N_("Most known first"): "coverage"}


def _coverage_cells(row: dict, f: store.StoryFilter) -> dict:
    if not f.reader:
        return {}
    missing = row.get("miss_rate") is None
    return {"known": None if missing else round(100 * (1 - row["miss_rate"]), 1), "new words": row.get("new_words")}


def _story_table(db: store.Database, f: store.StoryFilter) -> list[dict]:
    total = store.count_stories(db, f)
    if not total:
        st.info(_("No stories match. Save texts from the Reader (or generate one) and they appear here."))
        return []
    pages = math.ceil(total / PAGE)
    page = st.session_state[_PAGE_NO] = min(max(st.session_state.get(_PAGE_NO, 0), 0), pages - 1)
    order = ORDERS[st.session_state.get("lib_order", "Newest first")] if f.reader else "newest"
    rows = store.list_stories(db, f, order=order, limit=PAGE, offset=page * PAGE,
                              columns=("id", "created", "title", "text", "model", "source", "n1_density",
                                       "unique_n1", "length", "miss_rate", "new_words"))
    names = registry.display_names(r["model"] for r in rows)
    table = pd.DataFrame([{"id": r["id"], "created": r["created"], "title": _label(r), "model": names[r["model"]],
                           "source": _source(r["source"]), "N1 density": r["n1_density"], "unique N1": r["unique_n1"],
                           "length": r["length"]} | _coverage_cells(r, f) for r in rows])
    st.dataframe(table, hide_index=True, key="lib_table", column_config={col: _header(col) for col in table.columns} | {
        "created": st.column_config.DatetimeColumn(_header("created"), format="YYYY-MM-DD HH:mm"),
        "N1 density": st.column_config.NumberColumn(_header("N1 density"), format="%.1f%%"),
        "known": st.column_config.NumberColumn(_header("known"), format="%.1f%%",
                                               help=_("Known running words (1 − token miss rate)"))})
    if pages > 1:
        c1, c2, c3 = st.columns([1, 2, 1], vertical_alignment="center")
        c1.button(_("Previous"), key="lib_prev", on_click=_turn, args=(-1,), disabled=page == 0)
        c2.caption(ngettext("Page {page} of {pages} · {count} story", "Page {page} of {pages} · {count} stories",
                            total).format(page=i18n.number(page + 1), pages=i18n.number(pages),
                                          count=i18n.number(total)))
        c3.button(_("Next"), key="lib_next", on_click=_turn, args=(1,), disabled=page == pages - 1)
    return rows


def _open_story(db: store.Database, rows: list[dict]) -> None:
    labels = {r["id"]: f"#{r['id']} · {_label(r)}" for r in rows}
    story_id = st.selectbox(_("Open a story"), list(labels), index=None, format_func=labels.get,
                            key="lib_open", placeholder=_("Choose a story to read"))
    story = store.get_story(db, story_id) if story_id is not None else None
    if story is None:
        return
    st.subheader(story["title"] or _label(story))
    st.caption(f"#{story['id']} · {story['created']:%Y-%m-%d %H:%M} · {_source(story['source'])}"
               + (f" · {registry.display_name(story['model'])}" if story["model"] else ""))
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    levels = c1.multiselect(_("Highlight levels"), list(reversed(LEVELS)), default=list(DEFAULT_LEVELS),
                            key="lib_levels", placeholder=_("Choose…"))
    furigana = c2.toggle(_("Furigana"), key="lib_furigana")
    c3.button(_("Delete"), key="lib_delete", on_click=_delete, args=(db, story["id"]))
    show_analysis(cached_analyze(story["text"], targets=tuple(story["targets"] or ())), levels, furigana, key="lib")


def _bin(db: store.Database, name: str) -> None:
    f = store.StoryFilter(profile=name, deleted=True)
    rows = store.list_stories(db, f, order="newest", limit=200, columns=("id", "title", "text", "deleted_at"))
    with st.expander(_("Bin ({count})").format(count=i18n.number(store.count_stories(db, f))), key="lib_bin"):
        if not rows:
            st.caption(_("The bin is empty. Deleted stories wait here until you empty it."))
            return
        labels = {r["id"]: _("#{id} · {title} (deleted {date})").format(
            id=r["id"], title=_label(r), date=f"{r['deleted_at']:%Y-%m-%d}") for r in rows}
        pick = st.selectbox(_("Deleted story"), list(labels), format_func=labels.get, key="lib_bin_pick")
        c1, c2 = st.columns(2)
        c1.button(_("Restore"), key="lib_restore", on_click=_restore, args=(db, pick))
        c2.button(_("Empty bin"), key="lib_purge", on_click=_purge, args=(db, name), type="primary",
                  help=_("Removes every story in your bin for good."))


def _progress_chart(met: pd.DataFrame, total: int) -> go.Figure:
    per_day = met["first_seen"].dt.normalize().value_counts().sort_index().cumsum()
    fig = go.Figure(go.Scatter(x=per_day.index, y=per_day.values, mode="lines+markers", line_shape="hv",
                               name=_("N1 words met")))
    fig.add_hline(y=total, line_dash="dot",
                  annotation_text=_("all N1 words ({count})").format(count=i18n.number(total)))
    fig.update_layout(yaxis_title=_("distinct N1 words"), xaxis_title=_("first seen"), showlegend=False,
                      margin=dict(l=10, r=10, t=30, b=10), height=320)
    # Dates, never times: with a few days of data plotly would zoom the axis to milliseconds.
    first, last = per_day.index.min(), per_day.index.max()
    if (last - first).days < 7:
        pad = pd.Timedelta(days=3)
        fig.update_xaxes(range=[first - pad, last + pad], dtick=86_400_000)
    fig.update_xaxes(type="date", tickformat="%Y-%m-%d")
    return fig


def _words_met(db: store.Database, name: str) -> None:
    rows = store.words_met(db, name, "N1")
    if not rows:
        st.info(_("No N1 words yet. Every N1 word in the stories you keep is counted here."))
        return
    met = pd.DataFrame(rows).rename(columns={"first_seen": "first seen"})
    total = _n1_total()
    st.markdown(_("**{count} / {total} N1 words met**").format(count=i18n.number(len(met)),
                                                               total=i18n.number(total)))
    st.progress(min(len(met) / total, 1.0) if total else 0.0)
    st.plotly_chart(_progress_chart(met.rename(columns={"first seen": "first_seen"}), total),
                    key="lib_progress_chart")
    st.dataframe(met[["word", "reading", "count", "stories", "first seen"]], hide_index=True,
                 key="lib_met_table", column_config={col: _header(col) for col in met.columns if col in COLUMNS} | {
                     "first seen": st.column_config.DatetimeColumn(_header("first seen"), format="YYYY-MM-DD")})


def main() -> None:
    st.title(_("Library"))
    name = profile()
    if not name:
        st.info(_("Open your profile in the sidebar to see your stories."))
        st.stop()
    db = database()
    if db is None:
        st.stop()
    stories, words = st.tabs([_("Stories"), _("Words I have met")], key="lib_tabs")
    with stories:
        _notices(db)
        count_old_stories(db)  # stories kept before coverage existed get their headwords counted once
        refresh(db, name)
        f = _filters(db, name)
        if f.reader:
            st.radio(_("Order"), list(ORDERS), key="lib_order", horizontal=True, on_change=_first_page,
                     format_func=in_words(ORDERS))
        else:
            st.caption(_(NO_KNOWN_WORDS))
        rows = _story_table(db, f)
        if rows:
            _open_story(db, rows)
        _bin(db, name)
    with words:
        _words_met(db, name)


main()
