"""The story library on real DuckDB files with the real analyzer: save and read back, the
list filters, words met, soft delete/restore/purge, reviews and the Review desk's queries,
export and import, upgrading an old file, and many threads sharing one Database (as the
app's Streamlit sessions do)."""
from __future__ import annotations

import csv
import functools
import io
import json
import random
import threading
from collections import Counter
from datetime import date, datetime

import duckdb
import pyarrow.parquet as pq
import pytest

from core import store
from core.analysis import Analysis, analyze
from core.store import Story, StoryFilter
from core.wordlists import ListWord

TEXTS = {
    "urge": "先生は学生に発言を促した。彼はまた参加を促す。",  # 促す twice, 発言 once: N1
    "grasp": "彼は状況を把握するのに時間がかかった。",  # 把握: N1
    "plain": "私は毎日学校に行きます。",  # no N1 word
    "urged": "母は子供に早く寝るよう促した。",  # 促す only as 促した
    "quoted": "雨が降った。\n「はい、そうです」と彼は曖昧に答えた。",  # newline, comma, quotes for CSV
}


@functools.lru_cache(maxsize=None)
def analysed(name: str, targets: tuple[str, ...] = ()) -> Analysis:
    """Each text is analysed once per test session; Analysis objects are immutable."""
    return analyze(TEXTS[name], targets=targets)


def word_key_counts(a: Analysis) -> Counter:
    return Counter((m.word, m.reading, m.level) for m in a.matches)


def stored_word_rows(db: store.Database, story_id: int) -> int:
    return db.scalar("SELECT count(*) FROM story_words WHERE story_id = ?", [story_id])


def ids(rows) -> list[int]:
    return [r["id"] for r in rows]


@pytest.fixture
def db(tmp_path):
    database = store.Database(tmp_path / "stories.duckdb")
    yield database
    database.close()


@pytest.fixture
def library(db):
    """Five stories over two profiles, two models and five months; name -> id."""
    plan = [("urge", "aiko", "model-a", datetime(2024, 1, 10, 9), "雨の朝"),
            ("grasp", "aiko", "model-b", datetime(2024, 2, 10, 9), "会議"),
            ("plain", "ben", "model-a", datetime(2024, 3, 10, 9), "毎日"),
            ("urged", "ben", "model-b", datetime(2024, 4, 10, 9), "夜"),
            ("quoted", "aiko", "model-c", datetime(2024, 5, 10, 9), 'a "quoted", title')]
    return {name: store.save_story(db, analysed(name), Story(profile=profile, source="generated", model=model,
                                                              created=created, title=title))
            for name, profile, model, created, title in plan}


# --- save and read back -------------------------------------------------------------------

def test_save_story_round_trips_summary_meta_and_words(db):
    a = analysed("urge", ("促す", "把握"))
    meta = Story(profile="aiko", source="generated", backend="openai", model="gpt-x",
                 params={"temperature": 0.7, "メモ": "試し"}, prompt="短い話を書いて", targets=("促す", "把握"),
                 title="促しの話", genre="日常", style="文学風", created=datetime(2024, 5, 1, 9, 30))
    story_id = store.save_story(db, a, meta)
    got = store.get_story(db, story_id)
    s = a.score
    assert got["text"] == TEXTS["urge"]
    assert (got["length"], got["content_words"], got["n1_density"], got["unique_n1"], got["n1_per_1000"]) == \
        (s.chars, s.content_words, s.n1_density, s.unique_n1, s.n1_per_1000_chars)
    assert {k: got[k.lower()] for k in s.level_counts} == s.level_counts
    assert (got["readability"], got["readability_band"]) == (s.readability, s.readability_band)
    assert (got["coverage"], got["targets_used"], got["targets_missed"]) == (0.5, ["促す"], ["把握"])
    assert (got["profile"], got["source"], got["backend"], got["model"], got["prompt"], got["title"], got["genre"],
            got["style"]) == ("aiko", "generated", "openai", "gpt-x", "短い話を書いて", "促しの話", "日常", "文学風")
    assert got["params"] == {"temperature": 0.7, "メモ": "試し"}
    assert got["targets"] == ["促す", "把握"]
    assert got["created"] == datetime(2024, 5, 1, 9, 30)
    assert got["deleted_at"] is None
    words = {(w["word"], w["reading"], w["level"]): w["count"] for w in got["words"]}
    assert words == word_key_counts(a)
    urge = next(w for w in got["words"] if w["word"] == "促す")
    assert (urge["level"], urge["reading"], urge["count"], urge["first_start"]) == ("N1", "うながす", 2, 9)
    assert [w["first_start"] for w in got["words"]] == sorted(w["first_start"] for w in got["words"])
    assert got["word_rows"] == len(got["words"]) == stored_word_rows(db, story_id)


