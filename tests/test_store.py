"""DuckDB store on real files in temp dirs."""
from __future__ import annotations

import duckdb
import pytest

from core import store
from core.wordlists import ListWord

WORDS = [ListWord("把握", ("把握",), "はあく", ("grasp",), 2), ListWord("薬", ("〜薬",), "やく", ("drug",), 3)]


def test_new_database_gets_newest_schema(tmp_path):
    db = store.Database(tmp_path / "a" / "new.duckdb")
    assert db.version() == len(store.MIGRATIONS)


def test_word_list_round_trips(tmp_path):
    db = store.Database(tmp_path / "x.duckdb")
    assert store.save_word_list(db, "class-a", WORDS, "t.xlsx") == 2
    assert store.load_word_list(db, "class-a") == WORDS
    assert [r["name"] for r in store.word_lists(db)] == ["class-a"]


def test_failed_replace_keeps_old_list(tmp_path):
    db = store.Database(tmp_path / "x.duckdb")
    store.save_word_list(db, "class-a", WORDS)
    with pytest.raises(store.StoreError):
        store.save_word_list(db, "class-a", [])
    assert store.load_word_list(db, "class-a") == WORDS


@pytest.mark.parametrize("name", ["", "N1", "n2", "target", "x" * 41])
def test_bad_list_names_are_refused(tmp_path, name):
    db = store.Database(tmp_path / "x.duckdb")
    with pytest.raises(store.StoreError):
        store.save_word_list(db, name, WORDS)


def test_file_opened_by_another_process_gives_clear_error(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); "
                               "print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"ready"
        with pytest.raises(store.StoreError, match="in use by another process"):
            store.Database(path)
    finally:
        holder.kill()
        holder.wait()


def test_newer_schema_is_refused_not_damaged(tmp_path):
    path = tmp_path / "future.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (99)")
    con.close()
    with pytest.raises(store.StoreError, match="newer NoneStory"):
        store.Database(path)


@pytest.mark.parametrize("sql, read", [
    ("SELECT 1", True), ("  with t AS (SELECT 1) SELECT * FROM t", True), ("FROM stories", True),
    ("SELECT updated, deleted_at FROM stories", True), ("INSERT INTO x VALUES (1)", False),
    ("UPDATE jobs SET state = 'done'", False), ("WITH t AS (SELECT 1) DELETE FROM x", False),
    ("CREATE TABLE y (a INT)", False), ("BEGIN TRANSACTION", False)])
def test_statements_sorted_into_reads_and_writes(sql, read):
    assert store.db.is_read(sql) is read


def test_save_does_not_wait_behind_another_threads_long_read(tmp_path):
    """A student's save lands while a teacher's slow query is still running (each thread reads
    on its own cursor; only writers queue). Ordering, not timing: the read is made long."""
    import threading

    from core.analysis import analyze
    db = store.Database(tmp_path / "x.duckdb")
    started, order = threading.Event(), []

    def long_read():
        started.set()
        db.scalar("SELECT sum(hash(i)) FROM range(400000000) t(i)")
        order.append("read")

    reader = threading.Thread(target=long_read)
    reader.start()
    started.wait()
    story_id = store.save_story(db, analyze("部長は部下に報告を促した。"), store.Story(profile="hana"))
    order.append("save")
    reader.join()
    assert order == ["save", "read"]
    assert store.get_story(db, story_id)["profile"] == "hana"
    db.close()
    errors = []
    late = threading.Thread(target=lambda: errors.append(pytest.raises(store.StoreError, db.scalar, "SELECT 1")))
    late.start()  # a thread that never had a cursor gets a sentence, not a crash inside DuckDB
    late.join()
    assert errors and "is closed" in str(errors[0].value)
