"""Stories: save with their analysis, find, soft-delete/restore/purge, export and import."""
from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from core.generation.prompts import parse_answer
from core.i18n import _
from core.store.coverage import save_heads
from core.store.db import Database, StoreError

SOURCES = ("generated", "pasted", "imported")
SUMMARY_COLUMNS = ("id", "created", "profile", "source", "backend", "model", "title", "genre", "style",
                   "length", "n1_density", "unique_n1", "n1_per_1000", "coverage", "readability",
                   "readability_band", "n5", "n4", "n3", "n2", "n1", "outside", "deleted_at")
EXPORT_FORMATS = ("csv", "xlsx", "jsonl", "parquet")
_ORDERS = {"newest": "s.created DESC, s.id DESC", "oldest": "s.created, s.id",
           "density": "s.n1_density DESC, s.id DESC", "unique_n1": "s.unique_n1 DESC, s.id DESC",
           "length": "s.length DESC, s.id DESC",
           "coverage": "c.miss_rate NULLS LAST, s.id DESC"}  # most of it known first; needs a reader
COVERAGE_COLUMNS = ("known_share", "miss_rate", "new_words")


@dataclass(frozen=True)
class Story:
    """What is known about a story besides its text and analysis."""

    profile: str = ""
    source: str = "pasted"
    backend: str = ""
    model: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    prompt: str = ""
    targets: tuple[str, ...] = ()
    title: str = ""
    genre: str = ""
    style: str = ""
    created: datetime | None = None


@dataclass(frozen=True)
class StoryFilter:
    """Which stories a list, a page or an export covers. None means "any"."""

    profile: str | None = None
    search: str | None = None  # in title or text
    word: str | None = None  # a headword the analysis found (促す finds 促した)
    models: tuple[str, ...] = ()  # any of these models; "" is pasted and imported stories
    source: str | None = None
    min_density: float | None = None
    max_density: float | None = None
    since: date | datetime | None = None
    until: date | datetime | None = None
    deleted: bool = False  # True: only the deleted ones (the bin)
    reader: str | None = None  # the profile whose personal coverage list_stories joins (order "coverage")
    min_known: float | None = None  # with `reader`: known running words (1 − miss rate) at least this

    def where(self) -> tuple[str, list]:
        clauses, params = ["s.deleted_at IS NOT NULL" if self.deleted else "s.deleted_at IS NULL"], []
        for value, clause in ((self.profile, "s.profile = ?"),
                              (self.source, "s.source = ?"), (self.min_density, "s.n1_density >= ?"),
                              (self.max_density, "s.n1_density <= ?"), (self.since, "s.created >= ?"),
                              (self.until, "s.created < ?")):
            if value is not None and value != "":
                clauses.append(clause)
                params.append(value)
        if self.models:
            clauses.append(f"s.model IN ({', '.join('?' * len(self.models))})")
            params += list(self.models)
        if self.search:
            # Japanese has no letter case: case-folding 400 MB of text per query (ILIKE) cost
            # 10x more than a plain LIKE on the text; titles stay case-insensitive.
            term = "%" + re.sub(r"([\\%_])", r"\\\1", self.search) + "%"
            clauses.append("(s.title ILIKE ? ESCAPE '\\' OR s.text LIKE ? ESCAPE '\\')")
            params += [term, term]
        if self.word:
            clauses.append("s.id IN (SELECT story_id FROM story_words WHERE word = ?)")
            params.append(self.word)
        if self.reader and self.min_known is not None:
            clauses.append("s.id IN (SELECT story_id FROM story_coverage WHERE profile = ? AND 1 - miss_rate >= ?)")
            params += [self.reader, self.min_known]
        return " AND ".join(clauses), params


def _word_rows(matches) -> tuple[list, list, list, list, list]:
    """Per-headword counts and first position, as parallel lists for one INSERT."""
    agg: dict[tuple[str, str, str], list[int]] = {}
    for m in matches:
        key = (m.word, m.reading, m.level)
        if key in agg:
            agg[key][0] += 1
        else:
            agg[key] = [1, m.start]
    keys = list(agg)
    return ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
            [agg[k][0] for k in keys], [agg[k][1] for k in keys])