def test_save_story_without_matches_writes_no_word_rows(db):
    story_id = store.save_story(db, analyze(""), Story())
    got = store.get_story(db, story_id)
    assert (got["word_rows"], got["words"], got["length"], got["source"]) == (0, [], 0, "pasted")
    assert got["created"] is not None


def test_save_story_unknown_source_is_refused(db):
    with pytest.raises(store.StoreError, match="source"):
        store.save_story(db, analysed("plain"), Story(source="scraped"))
    assert store.count_stories(db) == 0


def test_get_story_missing_id_is_none(db):
    assert store.get_story(db, 12345) is None


# --- list filters and paging --------------------------------------------------------------

def test_list_stories_default_is_newest_first(db, library):
    assert ids(store.list_stories(db)) == [library[n] for n in ("quoted", "urged", "plain", "grasp", "urge")]
    assert ids(store.list_stories(db, order="oldest")) == [library[n] for n in ("urge", "grasp", "plain", "urged",
                                                                                  "quoted")]


def test_list_stories_profile_filter_keeps_only_that_profile(db, library):
    assert ids(store.list_stories(db, StoryFilter(profile="ben"))) == [library["urged"], library["plain"]]
    assert store.count_stories(db, StoryFilter(profile="aiko")) == 3
    assert store.list_stories(db, StoryFilter(profile="nobody")) == []


def test_list_stories_search_matches_title_or_text(db, library):
    assert ids(store.list_stories(db, StoryFilter(search="会議"))) == [library["grasp"]]  # title only
    assert ids(store.list_stories(db, StoryFilter(search="学校"))) == [library["plain"]]  # text only
    assert ids(store.list_stories(db, StoryFilter(search="促し"))) == [library["urged"], library["urge"]]
    assert ids(store.list_stories(db, StoryFilter(search="QUOTED"))) == [library["quoted"]]  # case-insensitive


def test_list_stories_word_filter_finds_inflected_forms(db, library):
    assert "促す" not in TEXTS["urged"]
    assert ids(store.list_stories(db, StoryFilter(word="促す"))) == [library["urged"], library["urge"]]
    assert ids(store.stories_with_word(db, "把握")) == [library["grasp"]]
    assert ids(store.list_stories(db, StoryFilter(word="促す", profile="ben"))) == [library["urged"]]
    assert store.list_stories(db, StoryFilter(word="促")) == []  # headwords, not substrings


def test_list_stories_model_filter_takes_any_of_several_models(db, library):
    assert ids(store.list_stories(db, StoryFilter(models=("model-a",)))) == [library["plain"], library["urge"]]
    assert store.count_stories(db, StoryFilter(models=("model-c",))) == 1
    both = StoryFilter(models=("model-a", "model-c"))
    assert ids(store.list_stories(db, both)) == [library["quoted"], library["plain"], library["urge"]]
    assert [r["model"] for r in store.model_aggregates(db, both)] == ["model-a", "model-c"]


def test_list_stories_model_filter_finds_pasted_stories_by_the_empty_model(db, library):
    pasted = store.save_story(db, analysed("plain"), Story(profile="ben", source="pasted"))
    assert ids(store.list_stories(db, StoryFilter(models=("",)))) == [pasted]
    assert store.count_stories(db, StoryFilter(models=("", "model-c"))) == 2


