"""The prompts we send the published models are the lines they were trained on.

The original project's data scripts built each training prompt from the answer's own headers:
the text after the first ジャンル： and 文体分類： up to the line end (不明ジャンル / 不明文体 when
missing), in 以下は{genre}ジャンルの{style}文体で書かれた、N1単語を多く含む短編小説です：. The
second run's script added これは短編小説の前半部分です： to the first half's prompt and
これは短編小説の後半部分です。\\n【前情提要】：{summary} to the second half's, and cut the halves
at 本文（上半分）：, 本文（下半分）： and 【前情提要】：. Those rules are rebuilt here (in our words),
applied to the first run's real answers (../shared/corpus, skipped when absent) and to two-half
answers written for this test (tests/data/prompt_second_run.jsonl), and compared with what
prompts.py sends and what training.prepare writes.
"""
from __future__ import annotations

import json
import re
from itertools import permutations
from pathlib import Path

import pytest

from core.generation.base import GENRES, STYLES, GenerationRequest
from core.generation.prompts import (genre_text, genres_of, own_format, prompt_for, published_v1,
                                     published_v2_first, published_v2_second, style_of)
from tests.shared import CORPUS
from training.prepare import prepare

SECOND_RUN = Path(__file__).parent / "data" / "prompt_second_run.jsonl"
KEEP_ALL = {"min_chars": 0, "max_chars": 100_000, "min_density": 0.0, "max_repeat": 1.0, "val": 0.0, "test": 0.0}


# ---- the original data scripts' rules --------------------------------------------------------

def first_run_field(answer: str, label: str) -> str:
    """First run: everything after the first 'label：' up to the end of that line, stripped."""
    _, found, rest = answer.partition(f"{label}：")
    return rest.split("\n", 1)[0].strip() if found else ""


def second_run_field(answer: str, label: str) -> str:
    """Second run: the first 'label：' that has something after it on its line, stripped."""
    m = re.search(f"{label}：(.+)", answer)
    return m.group(1).strip() if m else ""


def trained_line(genre: str, style: str) -> str:
    return f"以下は{genre or '不明ジャンル'}ジャンルの{style or '不明文体'}文体で書かれた、N1単語を多く含む短編小説です："


def second_run_records(answer: str) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """((prompt, completion) of the first half, of the second half), or None when the answer
    lacks the halves' headers (the script skipped it)."""
    head = trained_line(second_run_field(answer, "ジャンル"), second_run_field(answer, "文体分類"))
    first = re.search(r"本文（上半分）：\s*(.*?)(?=\n+本文（下半分）：)", answer, re.S)
    second = re.search(r"本文（下半分）：\s*【前情提要】：[ \t]*([^\n]*?)\s*\n+(.*)", answer, re.S)
    if not (first and second):
        return None
    return ((head + "\nこれは短編小説の前半部分です：", first.group(1).strip()),
            (head + f"\nこれは短編小説の後半部分です。\n【前情提要】：{second.group(1).strip()}", second.group(2).strip()))


def plain(value: str, joiner: str = "") -> str:
    """A header value without the Markdown and <> a few answers wrapped it in; with `joiner`, a
    genre pair joined the way the run's prompts mostly joined it."""
    value = re.sub(r"\*\*|[<>]", "", value).strip()
    return re.sub(r"\s*[／、・×]\s*", joiner, value) if joiner else value