def save_story(db: Database, analysis, meta: Story = Story()) -> int:
    """Store a text with its analysis summary and word counts in one transaction; its id.
    A write that returns is durable; one interrupted leaves nothing behind."""
    if meta.source not in SOURCES:
        raise StoreError(_("Unknown story source {source}; use one of {sources}.").format(
            source=repr(meta.source), sources=", ".join(SOURCES)))
    s = analysis.score
    words, readings, levels, counts, starts = _word_rows(analysis.matches)
    lc = s.level_counts
    row = [meta.created or datetime.now(), meta.profile, meta.source, meta.backend, meta.model,
           json.dumps(dict(meta.params), ensure_ascii=False), meta.prompt, list(meta.targets), meta.title,
           meta.genre, meta.style, analysis.text, s.chars, s.content_words, s.n1_density, s.unique_n1,
           s.n1_per_1000_chars, lc["N5"], lc["N4"], lc["N3"], lc["N2"], lc["N1"], lc["outside"],
           s.target_coverage, list(s.targets_used), list(s.targets_missed), s.readability,
           s.readability_band, len(words)]
    with db.transaction() as con:
        story_id = con.execute(
            "INSERT INTO stories (created, profile, source, backend, model, params, prompt, targets, title, "
            "genre, style, text, length, content_words, n1_density, unique_n1, n1_per_1000, n5, n4, n3, n2, n1, "
            "outside, coverage, targets_used, targets_missed, readability, readability_band, word_rows) "
            f"VALUES ({', '.join('?' * len(row))}) RETURNING id", row).fetchone()[0]
        if words:
            con.execute("INSERT INTO story_words SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
                        "unnest(?::VARCHAR[]), unnest(?::INTEGER[]), unnest(?::INTEGER[])",
                        [story_id, words, readings, levels, counts, starts])
        if analysis.heads or analysis.running_words:  # an Analysis read back from JSON has neither
            save_heads(con, story_id, analysis.heads, analysis.running_words)
    return story_id


def get_story(db: Database, story_id: int) -> dict | None:
    rows = db.rows("SELECT * FROM stories WHERE id = ?", [story_id])
    if not rows:
        return None
    story = rows[0]
    story["params"] = json.loads(story["params"] or "{}")
    story["words"] = db.rows("SELECT word, reading, level, count, first_start FROM story_words "
                             "WHERE story_id = ? ORDER BY first_start", [story_id])
    return story


def saved_copy(db: Database, profile: str, text: str) -> int | None:
    """The id of a story in `profile`'s library (not in the bin) with exactly this text, if any:
    saving the same text twice would count its words twice in "Words I have met"."""
    return db.scalar("SELECT min(id) FROM stories WHERE profile = ? AND text = ? AND deleted_at IS NULL",
                     [profile, text])


def list_stories(db: Database, f: StoryFilter = StoryFilter(), order: str = "newest", limit: int | None = 50,
                 offset: int = 0, columns: Sequence[str] = SUMMARY_COLUMNS) -> list[dict]:
    where, params = f.where()
    cols = [f"s.{c}" for c in columns if c in SUMMARY_COLUMNS or c in ("text", "targets", "prompt")]
    source = "stories s"
    if f.reader:  # the reader's coverage of each story (NULL where not computed yet)
        cols += [f"c.{c}" for c in columns if c in COVERAGE_COLUMNS]
        source += " LEFT JOIN story_coverage c ON c.story_id = s.id AND c.profile = ?"
        params = [f.reader, *params]
    elif order == "coverage":
        order = "newest"
    sql = f"SELECT {', '.join(cols)} FROM {source} WHERE {where} ORDER BY {_ORDERS.get(order, _ORDERS['newest'])}"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return db.rows(sql, params)


def count_stories(db: Database, f: StoryFilter = StoryFilter()) -> int:
    where, params = f.where()
    return db.scalar(f"SELECT count(*) FROM stories s WHERE {where}", params)


def profiles(db: Database) -> list[str]:
    """Every profile that has a story that is not deleted."""
    return [r[0] for r in db.execute("SELECT DISTINCT profile FROM stories WHERE deleted_at IS NULL "
                                     "ORDER BY profile")]


