"""Teachers' reviews and the Review desk's queries."""
from __future__ import annotations

from collections.abc import Sequence

from core.i18n import _
from core.store.db import Database, StoreError
from core.store.stories import _ORDERS, StoryFilter

REVIEW_COLUMNS = ("id", "created", "profile", "source", "model", "title", "length", "n1_density", "unique_n1",
                  "n1_per_1000", "coverage", "readability", "readability_band")
# Engines whose stories count apart from the same model's other stories: a model on CTranslate2
# int8 is compared with itself on transformers. Every other backend is one per model anyway
# (hf, openai, examples), and older or imported stories may have none recorded.
SEPARATE_ENGINES = ("ct2",)
_ENGINE = (f"CASE WHEN s.backend IN ({', '.join(repr(e) for e in SEPARATE_ENGINES)}) THEN s.backend "
           "ELSE '' END")
_REVIEW_ORDERS = _ORDERS | {"rating": "rating DESC NULLS LAST, s.id DESC", "coverage": "s.coverage DESC NULLS LAST",
                            "readability": "s.readability NULLS LAST"}


def save_review(db: Database, story_id: int, reviewer: str, rating: int, tags: Sequence[str] = (),
                comment: str = "") -> None:
    """One review per story and reviewer; saving again replaces it."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise StoreError(_("A rating is a whole number from 1 to 5."))
    clean_tags = sorted({t.strip() for t in tags if t and t.strip()})
    with db.transaction() as con:  # the existence check and the write see the same state
        if not con.execute("SELECT count(*) FROM stories WHERE id = ? AND deleted_at IS NULL",
                           [story_id]).fetchone()[0]:
            raise StoreError(_("Story {id} does not exist or was deleted.").format(id=story_id))
        con.execute("INSERT OR REPLACE INTO reviews (story_id, reviewer, rating, tags, comment, updated) "
                    "VALUES (?, ?, ?, ?, ?, current_timestamp)", [story_id, reviewer, rating, clean_tags, comment])


def reviews_for(db: Database, story_id: int) -> list[dict]:
    return db.rows("SELECT reviewer, rating, tags, comment, updated FROM reviews WHERE story_id = ? "
                   "ORDER BY updated DESC", [story_id])


def review_table(db: Database, f: StoryFilter = StoryFilter(), order: str = "newest", limit: int | None = 50,
                 offset: int = 0) -> list[dict]:
    """Stories with their scores and mean rating, for the sortable review table; `engine` is
    the story's engine where it is one of SEPARATE_ENGINES, else ''."""
    where, params = f.where()
    cols = ", ".join(f"s.{c}" for c in REVIEW_COLUMNS)
    sql = (f"SELECT {cols}, {_ENGINE} AS engine, r.rating, r.reviews FROM stories s LEFT JOIN (SELECT story_id, "
           f"round(avg(rating), 2) AS rating, count(*)::INTEGER AS reviews FROM reviews GROUP BY story_id) r "
           f"ON r.story_id = s.id WHERE {where} ORDER BY {_REVIEW_ORDERS.get(order, _ORDERS['newest'])}")
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return db.rows(sql, params)


def model_aggregates(db: Database, f: StoryFilter = StoryFilter()) -> list[dict]:
    """Per model and engine (a model's stories on each of SEPARATE_ENGINES apart from its
    others): stories, mean and median N1 density, mean unique N1, mean rating."""
    where, params = f.where()
    return db.rows(
        f"SELECT s.model, {_ENGINE} AS engine, count(*)::INTEGER AS stories, "
        "round(avg(s.n1_density), 2) AS mean_density, round(median(s.n1_density), 2) AS median_density, "
        "round(avg(s.unique_n1), 1) AS mean_unique_n1, "
        "round(avg(s.length), 0) AS mean_length, round(avg(r.rating), 2) AS mean_rating "
        "FROM stories s LEFT JOIN (SELECT story_id, avg(rating) AS rating FROM reviews GROUP BY story_id) r "
        f"ON r.story_id = s.id WHERE {where} "
        "GROUP BY s.model, engine ORDER BY stories DESC, s.model, engine", params)
