"""A write that returns is durable; one interrupted leaves nothing behind. A real child
process saves stories in a loop and is killed with SIGKILL while still writing; the file is
then opened again and checked: every id the child printed is there, no story is half-written
and no word row has lost its story."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import store
from core.analysis import analyze

ROOT = Path(__file__).resolve().parent.parent

# Precomputes a few analyses, then saves forever (until killed; a cap stops an orphan),
# printing each id only after save_story has returned.
CHILD = r"""
import sys, time
from core import store
from core.analysis import analyze

texts = ["先生は学生に発言を促した。彼はまた参加を促す。", "彼は状況を把握するのに時間がかかった。",
         "私は毎日学校に行きます。", "母は子供に早く寝るよう促した。" * 20]
analyses = [analyze(t) for t in texts]
db = store.Database(sys.argv[1])
if sys.argv[2] != "default":
    db.execute(f"SET checkpoint_threshold = '{sys.argv[2]}'")
print("ready", flush=True)
deadline, i = time.monotonic() + 60, 0
while time.monotonic() < deadline:
    story_id = store.save_story(db, analyses[i % len(analyses)], store.Story(profile="child", title=f"s{i}"))
    print(story_id, flush=True)
    i += 1
"""


def kill_midway(script: str, args: list[str], kill_after: int, pause: float) -> list[int]:
    """Run `script` in a child process that prints "ready", then one number per write that has
    returned; SIGKILL it after `kill_after` numbers and `pause` seconds (which shifts the kill
    to another moment of the next write). Every number it printed, read after its death."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, cwd=ROOT)
    printed: list[int] = []
    try:
        assert child.stdout.readline().strip() == b"ready", child.stderr.read().decode(errors="replace")
        while len(printed) < kill_after:
            line = child.stdout.readline()
            assert line.endswith(b"\n"), f"child stopped early: {child.stderr.read().decode(errors='replace')}"
            printed.append(int(line))
        time.sleep(pause)
        assert child.poll() is None, "the child must still be writing when it is killed"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        rest = child.stdout.read()  # numbers printed before the kill but not yet read
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    return printed + [int(line) for line in rest.split(b"\n")[:-1]]  # the last piece is "" or a cut line


@pytest.mark.parametrize("checkpoint", ["default", "1KB"])  # 1KB: a checkpoint after nearly every commit
@pytest.mark.parametrize("kill_after, pause", [(30, 0.0), (61, 0.0013), (97, 0.0071)])
def test_killed_writer_leaves_every_returned_story_whole(tmp_path, kill_after, pause, checkpoint):
    path = tmp_path / "killed.duckdb"
    printed = kill_midway(CHILD, [str(path), checkpoint], kill_after, pause)
    assert len(printed) >= kill_after

    db = store.Database(path)
    try:
        rows = {sid: (word_rows, actual) for sid, word_rows, actual in db.execute(
            "SELECT s.id, s.word_rows, count(w.story_id) FROM stories s "
            "LEFT JOIN story_words w ON w.story_id = s.id GROUP BY s.id, s.word_rows")}
        assert set(printed) <= set(rows)
        assert len(rows) <= len(printed) + 1  # at most the save that was cut after its commit
        assert {sid: r for sid, r in rows.items() if r[0] != r[1] or r[0] == 0} == {}
        assert db.scalar("SELECT count(*) FROM story_words WHERE story_id NOT IN (SELECT id FROM stories)") == 0
        assert store.count_stories(db) == len(rows)
        # and the file is still writable after recovery
        new_id = store.save_story(db, analyze("彼は状況を把握した。"), store.Story(profile="after"))
        assert new_id > max(rows)
    finally:
        db.close()



# Marks the same 300 words known, then learning, then known... printing each round only after
# set_states has returned. A bulk change must land whole or not at all.
KNOWN_CHILD = r"""
import sys, time
from core import store
from core.store import known

words = [f"語{i}" for i in range(300)]
db = store.Database(sys.argv[1])
print("ready", flush=True)
deadline, i = time.monotonic() + 60, 0
while time.monotonic() < deadline:
    known.set_states(db, "child", words, "known" if i % 2 == 0 else "learning", "levels")
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("kill_after, pause", [(10, 0.0), (23, 0.0031)])
def test_killed_bulk_marking_lands_whole_or_not_at_all(tmp_path, kill_after, pause):
    path = tmp_path / "known.duckdb"
    rounds = kill_midway(KNOWN_CHILD, [str(path)], kill_after, pause)

    db = store.Database(path)
    try:
        states = set(db.execute("SELECT DISTINCT state FROM word_states WHERE profile = 'child'"))
        last = rounds[-1]
        possible = [{("known" if r % 2 == 0 else "learning",)} for r in (last, last + 1)]
        assert states in possible, f"after round {last} the words are in states {states}"
        assert db.scalar("SELECT count(*) FROM word_states") == 300
        # The log holds each committed round whole: 300 rows per round, nothing of a cut one.
        assert db.scalar("SELECT count(*) FROM word_state_log") in (300 * (last + 1), 300 * (last + 2))
    finally:
        db.close()


# Grades 20 learning words round and round (Again, Hard, Good, Easy in turn), printing each grade
# only after grade() has returned. A grade writes the card and its log row in one transaction.
STUDY_CHILD = r"""
import sys, time
from core import store
from core.store import known, study

words = [f"語{i}" for i in range(20)]
db = store.Database(sys.argv[1])
known.set_states(db, "child", words, "learning")
print("ready", flush=True)
deadline, i = time.monotonic() + 60, 0
while time.monotonic() < deadline:
    study.grade(db, "child", words[i % len(words)], i % 4 + 1, duration_ms=i)
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("kill_after, pause", [(25, 0.0), (47, 0.0019)])
def test_killed_grading_leaves_cards_that_the_log_rebuilds(tmp_path, kill_after, pause):
    from core.store import study

    path = tmp_path / "study.duckdb"
    graded = kill_midway(STUDY_CHILD, [str(path)], kill_after, pause)

    db = store.Database(path)
    try:
        log = study.review_log(db, "child")
        assert len(log) in (len(graded), len(graded) + 1)  # every returned grade, and at most one more
        assert [r["duration_ms"] for r in log] == list(range(len(log)))  # in order, none lost or doubled
        stored = study.cards(db, "child")
        assert len(stored) == min(len(log), 20)
        assert study.rebuild(db, "child") == len(stored)
        assert study.cards(db, "child") == stored  # each card is what its log gives, none half-written
        study.grade(db, "child", "語0", 3)  # and the file is still writable after recovery
    finally:
        db.close()
