"""Personal coverage (core.coverage, core.store.coverage): the measures on texts with known
answers, the stored per-story values equal to the ones computed from the text, staleness when a
student marks words, stories kept before coverage existed, and refreshes from 8 threads."""
from __future__ import annotations

import threading

import pytest

from core import store
from core.analysis import analyze
from core.coverage import band, count_old_stories, from_counts, personal
from core.store import coverage as stored
from core.store import known

TEXT = "部長は部下に報告を促した。部下はすぐに状況を把握した。"


@pytest.fixture
def db(tmp_path):
    database = store.Database(tmp_path / "coverage.duckdb")
    yield database
    database.close()


def test_content_words_count_by_headword_and_function_words_count_as_known():
    a = analyze(TEXT)
    assert a.heads == {"部長": 1, "部下": 2, "報告": 1, "促す": 1, "すぐに": 1, "状況": 1, "把握": 1}
    assert sum(a.heads.values()) == a.score.content_words == 8
    # 17 running words: 8 content words and 9 particles/auxiliaries (は に を た …), no symbols
    assert a.running_words == 17
    c = personal(a, {"部長", "部下", "報告"})
    assert (c.content_words, c.known_content, c.known_share) == (8, 4, 0.5)
    assert c.miss_rate == round(4 / 17, 4)
    assert set(c.new_words) == {"促す", "すぐに", "状況", "把握"}
    everything = personal(a, set(a.heads))
    assert (everything.known_share, everything.miss_rate, everything.new_words) == (1.0, 0.0, ())
    assert everything.band == "98% and above"


def test_names_are_not_running_words_and_kana_spellings_meet_their_word():
    # 真理 is a character here (as a name at the head of a clause): neither a word to know nor a running word
    a = analyze("真理は静かに笑った。真理の声が響いた。")
    assert "真理" not in a.heads and a.heads["笑う"] == 1
    assert "真理" in analyze("人生の真理を知る。").heads  # the N1 word, where it is one
    # a place name is not a running word either; とる in kana counts as the word it is (撮る here)
    b = analyze("田中さんは東京で写真をとった。")
    assert "東京" not in b.heads and "田中" not in b.heads
    assert b.heads == {"写真": 1, "撮る": 1}


@pytest.mark.parametrize("known_running, label", [(1.0, "98% and above"), (0.98, "98% and above"),
                                                  (0.979, "95–98%"), (0.95, "95–98%"), (0.9499, "below 95%")])
def test_bands_follow_the_95_and_98_percent_thresholds(known_running, label):
    assert band(known_running) == label


def test_an_empty_text_is_fully_covered_not_a_division_by_zero():
    c = from_counts({}, 0, set())
    assert (c.known_share, c.miss_rate, c.new_words) == (1.0, 0.0, ())


def _save(db, text, profile="hana"):
    return store.save_story(db, analyze(text), store.Story(profile=profile))


def test_stored_coverage_equals_the_coverage_computed_from_the_text(db):
    texts = [TEXT, "彼女は和やかな雰囲気の中で微笑んだ。", "写真をとる。田中さんは写真を撮った。"]
    ids = [_save(db, t) for t in texts]
    known.set_states(db, "hana", ["部下", "報告", "彼女", "写真", "雰囲気"], "known", "import")
    known.set_states(db, "hana", ["状況"], "learning")  # learning is not known yet
    assert stored.refresh(db, "hana") == 3
    words = known.known_words(db, "hana")
    for story_id, text in zip(ids, texts):
        c = personal(analyze(text), words)
        row = stored.coverage_of(db, story_id, "hana")
        assert (row["known_share"], row["miss_rate"], row["new_words"]) == (c.known_share, c.miss_rate, len(c.new_words))


def test_rows_go_stale_when_the_student_marks_words_and_only_then_are_recomputed(db):
    story_id = _save(db, TEXT)
    _save(db, TEXT + "別の話。", profile="ken")  # another student's story gets no row for hana
    assert stored.refresh(db, "hana") == 1
    assert stored.refresh(db, "hana") == 0  # nothing changed since
    before = stored.coverage_of(db, story_id, "hana")
    known.set_states(db, "hana", ["促す", "把握"], "known", "reader")
    assert stored.refresh(db, "hana") == 1
    after = stored.coverage_of(db, story_id, "hana")
    assert (before["miss_rate"], after["miss_rate"]) == (round(8 / 17, 4), round(6 / 17, 4))
    assert after["known_version"] == before["known_version"] + 2
    assert db.scalar("SELECT count(*) FROM story_coverage WHERE profile = 'hana'") == 1


def test_the_library_sorts_and_filters_by_coverage(db):
    easy, hard = _save(db, "部長は部下に報告した。"), _save(db, TEXT)
    known.set_states(db, "hana", ["部長", "部下", "報告", "する"], "known", "import")
    stored.refresh(db, "hana")
    f = store.StoryFilter(profile="hana", reader="hana")
    rows = store.list_stories(db, f, order="coverage", columns=("id", "miss_rate", "new_words"))
    assert [r["id"] for r in rows] == [easy, hard] and rows[0]["miss_rate"] == 0.0
    readable = store.StoryFilter(profile="hana", reader="hana", min_known=0.95)
    assert [r["id"] for r in store.list_stories(db, readable, columns=("id",))] == [easy]
    assert store.count_stories(db, readable) == 1


def test_stories_kept_before_coverage_existed_are_counted_once(db):
    story_id = _save(db, TEXT)
    db.execute("DELETE FROM story_heads")
    db.execute("UPDATE stories SET running_words = NULL")  # as migration 6 leaves an older story
    assert stored.refresh(db, "hana") == 0  # uncounted stories get no coverage yet
    assert count_old_stories(db) == 1 and count_old_stories(db) == 0
    assert db.scalar("SELECT running_words FROM stories WHERE id = ?", [story_id]) == 17
    assert stored.refresh(db, "hana") == 1


def test_refreshes_from_eight_threads_while_words_are_marked_end_consistent(db):
    for i in range(6):
        _save(db, TEXT + "。" * i)
    words = list(analyze(TEXT).heads)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(6):
                if i % 2:
                    known.set_states(db, "hana", [words[(i + j) % len(words)]], "known" if j % 2 else "new")
                stored.refresh(db, "hana")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    stored.refresh(db, "hana")
    words_now = known.known_words(db, "hana")
    version = db.scalar("SELECT count(*) FROM word_state_log WHERE profile = 'hana'")
    expected = personal(analyze(TEXT), words_now)
    for row in db.rows("SELECT known_share, miss_rate, known_version FROM story_coverage WHERE profile = 'hana'"):
        assert row["known_version"] == version
        assert (row["known_share"], row["miss_rate"]) == (expected.known_share, expected.miss_rate)