def test_list_stories_density_range_is_inclusive(db, library):
    density = {n: analysed(n).score.n1_density for n in library}
    assert density["urge"] > density["grasp"] > density["urged"] > density["plain"] == 0
    lo, hi = density["urged"], density["grasp"]
    got = store.list_stories(db, StoryFilter(min_density=lo, max_density=hi))
    assert ids(got) == [library["urged"], library["grasp"]]
    assert all(lo <= r["n1_density"] <= hi for r in got)
    assert ids(store.list_stories(db, StoryFilter(min_density=40))) == [library["urge"]]
    assert set(ids(store.list_stories(db, StoryFilter(max_density=0)))) == {library["plain"], library["quoted"]}


def test_list_stories_since_until_is_half_open(db, library):
    f = StoryFilter(since=date(2024, 2, 10), until=date(2024, 4, 10))
    assert ids(store.list_stories(db, f)) == [library["plain"], library["grasp"]]
    f = StoryFilter(since=datetime(2024, 2, 10, 9, 0, 1), until=datetime(2024, 4, 10, 9, 0, 1))
    assert ids(store.list_stories(db, f)) == [library["urged"], library["plain"]]
    assert store.count_stories(db, StoryFilter(since=date(2025, 1, 1))) == 0


def test_list_stories_paging_covers_every_story_once(db, library):
    pages = [ids(store.list_stories(db, limit=2, offset=o)) for o in (0, 2, 4, 6)]
    assert pages == [[library["quoted"], library["urged"]], [library["plain"], library["grasp"]],
                     [library["urge"]], []]
    assert len(store.list_stories(db, limit=None)) == store.count_stories(db) == 5


def test_list_stories_unknown_order_falls_back_to_newest(db, library):
    assert ids(store.list_stories(db, order="id; DROP TABLE stories")) == ids(store.list_stories(db))
    assert ids(store.list_stories(db, order="density"))[0] == library["urge"]


# --- words met ----------------------------------------------------------------------------

def test_words_met_lists_profile_n1_words_with_counts_and_first_seen(db, library):
    later = store.save_story(db, analysed("urge"), Story(profile="aiko", created=datetime(2024, 6, 1)))
    assert later
    met = store.words_met(db, "aiko")
    assert [(w["word"], w["reading"], w["count"], w["stories"], w["first_seen"]) for w in met] == [
        ("促す", "うながす", 4, 2, datetime(2024, 1, 10, 9)),
        ("発言", "はつげん", 2, 2, datetime(2024, 1, 10, 9)),
        ("把握", "はあく", 1, 1, datetime(2024, 2, 10, 9)),
    ]
    assert [w["word"] for w in store.words_met(db, "ben")] == ["促す"]  # its first is 2024-04, not aiko's
    assert store.words_met(db, "ben")[0]["first_seen"] == datetime(2024, 4, 10, 9)
    n5 = {w["word"] for w in store.words_met(db, "aiko", level="N5")}
    assert {"先生", "学生", "時間"} <= n5 and "促す" not in n5


# --- soft delete, restore, purge ----------------------------------------------------------

def test_delete_story_hides_it_and_restore_brings_it_back(db, library):
    urge = library["urge"]
    assert store.delete_story(db, urge) is True
    assert store.delete_story(db, urge) is False  # already in the bin
    assert urge not in ids(store.list_stories(db))
    assert urge not in ids(store.list_stories(db, StoryFilter(word="促す")))
    assert store.count_stories(db) == 4
    assert ids(store.list_stories(db, StoryFilter(deleted=True))) == [urge]
    assert "発言" not in {w["word"] for w in store.words_met(db, "aiko")}
    assert store.get_story(db, urge)["deleted_at"] is not None  # still readable by id
    assert store.restore_story(db, urge) is True
    assert store.restore_story(db, urge) is False
    assert urge in ids(store.list_stories(db))
    assert store.count_stories(db, StoryFilter(deleted=True)) == 0
    assert "発言" in {w["word"] for w in store.words_met(db, "aiko")}


