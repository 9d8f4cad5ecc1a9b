"""Who owns what in the store: student profiles with passphrases and reopen tokens, class
lists versus personal lists, and the kept version behind every replace and delete (real DuckDB
files, one per test)."""
from __future__ import annotations

import pytest

from core import store
from core.store import students
from core.wordlists import ListWord


@pytest.fixture
def db(tmp_path):
    d = store.Database(tmp_path / "nonestory.duckdb")
    yield d
    d.close()


def words(*heads: str) -> list[ListWord]:
    return [ListWord(h, (h,), "", ("meaning",), i + 2) for i, h in enumerate(heads)]


def test_a_new_profile_opens_and_takes_the_first_passphrase_given(db):
    assert students.open_profile(db, "hana") is False  # no passphrase: opens as it is
    assert students.open_profile(db, "hana", "sakura-7") is True  # first use sets it
    assert students.open_profile(db, " hana ", "sakura-7") is True
    with pytest.raises(store.StoreError, match="not it"):
        students.open_profile(db, "hana", "")
    with pytest.raises(store.StoreError, match="not it"):
        students.open_profile(db, "hana", "sakura-8")
    stored = db.scalar("SELECT passphrase_hash FROM profiles WHERE name = 'hana'")
    assert stored.startswith("pbkdf2_sha256$") and "sakura" not in stored


@pytest.mark.parametrize("name,passphrase,message", [
    ("", "", "Type a profile name"), ("x" * 41, "", "at most 40"), ("a\x00b", "", "control"),
    ("ken", "abc", "at least 4"),
])
def test_bad_profile_names_and_short_passphrases_are_refused(db, name, passphrase, message):
    with pytest.raises(store.StoreError, match=message):
        students.open_profile(db, name, passphrase)


def test_changing_a_passphrase_needs_the_current_one(db):
    students.open_profile(db, "mei", "first-pass")
    with pytest.raises(store.StoreError, match="not it"):
        students.change_passphrase(db, "mei", "guess", "second-pass")
    students.change_passphrase(db, "mei", "first-pass", "second-pass")
    assert students.open_profile(db, "mei", "second-pass")


def test_a_reset_clears_the_passphrase_and_closes_open_browsers(db):
    students.open_profile(db, "yuki", "snow-snow")
    token = students.new_token(db, "yuki")
    assert students.profile_for_token(db, token) == "yuki"
    students.reset_passphrase(db, "yuki")
    assert students.profile_for_token(db, token) == ""
    assert students.open_profile(db, "yuki") is False
    with pytest.raises(store.StoreError, match="no passphrase to reset"):
        students.reset_passphrase(db, "yuki")


def test_tokens_are_stored_hashed_and_expire_or_drop(db):
    token = students.new_token(db, "ken")
    assert db.scalar("SELECT count(*) FROM profile_tokens WHERE token_hash = ?", [token]) == 0
    assert students.profile_for_token(db, "forged") == "" and students.profile_for_token(db, "") == ""
    db.execute("UPDATE profile_tokens SET created = created - INTERVAL 13 HOUR")
    assert students.profile_for_token(db, token) == ""
    fresh = students.new_token(db, "ken")
    students.drop_token(db, fresh)
    assert students.profile_for_token(db, fresh) == ""


def test_students_see_class_lists_and_only_their_own_personal_lists(db):
    store.save_word_list(db, "class-a", words("把握", "促す"))
    store.save_word_list(db, "hana-words", words("和やか"), owner="hana")
    store.save_word_list(db, "ken-words", words("懸念"), owner="ken")
    assert [r["name"] for r in store.word_lists(db, "hana")] == ["class-a", "hana-words"]
    assert [r["name"] for r in store.word_lists(db)] == ["class-a"]  # teachers: the class's lists


def test_a_student_cannot_replace_or_delete_a_class_list_or_another_students_list(db):
    store.save_word_list(db, "class-a", words("把握", "促す"))
    store.save_word_list(db, "ken-words", words("懸念"), owner="ken")
    with pytest.raises(store.StoreError, match="class list"):
        store.save_word_list(db, "class-a", words("一"), owner="hana")
    with pytest.raises(store.StoreError, match="class list"):
        store.delete_word_list(db, "class-a", owner="hana")
    with pytest.raises(store.StoreError, match="taken"):
        store.save_word_list(db, "ken-words", words("一"), owner="hana")
    with pytest.raises(store.StoreError, match="taken"):
        store.save_word_list(db, "ken-words", words("一"))  # a class list cannot take a student's name either
    assert [w.word for w in store.load_word_list(db, "class-a")] == ["把握", "促す"]
    assert [w.word for w in store.load_word_list(db, "ken-words")] == ["懸念"]


def test_replacing_reports_the_change_and_can_be_undone_and_redone(db):
    store.save_word_list(db, "class-a", words("把握", "促す", "懸念"), source_file="v1.csv")
    assert store.list_changes(db, "class-a", words("把握", "和やか")) == (1, 2)
    assert store.list_changes(db, "nothing-yet", words("把握")) is None
    store.save_word_list(db, "class-a", words("把握", "和やか"), source_file="v2.csv", by="sato")
    kept = store.backup_of(db, "class-a")
    assert (kept["word_count"], kept["source_file"], kept["how"], kept["replaced_by"]) == (3, "v1.csv", "replaced", "sato")
    assert store.restore_word_list(db, "class-a") == 3
    assert [w.word for w in store.load_word_list(db, "class-a")] == ["把握", "促す", "懸念"]
    assert store.backup_of(db, "class-a")["word_count"] == 2  # the undone version is kept in turn
    store.restore_word_list(db, "class-a")
    assert [w.word for w in store.load_word_list(db, "class-a")] == ["把握", "和やか"]


def test_a_deleted_list_can_be_restored_by_its_owner_only(db):
    store.save_word_list(db, "hana-words", words("和やか"), owner="hana")
    store.delete_word_list(db, "hana-words", owner="hana")
    assert store.word_lists(db, "hana") == []
    with pytest.raises(store.StoreError, match="no earlier version"):
        store.restore_word_list(db, "hana-words", owner="ken")
    assert store.backups(db, "ken") == []
    store.restore_word_list(db, "hana-words", owner="hana")
    assert [w.word for w in store.load_word_list(db, "hana-words")] == ["和やか"]


def test_a_failed_replace_keeps_the_list_and_its_backup(db):
    store.save_word_list(db, "class-a", words("把握"))
    store.save_word_list(db, "class-a", words("促す"))
    with pytest.raises(store.StoreError):
        store.save_word_list(db, "class-a", [])
    assert [w.word for w in store.load_word_list(db, "class-a")] == ["促す"]
    assert store.backup_of(db, "class-a")["word_count"] == 1
