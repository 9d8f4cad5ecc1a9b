"""`python -m core ...` as a real subprocess: output formats, errors, word list import."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from core.analysis_json import MatchRecord, read_matches

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, stdin: bytes | None = None, lang: str = "en") -> subprocess.CompletedProcess:
    """The CLI in `lang` (NONESTORY_LANG): English unless a test asks, whatever the machine's locale."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NONESTORY_LANG=lang)
    return subprocess.run([sys.executable, "-m", "core", *args], input=stdin, capture_output=True,
                          env=env, cwd=ROOT, timeout=120)


def matches(stdout: bytes) -> dict[str, MatchRecord]:
    """The --json document's matches by surface, read back through its schema."""
    return {m.surface: m for m in read_matches(json.loads(stdout))}


def test_analyze_json_from_stdin_has_words_matches_and_score():
    r = cli("analyze", "--json", "-", stdin="部長は部下に報告を促した。".encode())
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["format"], out["version"], out["text"]) == ("nonestory-analysis", 2, "部長は部下に報告を促した。")
    w = next(i for i, w in enumerate(out["words"]) if w["word"] == "促す")
    assert (out["words"][w]["reading"], out["words"][w]["level"]) == ("うながす", "N1")
    assert [9, 11, w, "うながし"] in out["matches"]  # ruby written: it differs from the headword's
    assert out["score"]["unique_n1"] == 2


def test_analyze_json_writes_each_word_once():
    r = cli("analyze", "--json", "-", stdin="状況を把握。状況を把握。".encode())
    out = json.loads(r.stdout)
    assert [w["word"] for w in out["words"]] == ["状況", "把握"]
    assert out["matches"] == [[0, 2, 0], [3, 5, 1], [6, 8, 0], [9, 11, 1]]


def test_analyze_levels_filter_and_file_argument(tmp_path):
    f = tmp_path / "story.txt"
    f.write_text("部長は部下に報告を促した。", encoding="utf-8")
    r = cli("analyze", "--levels", "N1", "--json", str(f))
    assert {m.level for m in matches(r.stdout).values()} == {"N1"}


def test_analyze_reads_shift_jis_file_and_offsets_index_decoded_text(tmp_path):
    f = tmp_path / "sjis.txt"
    f.write_bytes("はい。\r\n状況を把握した。".encode("cp932"))
    r = cli("analyze", "--json", str(f))
    assert r.returncode == 0 and json.loads(r.stdout)["score"]["unique_n1"] == 1
    assert matches(r.stdout)["把握"].start == 7  # the text newline-normalised, as the document carries it


def test_analyze_html_escapes_script(tmp_path):
    r = cli("analyze", "--html", "-", stdin="<script>alert(1)</script>把握".encode())
    assert r.returncode == 0 and "&lt;script&gt;" in r.stdout.decode() and "<script>" not in r.stdout.decode()


def test_analyze_text_summary_lists_words():
    r = cli("analyze", "-", stdin="状況を把握した。".encode())
    assert "N1 density" in r.stdout.decode() and "把握" in r.stdout.decode()


@pytest.mark.parametrize("args, message", [
    (["analyze", "missing.txt"], "No such file"),
    (["analyze", "--levels", "N7", "-"], "Unknown level"),
    (["vocab", "import", "missing.csv", "--name", "x", "--word-col", "0"], "No such file"),
    (["vocab", "import", "README.md", "--name", "N1", "--word-col", "0"], "reserved"),
])
def test_user_errors_are_one_line_and_exit_2(args, message):
    r = cli(*args, stdin=b"")
    err = r.stderr.decode().strip()
    assert r.returncode == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_user_errors_speak_the_language_of_nonestory_lang():
    """NONESTORY_LANG=ja: the one-line error is the Japanese catalogue's, not the English text."""
    from core import i18n

    r = cli("analyze", "missing.txt", lang="ja")
    ja = i18n.translations("ja").gettext
    english = "error: No such file: missing.txt"
    expected = ja("error: {message}").format(message=ja("No such file: {path}").format(path="missing.txt"))
    assert r.returncode == 2 and r.stderr.decode().strip() == expected
    assert expected != english