def test_purge_deleted_removes_only_deleted_rows(db, library):
    for name in ("urge", "grasp", "plain"):
        store.save_review(db, library[name], "t1", 4)
    store.delete_story(db, library["urge"])  # aiko
    store.delete_story(db, library["plain"])  # ben
    assert store.purge_deleted(db, profile="aiko") == 1
    assert store.get_story(db, library["urge"]) is None
    assert stored_word_rows(db, library["urge"]) == 0
    assert store.reviews_for(db, library["urge"]) == []
    assert ids(store.list_stories(db, StoryFilter(deleted=True))) == [library["plain"]]  # ben's still in the bin
    assert store.purge_deleted(db) == 1
    assert store.purge_deleted(db) == 0
    for name in ("grasp", "urged", "quoted"):  # untouched, with their words and reviews
        story = store.get_story(db, library[name])
        assert story["word_rows"] == stored_word_rows(db, library[name]) == len(word_key_counts(analysed(name)))
    assert [r["rating"] for r in store.reviews_for(db, library["grasp"])] == [4]
    assert store.count_stories(db) == 3
    assert db.scalar("SELECT count(*) FROM story_words WHERE story_id NOT IN (SELECT id FROM stories)") == 0


# --- reviews ------------------------------------------------------------------------------

def test_save_review_same_reviewer_twice_replaces(db, library):
    sid = library["grasp"]
    store.save_review(db, sid, "tanaka", 2, tags=["too easy"], comment="first")
    store.save_review(db, sid, "tanaka", 5, tags=[" natural ", "natural", "", "vivid"], comment="second")
    got = store.reviews_for(db, sid)
    assert [(r["reviewer"], r["rating"], r["tags"], r["comment"]) for r in got] == \
        [("tanaka", 5, ["natural", "vivid"], "second")]
    assert db.scalar("SELECT count(*) FROM reviews") == 1


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_save_review_rating_out_of_range_is_refused(db, library, rating):
    with pytest.raises(store.StoreError, match="1 to 5"):
        store.save_review(db, library["grasp"], "tanaka", rating)
    assert store.reviews_for(db, library["grasp"]) == []


def test_save_review_missing_or_deleted_story_is_refused(db, library):
    with pytest.raises(store.StoreError, match="does not exist"):
        store.save_review(db, 99999, "tanaka", 3)
    store.delete_story(db, library["urge"])
    with pytest.raises(store.StoreError, match="deleted"):
        store.save_review(db, library["urge"], "tanaka", 3)
    assert db.scalar("SELECT count(*) FROM reviews") == 0


def test_review_table_shows_mean_rating_and_review_count(db, library):
    store.save_review(db, library["grasp"], "a", 5)
    store.save_review(db, library["grasp"], "b", 2)
    store.save_review(db, library["grasp"], "c", 2)
    rows = {r["id"]: r for r in store.review_table(db, limit=None)}
    assert (rows[library["grasp"]]["rating"], rows[library["grasp"]]["reviews"]) == (3.0, 3)
    assert (rows[library["urge"]]["rating"], rows[library["urge"]]["reviews"]) == (None, None)
    assert len(rows) == 5
    store.save_review(db, library["urge"], "a", 4)
    by_rating = store.review_table(db, order="rating")
    assert ids(by_rating)[:2] == [library["urge"], library["grasp"]]
    by_density = store.review_table(db, order="density", limit=2)
    assert ids(by_density) == [library["urge"], library["grasp"]]


def test_review_table_mean_is_rounded_to_two_places(db, library):
    for reviewer, rating in (("a", 5), ("b", 4), ("c", 4)):
        store.save_review(db, library["plain"], reviewer, rating)
    row = next(r for r in store.review_table(db) if r["id"] == library["plain"])
    assert row["rating"] == pytest.approx(4.33)


def test_model_aggregates_counts_are_not_inflated_by_reviews(db, library):
    for reviewer, rating in (("a", 5), ("b", 3), ("c", 1)):  # three reviews of one model-a story
        store.save_review(db, library["urge"], reviewer, rating)
    store.save_review(db, library["plain"], "a", 5)
    aggs = {r["model"]: r for r in store.model_aggregates(db)}
    assert {m: r["stories"] for m, r in aggs.items()} == {"model-a": 2, "model-b": 2, "model-c": 1}
    a = aggs["model-a"]
    assert a["mean_rating"] == 4.0  # mean of the stories' means (3 and 5), not of the four reviews
    expected_density = (analysed("urge").score.n1_density + analysed("plain").score.n1_density) / 2
    assert a["mean_density"] == pytest.approx(round(expected_density, 2))
    assert aggs["model-b"]["mean_rating"] is None
    assert [r["model"] for r in store.model_aggregates(db, StoryFilter(profile="ben"))] == ["model-a", "model-b"]