def stories_with_word(db: Database, word: str, limit: int = 50) -> list[dict]:
    return list_stories(db, StoryFilter(word=word), limit=limit)


def words_met(db: Database, profile: str, level: str = "N1") -> list[dict]:
    """The words of a level seen across a profile's stories: count, stories, first seen."""
    return db.rows(
        "SELECT w.word, w.reading, sum(w.count)::INTEGER AS count, count(DISTINCT s.id)::INTEGER AS stories, "
        "min(s.created) AS first_seen FROM story_words w JOIN stories s ON s.id = w.story_id "
        "WHERE s.profile = ? AND s.deleted_at IS NULL AND w.level = ? "
        "GROUP BY w.word, w.reading ORDER BY first_seen, w.word", [profile, level])


def word_contexts(db: Database, profile: str, word: str, limit: int = 5) -> list[dict]:
    """Where `profile`'s own stories (not in the bin) use `word`, newest first: story id, title,
    text and the offset of the word's first occurrence (cut a quote with core.sentences)."""
    rows = db.rows(
        "SELECT s.id AS story_id, s.title, s.text, w.first_start FROM story_words w "
        "JOIN stories s ON s.id = w.story_id WHERE s.profile = ? AND s.deleted_at IS NULL AND w.word = ? "
        "ORDER BY s.created DESC, s.id DESC LIMIT ?", [profile, word, limit])
    if rows:
        return rows
    # A word on no list (学園, 狭間) has no story_words row; the running-word counts know which
    # stories use it, and where it is written as its headword, that is where it is.
    return db.rows(
        "SELECT s.id AS story_id, s.title, s.text, strpos(s.text, ?) - 1 AS first_start FROM stories s "
        "WHERE s.profile = ? AND s.deleted_at IS NULL AND strpos(s.text, ?) > 0 "
        "AND s.id IN (SELECT story_id FROM story_heads WHERE word = ?) "
        "ORDER BY s.created DESC, s.id DESC LIMIT ?", [word, profile, word, word, limit])

def _set_deleted(db: Database, story_id: int, deleted: bool) -> bool:
    changed = db.execute(
        f"UPDATE stories SET deleted_at = {'current_timestamp' if deleted else 'NULL'} "
        f"WHERE id = ? AND deleted_at IS {'' if deleted else 'NOT '}NULL RETURNING id", [story_id])
    return bool(changed)


def delete_story(db: Database, story_id: int) -> bool:
    """Soft delete: the story leaves every list but can be restored until purged."""
    return _set_deleted(db, story_id, True)


def restore_story(db: Database, story_id: int) -> bool:
    return _set_deleted(db, story_id, False)


def purge_deleted(db: Database, profile: str | None = None) -> int:
    """Remove soft-deleted stories for good (one profile's, or everyone's); other rows untouched."""
    scope, params = ("AND profile = ?", [profile]) if profile is not None else ("", [])
    with db.transaction() as con:
        ids = [r[0] for r in con.execute(f"SELECT id FROM stories WHERE deleted_at IS NOT NULL {scope}",
                                         params).fetchall()]
        if ids:
            con.execute("DELETE FROM story_words WHERE story_id IN (SELECT unnest(?::BIGINT[]))", [ids])
            con.execute("DELETE FROM reviews WHERE story_id IN (SELECT unnest(?::BIGINT[]))", [ids])
            con.execute("DELETE FROM stories WHERE id IN (SELECT unnest(?::BIGINT[]))", [ids])
    return len(ids)