def test_binary_input_is_refused_with_one_sentence(tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    r = cli("analyze", str(f))
    assert r.returncode == 2 and "binary" in r.stderr.decode()


def test_vocab_import_xlsx_then_use_list_in_analyze(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["常用表达", "注音/原文", "中文意思", "備註"])
    sheet.append(["ロマンチック／ロマンティック", "", "浪漫", ""])
    sheet.append(["〜薬", "やく", "药", "suffix"])
    sheet.append(["再開", "さいかい", "重新开始", ""])
    path = tmp_path / "teacher.xlsx"
    book.save(path)
    r = cli("vocab", "import", str(path), "--name", "class-a", "--word-col", "常用表达",
            "--reading-col", "1", "--meaning-col", "中文意思")
    assert r.returncode == 0, r.stderr
    assert "3 words" in r.stdout.decode()
    assert "class-a\t3" in cli("vocab", "list").stdout.decode()
    r = cli("analyze", "--list", "class-a", "--json", "-", stdin="睡眠薬の後、会議を再開した。".encode())
    found = matches(r.stdout)
    assert "class-a" in found["薬"].lists and "class-a" in found["再開"].lists


def test_vocab_import_bad_file_leaves_existing_list_intact(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("word,reading\n把握,はあく\n", encoding="utf-8")
    assert cli("vocab", "import", str(good), "--name", "mine", "--word-col", "word").returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(os.urandom(4096))
    r = cli("vocab", "import", str(bad), "--name", "mine", "--word-col", "word")
    assert r.returncode == 2 and len(r.stderr.decode().strip().splitlines()) == 1
    assert "mine\t1" in cli("vocab", "list").stdout.decode()


def test_analyze_unknown_list_says_how_to_import():
    r = cli("analyze", "--list", "nope", "-", stdin="把握".encode())
    assert r.returncode == 2 and "vocab import" in r.stderr.decode()


# ---- generate: a premise, a sequel, and a student's own words ---------------------------------

def _db():
    from core import settings, store
    return store.Database(settings.paths().db)


def _generate_json(*args: str) -> dict:
    r = cli("generate", "--seed", "1", "--json", *args)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def test_generate_keeps_the_premise_with_the_story():
    out = _generate_json("--words", "把握", "--premise", "舞台は海辺の町。", "--profile", "hana")
    assert out["premise"] == "舞台は海辺の町。" and out["continued_from"] is None
    db = _db()
    try:
        from core import store
        assert store.get_story(db, out["id"])["params"]["premise"] == "舞台は海辺の町。"
    finally:
        db.close()


def test_generate_continues_a_profiles_own_story_and_refuses_anothers():
    first = _generate_json("--words", "把握", "--profile", "hana")
    second = _generate_json("--continue", str(first["id"]), "--profile", "hana")
    assert second["continued_from"] == first["id"]
    r = cli("generate", "--continue", str(first["id"]), "--profile", "ken")
    err = r.stderr.decode().strip()
    assert r.returncode == 2 and err == (f"error: Story #{first['id']} is not in your Library; "
                                         "you can continue only your own stories.")
    r = cli("generate", "--continue", "999", "--profile", "hana")
    assert r.returncode == 2 and "There is no story #999 to continue" in r.stderr.decode()


def test_generate_for_a_profile_picks_its_words_prints_its_coverage_and_teaches_the_words():
    from core import vocab
    from core.store import known

    db = _db()
    known.set_states(db, "hana", [w for lv in ("N5", "N4", "N3") for w in vocab.level_words(lv)], "known", "levels")
    db.close()
    out = _generate_json("--for-profile", "hana")
    plan, personal = out["plan"], out["personal"]
    assert plan["due"] == [] and len(plan["new"]) == 1 and set(plan["new"]) <= set(vocab.level_words("N1"))
    assert personal["learning"] == plan["new"] and plan["new"][0] in personal["new_words"]
    assert 0 < personal["known"] < 0.95 and personal["band"] == "below 95%"
    db = _db()
    try:
        assert all(known.word_states(db, "hana")[w] == "learning" for w in plan["new"])
    finally:
        db.close()
    text = cli("generate", "--for-profile", "hana", "--seed", "2").stdout.decode()
    assert "your words: due " in text and "coverage for hana: " in text and "now learning: " in text


@pytest.mark.parametrize("args, message", [
    (["--for-profile", "hana", "--words", "把握"], "picks the target words itself"),
    (["--for-profile", "hana", "--profile", "ken"], "leave out --profile"),
    (["--for-profile", "   "], "name"),
    (["--premise", "あ" * 301], "The premise has 301 characters; keep it to 300 or fewer."),
])
def test_generate_bad_flags_are_one_line_and_exit_2(args, message):
    r = cli("generate", *args)
    err = r.stderr.decode().strip()
    assert r.returncode == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err