# --- export -------------------------------------------------------------------------------

def _expected_export(library, names=None):
    names = names or sorted(library, key=library.get)
    return [(library[n], TEXTS[n]) for n in names]


def test_export_csv_round_trips_japanese_text(db, library):
    store.save_review(db, library["urge"], "a", 4)
    data = store.export_bytes(db, "csv")
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel keeps the Japanese
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [(int(r["id"]), r["text"]) for r in rows] == _expected_export(library)
    quoted = next(r for r in rows if int(r["id"]) == library["quoted"])
    assert quoted["title"] == 'a "quoted", title' and "\n" in quoted["text"]
    urge = next(r for r in rows if int(r["id"]) == library["urge"])
    assert (urge["title"], float(urge["rating"]), urge["model"]) == ("雨の朝", 4.0, "model-a")
    assert "deleted_at" not in rows[0]


def test_export_jsonl_round_trips_japanese_text(db, library):
    data = store.export_bytes(db, "jsonl")
    assert "促した".encode() in data  # not \\u-escaped
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert [(r["id"], r["text"]) for r in rows] == _expected_export(library)
    assert rows[0]["targets"] == [] and rows[0]["rating"] is None
    assert rows[0]["created"].startswith("2024-01-10")


def test_export_parquet_round_trips_japanese_text(db, library):
    store.delete_story(db, library["plain"])
    data = store.export_bytes(db, "parquet")
    rows = pq.read_table(io.BytesIO(data)).to_pylist()
    names = [n for n in sorted(library, key=library.get) if n != "plain"]
    assert [(r["id"], r["text"]) for r in rows] == _expected_export(library, names)
    assert rows[0]["n1_density"] == analysed("urge").score.n1_density


def test_export_bytes_filter_and_ids_select_stories(db, library):
    data = store.export_bytes(db, "jsonl", StoryFilter(profile="aiko"), ids=[library["grasp"], library["plain"]])
    assert [json.loads(line)["id"] for line in data.decode().splitlines()] == [library["grasp"]]


def test_export_bytes_unknown_format_is_refused(db, library):
    with pytest.raises(store.StoreError, match="csv, xlsx, jsonl or parquet"):
        store.export_bytes(db, "xls")


def test_export_keeps_the_order_given_and_carries_the_reviews_and_model_names(db, library):
    store.save_review(db, library["urge"], "sato", 4, tags=["natural"], comment="良い話")
    store.save_review(db, library["urge"], "ito", 2, tags=["too hard", "natural"], comment="")
    fast = store.save_story(db, analysed("urge"), Story(profile="aiko", source="generated", backend="ct2",
                                                          model="model-a"))
    order = [library["plain"], library["urge"], library["grasp"], fast]
    names = lambda m, b: f"name of {m}" + (f" on {b}" if b else "")  # noqa: E731
    rows = [json.loads(line) for line in store.export_bytes(db, "jsonl", ids=order, model_name=names).splitlines()]
    assert [r["id"] for r in rows] == order
    assert rows[3]["model_name"] == "name of model-a on ct2"  # a model's engines stay apart
    urge = rows[1]
    assert (urge["reviews"], urge["rating"], urge["tags"], urge["comments"]) == \
        (2, 3.0, ["natural", "too hard"], "sato: 良い話")
    assert (urge["model"], urge["model_name"]) == ("model-a", "name of model-a")
    assert rows[0]["reviews"] == 0 and rows[0]["rating"] is None


def test_export_xlsx_opens_with_japanese_and_the_reviews(db, library):
    import openpyxl

    store.save_review(db, library["urge"], "sato", 5, tags=["natural"], comment="とても良い")
    book = openpyxl.load_workbook(io.BytesIO(store.export_bytes(db, "xlsx", ids=[library["urge"]])))
    sheet = book["stories"]
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c.value for c in sheet[2]]))
    assert (row["title"], row["rating"], row["tags"], row["comments"]) == ("雨の朝", 5, "natural", "sato: とても良い")


