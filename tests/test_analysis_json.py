"""The --json document (core.analysis_json): read back, it gives the same matches as
`analyze()`, on real Japanese through real fugashi + unidic-lite."""
from __future__ import annotations

import json
import re
from itertools import islice

import pytest

from core.analysis import Analysis, analyze
from core.analysis_json import FORMAT, VERSION, AnalysisJSONError, dumps, read_matches, to_json
from core.wordlists import ListWord
from tests.shared import CORPUS

STORY = ("放課後の教室で、彼女は状況を把握しようと周囲を見渡した。案の定、誰も来ない。\n"
         "部長は部下に報告を促したが、彼は敢えて黙っていた。雨にも拘らず試合は続いた。\n"
         "睡眠薬を飲んだ彼は「大丈夫だ」と言い、\"引用\"と\\記号と\ttabも混ぜた。")


def expected(a: Analysis) -> list[tuple]:
    """What `analyze()` says of each match, in the order of the read-back records."""
    return [(m.start, m.end, m.surface, m.ruby, m.word, m.reading, m.level, tuple(m.meanings), m.source,
             tuple(m.lists), tuple(m.targets)) for m in a.matches]


def round_trip(a: Analysis) -> list[tuple]:
    return [tuple(r) for r in read_matches(json.loads(dumps(a)))]


def test_document_reads_back_to_the_same_matches_with_lists_and_targets():
    lists = {"class-a": [ListWord("薬", ("〜薬",), "やく", ("medicine (suffix)",), 2),
                         ListWord("見渡す", ("見渡す",), "", ("look out over",), 3)]}
    a = analyze(STORY, lists=lists, targets=["把握", "促す", "未曾有"])
    assert a.matches and round_trip(a) == expected(a)
    doc = to_json(a)
    assert (doc["format"], doc["version"], doc["text"]) == (FORMAT, VERSION, STORY)
    assert doc["score"] == json.loads(json.dumps(a.score.to_json()))
    by_word = {w["word"]: w for w in doc["words"]}
    assert by_word["促す"]["targets"] == ["促す"] and "class-a" in by_word["薬"]["lists"]
    # A custom word listed without a reading still carries its occurrence's ruby.
    assert any(len(row) == 4 and doc["words"][row[2]]["word"] == "見渡す" for row in doc["matches"])


def test_each_word_is_written_once_and_ruby_only_where_it_differs():
    a = analyze("部長は部下に報告を促した。部下に報告を促す。")
    doc = to_json(a)
    assert len(doc["words"]) == len({m.sense for m in a.matches}) < len(doc["matches"])
    rows = {a.text[s:e]: rest for s, e, *rest in doc["matches"]}
    assert len(rows["促し"]) == 2 and rows["促し"][1] == "うながし"  # conjugated: its own reading
    assert len(rows["促す"]) == 1 and len(rows["部下"]) == 1  # reads as the headword: no ruby


@pytest.mark.skipif(not (CORPUS / "stories_train1.jsonl").exists(), reason="shared corpus not present")
def test_original_stories_read_back_to_the_same_matches():
    with open(CORPUS / "stories_train1.jsonl", encoding="utf-8") as fh:
        text = "\n".join(json.loads(line)["text"] for line in islice(fh, 20))
    a = analyze(text)
    assert len(a.matches) > 1000 and round_trip(a) == expected(a)


@pytest.mark.parametrize("text", ["", "Hello, world!", "😀\u2028\x00"])
def test_text_without_matches_is_a_valid_document(text):
    doc = to_json(analyze(text))
    assert (doc["text"], doc["words"], doc["matches"]) == (text, [], [])


@pytest.mark.parametrize("doc, message", [
    ({"matches": [{"word": "把握"}], "score": {}}, "unversioned (version 1)"),
    ({"format": FORMAT, "version": 3}, "version 3"),
    ({"format": "something-else", "version": VERSION}, "something else"),
    ([1, 2], "something else"),
])
def test_other_formats_are_refused_in_one_sentence(doc, message):
    with pytest.raises(AnalysisJSONError, match=re.escape(message)) as err:
        read_matches(doc)
    assert "analyze --json" in str(err.value) and "\n" not in str(err.value)
