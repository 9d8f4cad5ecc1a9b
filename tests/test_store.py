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
    import time
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