def test_write_export_writes_file_and_counts(db, library, tmp_path):
    path = tmp_path / "out.jsonl"
    assert store.write_export(db, path, "jsonl", StoryFilter(profile="ben")) == 2
    assert len(path.read_bytes().splitlines()) == 2


# --- import -------------------------------------------------------------------------------

def test_import_jsonl_imports_good_lines_and_reports_bad_ones(db):
    lines = [
        json.dumps({"text": TEXTS["grasp"], "title": "会議", "created": "2024-03-01T10:00:00Z", "extra": [1]},
                   ensure_ascii=False),
        "{not json",
        "",
        json.dumps({"title": "本文なし"}, ensure_ascii=False),
        json.dumps({"text": TEXTS["urge"], "source": "generated", "model": "ignored-key"}, ensure_ascii=False),
        json.dumps({"text": TEXTS["plain"], "created": "yesterday"}),
        "[1, 2]",
        json.dumps({"text": "   "}),
    ]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    new_ids, problems = store.import_jsonl(db, data, analyze, profile="imported-class")
    assert len(new_ids) == 2
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 4", "line 6", "line 7", "line 8"]
    assert "not valid JSON" in problems[0] and '"text"' in problems[1] and "ISO date" in problems[2]
    first, second = (store.get_story(db, i) for i in new_ids)
    assert (first["text"], first["title"], first["source"], first["profile"]) == \
        (TEXTS["grasp"], "会議", "imported", "imported-class")
    assert first["created"] == datetime(2024, 3, 1, 10, 0)
    assert (first["n1_density"], first["word_rows"]) == (analysed("grasp").score.n1_density,
                                                        len(word_key_counts(analysed("grasp"))))
    assert {w["word"] for w in first["words"]} >= {"把握"}
    assert (second["source"], second["model"], second["title"]) == ("generated", "", "")
    assert next(w for w in second["words"] if w["word"] == "促す")["count"] == 2


def test_import_jsonl_raw_model_answer_keeps_the_story_not_its_headers(db):
    answer = (f"**タイトル：**『霧の朝』\n文体分類：文学風\nジャンル：恋愛・学園\n設定：地方の高校。\n\n"
              f"本文：\n{TEXTS['grasp']}\n\n語彙使用スコア：4.2")
    data = json.dumps({"custom_id": "request-1", "text": answer}, ensure_ascii=False).encode()
    (story_id,), problems = store.import_jsonl(db, data, analyze)
    story = store.get_story(db, story_id)
    assert problems == [] and (story["title"], story["text"]) == ("霧の朝", TEXTS["grasp"])
    assert story["n1_density"] == analysed("grasp").score.n1_density  # headers never scored


def test_import_jsonl_with_bom_and_crlf(db):
    data = "\ufeff".encode() + json.dumps({"text": TEXTS["plain"]}, ensure_ascii=False).encode() + b"\r\n"
    new_ids, problems = store.import_jsonl(db, data, analyze)
    assert (len(new_ids), problems) == (1, [])
    assert store.get_story(db, new_ids[0])["text"] == TEXTS["plain"]


def test_import_jsonl_not_utf8_is_refused(db):
    with pytest.raises(store.StoreError, match="UTF-8"):
        store.import_jsonl(db, json.dumps({"text": "日本語"}, ensure_ascii=False).encode("shift_jis"), analyze)
    assert store.count_stories(db) == 0


# --- migration ----------------------------------------------------------------------------

def test_database_version_1_file_upgrades_and_keeps_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(store.MIGRATIONS[0])
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1)")
    con.execute("INSERT INTO word_lists (name, source_file, word_count) VALUES ('class-a', 'old.xlsx', 1)")
    con.execute("INSERT INTO list_words VALUES ('class-a', 0, '把握', ['把握'], 'はあく', ['grasp'], 2)")
    con.close()
    db = store.Database(path)
    assert db.version() == len(store.MIGRATIONS)
    assert db.execute("SELECT version FROM schema_version ORDER BY version") == \
        [(v,) for v in range(1, len(store.MIGRATIONS) + 1)]
    assert store.load_word_list(db, "class-a") == [ListWord("把握", ("把握",), "はあく", ("grasp",), 2)]
    assert [(r["name"], r["source_file"]) for r in store.word_lists(db)] == [("class-a", "old.xlsx")]
    story_id = store.save_story(db, analysed("grasp"), Story(profile="aiko"))  # the new tables work
    assert store.get_story(db, story_id)["word_rows"] == stored_word_rows(db, story_id)
    db.close()
    db = store.Database(path)  # reopening migrates nothing twice
    assert db.execute("SELECT count(*) FROM schema_version") == [(len(store.MIGRATIONS),)]
    assert store.count_stories(db) == 1
    db.close()