def export_bytes(db: Database, fmt: str, f: StoryFilter = StoryFilter(), ids: Sequence[int] | None = None,
                 model_name: Callable[[str, str], str] | None = None) -> bytes:
    """Stories (summary columns, text, targets and their reviews: count, mean rating, every tag,
    every comment) as CSV (UTF-8 with a BOM, so Excel keeps Japanese), XLSX, JSON lines or
    Parquet. With `ids`, those stories in that order (the order a page shows); else by id.
    `model_name(model, backend)` adds each model's display name beside its id (the engine's in it:
    the Review desk compares a model's engines, and so can a spreadsheet)."""
    if fmt not in EXPORT_FORMATS:
        raise StoreError(_("Unknown export format {format}; use csv, xlsx, jsonl or parquet.").format(
            format=repr(fmt)))
    where, params = f.where()
    order = "s.id"
    if ids is not None:
        where += " AND s.id IN (SELECT unnest(?::BIGINT[]))"
        params.append(list(ids))
        order = "list_position(?::BIGINT[], s.id)"
        params.append(list(ids))
    cols = ", ".join(f"s.{c}" for c in SUMMARY_COLUMNS if c != "deleted_at")
    table = db.arrow(
        f"SELECT {cols}, s.targets, s.text, coalesce(r.reviews, 0) AS reviews, r.rating, r.tags, r.comments "
        f"FROM stories s LEFT JOIN (SELECT story_id, count(*)::INTEGER AS reviews, round(avg(rating), 2) AS rating, "
        f"list_sort(list_distinct(flatten(list(tags)))) AS tags, "
        f"string_agg(CASE WHEN comment <> '' THEN reviewer || ': ' || comment END, ' | ' ORDER BY updated) "
        f"AS comments FROM reviews GROUP BY story_id) r ON r.story_id = s.id WHERE {where} ORDER BY {order}",
        params)
    if model_name is not None:
        keys = list(zip((m or "" for m in table.column("model").to_pylist()),
                        (b or "" for b in table.column("backend").to_pylist())))
        lookup = {k: model_name(*k) for k in set(keys)}  # once per model and engine, not per story
        names = [lookup[k] for k in keys]
        table = table.add_column(table.schema.get_field_index("model") + 1, "model_name", [names])
    return _encode(table, fmt)


def _encode(table, fmt: str) -> bytes:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, buf)
        return buf.getvalue()
    if fmt == "jsonl":
        for row in table.to_pylist():
            buf.write((json.dumps(row, ensure_ascii=False, default=str) + "\n").encode("utf-8"))
        return buf.getvalue()
    for name in ("targets", "tags"):  # lists as one cell each: "把握,促す"
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, [[",".join(t or []) for t in table.column(name).to_pylist()]])
    if fmt == "xlsx":
        table.to_pandas().to_excel(buf, index=False, sheet_name="stories", engine="openpyxl")
        return buf.getvalue()
    buf.write(codecs.BOM_UTF8)  # Excel reads a CSV without it in the machine's ANSI code page
    pacsv.write_csv(table, buf)
    return buf.getvalue()


def import_jsonl(db: Database, data: bytes, analyze, profile: str = "") -> tuple[list[int], list[str]]:
    """Import one JSON object per line (`text`, optionally `title`, `source`, `created`; other
    keys ignored), analysing each text. A text that is a headed model answer (タイトル／本文…)
    is stored as its story body, titled from the answer unless `title` is given. A bad line is
    reported with its number and skipped."""
    ids, problems = [], []
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise StoreError(_("The file is not UTF-8 text; save it as UTF-8 JSON lines.")) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            meta, text = _parse_line(line, profile)
        except ValueError as exc:
            problems.append(_("line {number}: {problem}").format(number=number, problem=exc))
            continue
        ids.append(save_story(db, analyze(text), meta))
    return ids, problems


def _parse_line(line: str, profile: str) -> tuple[Story, str]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(_("not valid JSON ({error})").format(error=exc.msg)) from None
    if not isinstance(obj, dict):
        raise ValueError(_("not a JSON object"))
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_('no "text" string'))
    source = obj.get("source") if obj.get("source") in SOURCES else "imported"
    created = None
    if obj.get("created"):
        try:
            created = datetime.fromisoformat(str(obj["created"]).replace("Z", "+00:00")).replace(tzinfo=None)
        except ValueError:
            raise ValueError(_('"created" is not an ISO date: {value}').format(
                value=repr(str(obj["created"])[:40]))) from None
    title = obj.get("title") if isinstance(obj.get("title"), str) else ""
    answer = parse_answer(text)
    if answer.ok:  # a raw model answer (the original project's files): store the story, not its headers
        text, title = answer.body, title or answer.title
    return Story(profile=profile, source=source, title=title, created=created), text


def write_export(db: Database, path: Path, fmt: str, f: StoryFilter = StoryFilter()) -> int:
    data = export_bytes(db, fmt, f)
    path.write_bytes(data)
    return count_stories(db, f)