def records(folder: Path) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for line in (folder / "train.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        rows.setdefault(row["custom_id"], []).append(row)
    return rows


# ---- v1: the first run ---------------------------------------------------------------------

@pytest.mark.skipif(not (CORPUS / "stories_train1.jsonl").exists(), reason="shared corpus not present")
def test_v1_prompts_are_the_first_runs_training_lines(tmp_path):
    answers = {json.loads(x)["custom_id"]: json.loads(x)["text"]
               for x in (CORPUS / "stories_train1.jsonl").read_text("utf-8").splitlines()}
    report = prepare(CORPUS / "stories_train1.jsonl", tmp_path / "v1", CORPUS / "requests_train1.jsonl",
                     format="v1", **KEEP_ALL)
    rows = records(tmp_path / "v1")
    assert report.kept == len(rows) == len(answers) == 1000
    exact = 0
    for cid, (row,) in rows.items():
        genre, style = first_run_field(answers[cid], "ジャンル"), first_run_field(answers[cid], "文体分類")
        assert row["prompt"] == trained_line(plain(genre, "・"), plain(style)), cid
        exact += row["prompt"] == trained_line(genre, style)
        request = GenerationRequest(genres=genres_of(genre), style=style_of(style))
        assert published_v1(request) == row["prompt"]  # what the app sends for that pair and style
    assert exact >= 950  # 954 answers wrote a plain X・Y pair and 文学風; the rest add ** or <> or ／、
    print(f"v1 prompts identical to the trained line: {exact} of {len(rows)}")


# ---- v2: the second run's two halves ------------------------------------------------------

def test_v2_prompts_are_the_second_runs_training_lines(tmp_path):
    answers = {d["custom_id"]: d["response"]["body"]["choices"][0]["message"]["content"]
               for d in map(json.loads, SECOND_RUN.read_text("utf-8").splitlines())}
    prepare(SECOND_RUN, tmp_path / "v2", format="v2", **KEEP_ALL)
    rows = records(tmp_path / "v2")
    assert set(rows) == set(answers)
    dressed = 0
    for cid, (first, second) in rows.items():
        (p1, c1), (p2, c2) = second_run_records(answers[cid])
        genre, style = second_run_field(answers[cid], "ジャンル"), second_run_field(answers[cid], "文体分類")
        trained = trained_line(plain(genre, "×"), plain(style))
        dressed += trained != trained_line(genre, style)
        assert (first["part"], second["part"]) == ("first", "second")
        assert first["prompt"] == p1.replace(trained_line(genre, style), trained), cid
        assert second["prompt"] == p2.replace(trained_line(genre, style), trained), cid
        # The script kept the --- rule between the halves at the end of the first; we do not.
        assert first["completion"] == re.sub(r"\s*-{3,}$", "", c1) and second["completion"] == c2
        request = GenerationRequest(genres=genres_of(genre), style=style_of(style))
        summary = p2.split("【前情提要】：")[1]
        assert prompt_for("v2", request) == published_v2_first(request) == first["prompt"]
        assert published_v2_second(request, summary) == second["prompt"]  # what the app sends for the second half
    assert dressed == 1  # t03 wrote 文体分類：論述風** as the later run did; its prompt drops the **


def test_v2_first_half_line_joins_the_pair_with_times():
    request = GenerationRequest(genres=("乙女", "バトル"), style="評論風")
    assert published_v2_first(request) == ("以下は乙女×バトルジャンルの評論風文体で書かれた、N1単語を多く含む短編小説です："
                                           "\nこれは短編小説の前半部分です：")
    assert published_v2_second(request, " 前半の要約。 ") == ("以下は乙女×バトルジャンルの評論風文体で書かれた、N1単語を多く含む"
                                                       "短編小説です：\nこれは短編小説の後半部分です。\n【前情提要】：前半の要約。")
    assert published_v1(request).startswith("以下は乙女・バトルジャンルの")


# ---- every pair the Generate page offers ----------------------------------------------------

@pytest.mark.parametrize("style", STYLES)
def test_every_pair_the_generate_page_offers_is_written_as_trained(style):
    for pair in permutations(GENRES, 2):
        request = GenerationRequest(genres=pair, style=style)
        assert f"は{pair[0]}・{pair[1]}ジャンルの{style}文体で" in published_v1(request)
        assert f"は{pair[0]}×{pair[1]}ジャンルの{style}文体で" in published_v2_first(request)
        assert own_format(request).startswith(published_v1(request) + "\n【使用語彙】：")
        for fmt in ("v1", "v2", "own"):
            assert genres_of(genre_text(pair, fmt)) == pair  # what we write, the parser reads back


# ---- premise (設定) and sequels (前情提要) -----------------------------------------------------

from core.generation.base import PREMISE_MAX, GenerationError  # noqa: E402
from core.generation.prompts import PREMISE_NOTES, chat_messages, parse_answer, story_summary, v2_lead  # noqa: E402

PLAIN = GenerationRequest(targets=("把握", "促す"), genres=("学園", "恋愛"), style="文学風")
PREMISE = "舞台は海辺の町の高校。転校生の美咲は図書室で古い日記を見つける。"
SEQUEL = "春が来た。……彼は明日もここで会おうと告げた。"
LINE = "以下は学園・恋愛ジャンルの文学風文体で書かれた、N1単語を多く含む短編小説です："
# The chat prompt as it was before premises existed, written out: what trained models and the
# API saw must not move by a byte when no premise is given.
CHAT_BEFORE = (
    "以下の語彙を**できるだけ多く自然に使って**、日本語能力試験N1レベルの短編小説（1500文字前後）を作成してください。\n"
    "※文字数は1500字前後に収めてください。\n\n語彙リスト：\n把握、促す\n\n---\n"
    "文体スタイル：文学風（文芸寄り） - 比喩や抽象的な表現を交え、心理描写を丁寧に行う落ち着いた文体\n"
    "※会話表現は必要に応じて挿入して構いませんが、全体としては書き言葉を基本としてください。\n"
    "ジャンル（物語の題材）：学園・恋愛\n\n出力形式：\nタイトル：『…』\n文体分類：…\nジャンル：…\n本文：\n…"
)


def test_prompts_without_a_premise_are_byte_for_byte_as_before():
    assert prompt_for("own", PLAIN) == LINE + "\n【使用語彙】：把握、促す\n【本文】："
    assert prompt_for("v1", PLAIN) == LINE
    assert prompt_for("v2", PLAIN) == LINE.replace("学園・恋愛", "学園×恋愛") + "\nこれは短編小説の前半部分です："
    assert chat_messages(PLAIN) == [{"role": "system", "content": "あなたは日本語の小説作家です。"},
                                    {"role": "user", "content": CHAT_BEFORE}]


def test_own_format_carries_the_premise_and_the_sequels_summary_before_the_body():
    request = GenerationRequest(targets=("把握",), premise=PREMISE, continues=SEQUEL)
    assert prompt_for("own", request) == (f"{LINE}\n【使用語彙】：把握\n【前情提要】：{SEQUEL}\n【設定】：{PREMISE}"
                                          "\n【本文】：")
    assert prompt_for("own", GenerationRequest(premise=PREMISE)).endswith(f"（指定なし）\n【設定】：{PREMISE}\n【本文】：")


def test_chat_prompt_tells_the_model_to_follow_the_premise_and_continue_the_story():
    user = chat_messages(GenerationRequest(targets=("把握",), premise=PREMISE, continues=SEQUEL))[1]["content"]
    assert f"必ずこの設定に従って書いてください）：{PREMISE}\n" in user
    assert "この小説は次の話の続編です。" in user and SEQUEL in user
    assert user.index("ジャンル（物語の題材）") < user.index("前情提要") < user.index("設定（") < user.index("出力形式")


def test_v2_gets_the_premise_in_its_trained_summary_line_and_v1_ignores_it():
    request = GenerationRequest(genres=("乙女", "バトル"), premise=PREMISE, continues="前の話は雨で終わった")
    assert v2_lead(request) == "前の話は雨で終わった。" + PREMISE
    assert prompt_for("v2", request) == published_v2_second(request, v2_lead(request))
    assert prompt_for("v2", request).endswith("これは短編小説の後半部分です。\n【前情提要】：前の話は雨で終わった。" + PREMISE)
    assert prompt_for("v1", request) == published_v1(request) == published_v1(GenerationRequest(genres=("乙女", "バトル")))
    assert "ignores" in PREMISE_NOTES["v1"] and "cannot follow" in PREMISE_NOTES[""]


def test_a_premise_is_one_line_and_a_long_one_is_refused_in_one_sentence():
    request = GenerationRequest(premise="  舞台は海辺の町。\n主人公は  high school の生徒。\n")
    assert request.premise == "舞台は海辺の町。主人公は high school の生徒。"
    with pytest.raises(GenerationError) as err:
        GenerationRequest(premise="あ" * (PREMISE_MAX + 1))
    assert str(err.value) == f"The premise has {PREMISE_MAX + 1} characters; keep it to {PREMISE_MAX} or fewer."


def test_parse_answer_keeps_the_whole_setting_paragraph():
    answer = "タイトル：灯台\n文体分類：文学風\nジャンル：恋愛・学園\n設定：舞台は港町。\n主人公は灯台守の娘。\n\n本文：\n霧の朝だった。"
    parsed = parse_answer(answer)
    assert parsed.setting == "舞台は港町。主人公は灯台守の娘。" and parsed.body == "霧の朝だった。"
    assert parse_answer("タイトル：x\nジャンル：恋愛\n本文：\n本文だけ。").setting == ""


@pytest.mark.parametrize("text, summary", [
    ("春が来た。彼は歩いた。\n「終わりだ。」と彼女は言った。書きかけ", "春が来た。……「終わりだ。」と彼女は言った。"),
    ("一文だけの話。", "一文だけの話。"),
    ("句点のない話", "句点のない話"),
    ("あ" * 100 + "。" + "い" * 100 + "。", "あ" * 59 + "……" + "い" * 58 + "。"),
])
def test_a_sequels_summary_is_where_the_story_began_and_where_it_stopped(text, summary):
    assert story_summary(text) == summary