# --- many threads, one Database -----------------------------------------------------------

THREADS, INSERTS = 8, 200


def test_save_story_from_many_threads_loses_nothing(tmp_path):
    db = store.Database(tmp_path / "busy.duckdb")
    analyses = [analysed(n) for n in TEXTS]
    expected_rows = {id(a): len(word_key_counts(a)) for a in analyses}
    inserted: dict[int, Analysis] = {}  # every id save_story returned, from any thread
    inserted_lock = threading.Lock()
    errors: list[str] = []
    start = threading.Barrier(THREADS)

    failed = object()

    def attempt(tag: str, fn):
        try:
            return fn()
        except BaseException as exc:  # record everything, keep going: the test wants all failures
            errors.append(f"{tag}: {exc!r}")
            return failed

    def worker(n: int) -> None:
        rng, profile, mine = random.Random(n), f"profile-{n}", 0
        start.wait()
        for i in range(INSERTS):
            a = analyses[rng.randrange(len(analyses))]
            meta = Story(profile=profile, model=f"model-{i % 3}", title=f"{n}-{i}",
                         created=datetime(2024, 1, 1 + i % 28, n, i % 60))
            story_id = attempt(f"thread {n} insert {i}", lambda: store.save_story(db, a, meta))
            if story_id is not failed:
                mine += 1
                with inserted_lock:
                    if story_id in inserted:
                        errors.append(f"thread {n}: id {story_id} returned twice")
                    inserted[story_id] = a
            op = i % 4
            if op == 0:
                rows = attempt(f"thread {n} list {i}", lambda: store.list_stories(db, StoryFilter(profile=profile),
                                                                                 limit=20))
                if rows is not failed and len(rows) != min(20, mine):
                    errors.append(f"thread {n}: list saw {len(rows)} of its {mine} stories")
                count = attempt(f"thread {n} count {i}", lambda: store.count_stories(db, StoryFilter(profile=profile)))
                if count is not failed and count != mine:
                    errors.append(f"thread {n}: count {count} after {mine} inserts")
            elif op == 1:
                attempt(f"thread {n} count-all {i}", lambda: store.count_stories(db))
            elif op == 2:
                with inserted_lock:
                    earlier = rng.choice(list(inserted)) if inserted else None
                if earlier is not None:
                    story = attempt(f"thread {n} get {i}", lambda: store.get_story(db, earlier))
                    if story is None:
                        errors.append(f"thread {n}: story {earlier} missing after save_story returned")
                    elif story is not failed and (story["id"] != earlier or len(story["words"]) != story["word_rows"]):
                        errors.append(f"thread {n}: story {earlier} read back wrong")
            else:
                attempt(f"thread {n} words_met {i}", lambda: store.words_met(db, profile))

    threads = [threading.Thread(target=worker, args=(n,), name=f"session-{n}") for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    assert errors == []
    assert len(inserted) == THREADS * INSERTS
    assert store.count_stories(db) == THREADS * INSERTS
    stored = {sid: (word_rows, actual) for sid, word_rows, actual in db.execute(
        "SELECT s.id, s.word_rows, count(w.story_id) FROM stories s LEFT JOIN story_words w ON w.story_id = s.id "
        "GROUP BY s.id, s.word_rows")}
    assert set(stored) == set(inserted)
    wrong = {sid: rows for sid, rows in stored.items()
             if not rows[0] == rows[1] == expected_rows[id(inserted[sid])]}
    assert wrong == {}
    assert db.scalar("SELECT count(*) FROM story_words") == sum(expected_rows[id(a)] for a in inserted.values())
    for n in range(THREADS):
        assert store.count_stories(db, StoryFilter(profile=f"profile-{n}")) == INSERTS
    db.close()
