"""training.prepare on small Batch files written here: both answer formats, every drop reason,
the three record formats, the split, the saved DatasetDict and the CLI."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from training.prepare import REASONS, PrepareError, halves, parse_story, prepare, read_word_lists

ROOT = Path(__file__).resolve().parent.parent
from tests.shared import CORPUS  # noqa: E402

# N1-dense sentences built here: templates filled at random per story, so two stories share
# few character 5-grams (the near-duplicate check must not fire on them).
_NAMES = ("美咲", "悠斗", "翔太", "葵", "健二", "真理", "蓮", "夕美", "直人", "静香")
_NOUNS = ("宿命", "郷愁", "眼差し", "思惑", "兆し", "契機", "絆", "慣習", "覚悟", "沈黙", "緊迫感", "試練",
          "面影", "矛盾", "誇り", "葛藤", "憧憬", "気配", "余韻", "軌跡", "使命", "偏見", "衝動", "秩序")
_ADJS = ("曖昧な", "揺るぎない", "潔い", "厳かな", "儚い", "頑なな", "健やかな", "鮮やかな", "密かな", "淡い")
_TEMPLATES = ("{n}は{a}{x}を胸に、{y}の重みを吟味していた。", "{a}{x}が、{n}の{y}を根底から覆しかねなかった。",
              "{n}は辛うじて{y}を装ったが、{a}{x}を隠しきれなかった。", "{x}と{y}の狭間で、{n}は{a}決意を固めた。",
              "{n}にとって{x}は、{a}{y}とも言える重荷であった。")


def body(seed: int, n: int = 40) -> str:
    """n sentences, different for every seed, none repeated within the story."""
    rng = random.Random(seed)
    return "".join(rng.choice(_TEMPLATES).format(n=rng.choice(_NAMES), a=rng.choice(_ADJS), x=rng.choice(_NOUNS),
                                                 y=rng.choice(_NOUNS)) + f"それは第{seed}話の{i}場面だった。"
                   for i in range(n))


def first_run(title: str, text: str, markdown: bool = False) -> str:
    b = "**" if markdown else ""
    return (f"{b}タイトル：{b}『{title}』  \n{b}文体分類：{b}文学風  \n{b}ジャンル：{b}恋愛・学園  \n"
            f"{b}設定：{b}舞台は地方の公立高校。設定の文は本文に入らない。\n\n{b}本文：{b}  \n{text}\n\n"
            "語彙使用スコア：4.2")


def second_run(title: str, first: str, summary: str, second: str) -> str:
    return (f"タイトル：『{title}』\n文体分類：新聞・評論風\nジャンル：異能力／バトル\n\n"
            f"本文（上半分）：\n{first}\n\n本文（下半分）：【前情提要】：{summary}\n{second}\n\n"
            "（語彙使用数：72語）")


def out_line(cid: str, content: str, status: int = 200, error=None) -> str:
    return json.dumps({"id": f"batch_{cid}", "custom_id": cid, "error": error,
                       "response": {"status_code": status, "request_id": "r",
                                    "body": {"choices": [{"index": 0, "message": {"role": "assistant",
                                                                                  "content": content}}]}}},
                      ensure_ascii=False)


def in_line(cid: str, words: list[str]) -> str:
    user = ("以下の語彙を使って短編小説を作成してください。\n\n語彙リスト：\n" + "、".join(words)
            + "\n\n---\n文体スタイル：文学風\n")
    return json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": "gpt-4o-mini", "messages": [
                           {"role": "system", "content": "あなたは日本語の小説作家です。"},
                           {"role": "user", "content": user}]}}, ensure_ascii=False)


WORDS = {f"s{i}": ["曖昧", "宿命", "吟味", f"語{i}", "ロマンチック／ロマンティック"] for i in range(12)}
GOOD = 8  # s0..s5 first run (s1, s3 with markdown), s6, s7 second run
EXPECTED = {"malformed_json": 1, "failed_request": 2, "too_short": 1, "low_density": 1, "near_duplicate": 1,
            "wrong_format": 1, "unparseable": 1, "repetitive": 1}


@pytest.fixture
def batch(tmp_path):
    lines = [out_line(f"s{i}", first_run(f"題{i}", body(i), markdown=i % 2 == 1)) for i in range(6)]
    lines += [out_line(f"s{i}", second_run(f"題{i}", body(i, 20), f"第{i}話の要約である。", body(i + 50, 20)))
              for i in (6, 7)]
    lines += [
        out_line("s8", "", status=500),  # failed request
        out_line("s9", "", status=200, error={"code": "server_error", "message": "boom"}),
        '{"custom_id": "s10", "response": {"status_co',  # malformed JSON
        out_line("s10", first_run("短い", body(10, 3))),  # too short
        out_line("s11", first_run("薄い", "今日は朝ご飯を食べて、学校へ行きました。" * 40)),  # low density
        out_line("s12", first_run("題0", body(0))),  # duplicate of s0
        json.dumps({"custom_id": "s13", "foo": 1}),  # wrong format
        out_line("s14", "これは見出しのない答えです。"),  # unparseable
        out_line("s15", first_run("繰り返し", "彼女は曖昧な返事をしたが、その眼差しには揺るぎない決意が宿っていた。" * 30)),  # repetitive
    ]
    out = tmp_path / "out.jsonl"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join(in_line(c, w) for c, w in WORDS.items()) + "\nnot json\n", encoding="utf-8")
    return out, inp


def test_parse_story_first_run_drops_setting_and_markdown():
    title, style, genre, text, parts = parse_story(first_run("月光", body(1), markdown=True))
    assert (title, style, genre, parts) == ("月光", "文学風", "恋愛・学園", None)
    assert "設定" not in text and "**" not in text and "スコア" not in text and text.startswith(body(1)[:20])


def test_parse_story_second_run_gives_halves_and_summary():
    title, style, genre, text, (first, summary, second) = parse_story(
        second_run("影", "前半の文。", "前半の要約。", "後半の文。"))
    assert (title, style, genre) == ("影", "新聞・評論風", "異能力／バトル")
    assert (first, summary, second) == ("前半の文。", "前半の要約。", "後半の文。")
    assert text == "前半の文。\n\n後半の文。"


def test_prepare_counts_every_reason_and_rejects_every_line(batch, tmp_path):
    out, inp = batch
    report = prepare(out, tmp_path / "d", inp, seed=0)
    saved = json.loads((tmp_path / "d" / "report.json").read_text("utf-8"))
    assert saved["dropped"] == {r: EXPECTED.get(r, 0) for r in REASONS}
    assert saved["kept"] == report.kept == GOOD and saved["lines"] == GOOD + sum(EXPECTED.values())
    rejects = [json.loads(x) for x in (tmp_path / "d" / "rejects.jsonl").read_text("utf-8").splitlines()]
    assert len(rejects) == sum(EXPECTED.values())
    assert {(r["custom_id"], r["reason"]) for r in rejects} >= {("s8", "failed_request"), ("s12", "near_duplicate"),
                                                               ("s11", "low_density"), ("s10", "too_short")}
    assert [r["line"] for r in rejects if r["reason"] == "malformed_json"] == [11]
    assert all(r["raw"] for r in rejects)
    print(report.table())


def train_rows(d) -> dict[str, dict]:
    return {r["custom_id"]: r for r in map(json.loads, (d / "train.jsonl").read_text("utf-8").splitlines())}


def test_target_words_come_from_the_input_line(batch, tmp_path):
    out, inp = batch
    assert read_word_lists(inp)["s3"] == tuple(WORDS["s3"])
    prepare(out, tmp_path / "d", inp, format="words", val=0, test=0, prompt_words="all")
    rows = train_rows(tmp_path / "d")
    assert "【使用語彙】：曖昧、宿命、吟味、語3、ロマンチック／ロマンティック\n" in rows["s3"]["prompt"]
    assert rows["s3"]["coverage"] == pytest.approx(3 / 5)  # 曖昧, 宿命, 吟味 used


def test_words_prompt_lists_only_the_words_the_story_uses_by_default(batch, tmp_path):
    out, inp = batch
    prepare(out, tmp_path / "d", inp, format="words", val=0, test=0)
    rows = train_rows(tmp_path / "d")
    assert "【使用語彙】：曖昧、宿命、吟味\n" in rows["s3"]["prompt"]  # 語3 and ロマンチック never appear
    assert rows["s3"]["coverage"] == pytest.approx(3 / 5)  # coverage still counts against all five
    assert json.loads((tmp_path / "d" / "report.json").read_text("utf-8"))["args"]["prompt_words"] == "used"


def test_prompt_words_unknown_is_one_error(batch, tmp_path):
    out, inp = batch
    with pytest.raises(PrepareError, match="Prompt words must be one of used, all"):
        prepare(out, tmp_path / "d", inp, format="words", prompt_words="some")


def test_record_formats(batch, tmp_path):
    out, inp = batch
    v1 = prepare(out, tmp_path / "v1", inp, format="v1", val=0, test=0)
    rows = [json.loads(x) for x in (tmp_path / "v1" / "train.jsonl").read_text("utf-8").splitlines()]
    assert v1.splits["train"] == len(rows) == GOOD
    assert set(rows[0]) >= {"prompt", "completion", "custom_id", "title", "n1_density", "coverage"}
    s6 = next(r for r in rows if r["custom_id"] == "s6")
    assert s6["prompt"] == "以下は異能力・バトルジャンルの評論風文体で書かれた、N1単語を多く含む短編小説です："
    prepare(out, tmp_path / "v2", inp, format="v2", val=0, test=0)
    rows = [json.loads(x) for x in (tmp_path / "v2" / "train.jsonl").read_text("utf-8").splitlines()]
    assert len(rows) == 2 * GOOD
    s6 = [r for r in rows if r["custom_id"] == "s6"]
    assert [r["part"] for r in s6] == ["first", "second"]
    assert s6[0]["prompt"].endswith("これは短編小説の前半部分です：")
    assert s6[1]["prompt"].endswith("【前情提要】：第6話の要約である。")
    assert s6[0]["completion"] == body(6, 20) and s6[1]["completion"] == body(56, 20)
    s0 = [r for r in rows if r["custom_id"] == "s0"]  # first run: cut at a sentence end mid-body
    assert s0[0]["completion"].endswith("。") and s0[0]["completion"] + s0[1]["completion"] == body(0)
    assert s0[1]["prompt"].endswith("【前情提要】：" + s0[0]["completion"].split("。")[0] + "。")


def test_split_is_deterministic_and_keeps_halves_together(batch, tmp_path):
    out, inp = batch
    ids = []
    for name in ("a", "b"):
        prepare(out, tmp_path / name, inp, format="v2", seed=3, val=0.25, test=0.25)
        ids.append({s: [json.loads(x)["custom_id"] for x in (tmp_path / name / f"{s}.jsonl").read_text("utf-8").splitlines()]
                    for s in ("train", "validation", "test")})
    assert ids[0] == ids[1]
    sets = {s: set(v) for s, v in ids[0].items()}
    assert not (sets["train"] & sets["validation"] or sets["train"] & sets["test"] or sets["validation"] & sets["test"])
    assert all(v.count(c) == 2 for v in ids[0].values() for c in v)
    other = prepare(out, tmp_path / "c", inp, format="v2", seed=4, val=0.25, test=0.25)
    assert other.stories_per_split == {"train": 4, "validation": 2, "test": 2}


def test_saved_dataset_loads_with_its_columns(batch, tmp_path):
    from datasets import load_from_disk

    out, inp = batch
    prepare(out, tmp_path / "d", inp, format="words", val=0.2, test=0.2)
    ds = load_from_disk(str(tmp_path / "d" / "dataset"))
    assert set(ds) == {"train", "validation", "test"}
    assert set(ds["train"].column_names) >= {"prompt", "completion", "custom_id", "title", "n1_density", "coverage"}
    assert sum(len(ds[s]) for s in ds) == GOOD


def test_halves_without_sentence_end_cut_in_the_middle():
    from training.prepare import Story

    first, summary, second = halves(Story(1, "x", "", body="あ" * 10))
    assert first + second == "あ" * 10 and summary == first


def test_cli_runs_and_reports_missing_file(batch, tmp_path):
    out, inp = batch
    ok = subprocess.run([sys.executable, "-m", "training.prepare", "--batch-output", str(out), "--batch-input", str(inp),
                         "--out", str(tmp_path / "d")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "near_duplicate" in ok.stdout and "rejects.jsonl" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "training.prepare", "--batch-output", str(tmp_path / "nope.jsonl"),
                          "--out", str(tmp_path / "e")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "nope.jsonl" in bad.stderr


def test_prepare_with_nothing_kept_is_a_user_error(tmp_path):
    from training.prepare import PrepareError

    path = tmp_path / "o.jsonl"
    path.write_text("{broken\n", encoding="utf-8")
    with pytest.raises(PrepareError, match="passed the filters"):
        prepare(path, tmp_path / "d")
    assert json.loads((tmp_path / "d" / "rejects.jsonl").read_text("utf-8"))["reason"] == "malformed_json"


@pytest.mark.skipif(not (CORPUS / "batch_output_sample.jsonl").exists(), reason="shared corpus not present")
def test_prepare_on_the_real_sample(tmp_path):
    report = prepare(CORPUS / "batch_output_sample.jsonl", tmp_path / "d", CORPUS / "requests_train1.jsonl", format="v2")
    print(report.table())
    assert report.lines == 40 and report.kept >= 32
    assert report.without_targets == 0 and report.mean_density > 8
    assert sum(report.stories_per_split.values()) == report.kept


# ---- real Batch output: every way GPT wrote its headers (tests/data/batch_header_variants.jsonl) ----

VARIANTS = ROOT / "tests" / "data" / "batch_header_variants.jsonl"
LOOSE = {"min_chars": 50, "min_density": 0.0, "val": 0.0, "test": 0.0}  # the fixture's stories are short
# custom_id -> (style, genres) the header grammar must read; "" / () where the header names none
HEADERS = {
    "b01": ("文学風", ("乙女", "異能力")),  # 乙女×異能力
    "b02": ("論述風", ("学園", "バトル")),  # **文体分類：** 論述風
    "b03": ("論述風", ("恋愛", "学園")),  # **文体分類：論述風** / ジャンル：恋愛・学園**
    "b04": ("文学風", ("恋愛", "異能力")),  # ### headings, ## 本文 without a colon
    "b05": ("文学風", ("学園", "恋愛")),  # the first run's own shape: 設定, score lines
    "b06": ("評論風", ("学園", "異能力")),  # ／
    "b07": ("文学風", ("恋愛", "乙女")),  # 、
    "b08": ("文学風", ("乙女", "恋愛")),  # と
    "b09": ("評論風", ("学園", "異能力")),  # 『評論風』, 「学園」×「異能力」
    "b10": ("文学風", ("バトル", "ハーレム")),  # half-width colons, spaces around ×
    "b11": ("論述風", ("バトル", "異能力")),  # half-width kana labels, full-width spaces
    "b12": ("文学風", ("乙女", "恋愛")),  # blank lines everywhere, the genre on the line after its label
    "b13": ("", ("異能力", "バトル")),  # <文学風／評論風／論述風>: the choices copied, no style
    "b14": ("評論風", ()),  # <選ばれた2つのテーマを明記>: no genre
    "b15": ("", ()),  # 童話風 / ファンタジー: neither
    "b16": ("評論風", ("乙女", "バトル")),  # second run: 本文（上半分）／（下半分）, 【前情提要】
    "b17": ("文学風", ("学園", "異能力")),  # second run in Markdown, the summary on the header's line
    "b18": ("文学風", ("学園", "恋愛")),  # no 本文：, a --- rule after 設定
    "b19": ("論述風", ("ハーレム", "学園")),  # a {custom_id, text} line
}
FAILED = {"malformed_json": 2, "failed_request": 2, "wrong_format": 1, "unparseable": 1, "bad_header": 1}


def variant_answers() -> dict[str, str]:
    from training.prepare import read_output
    return {json.loads(raw)["custom_id"]: text for _, raw, text, _ in read_output(VARIANTS) if text is not None}


@pytest.mark.parametrize("cid", HEADERS)
def test_header_grammar_reads_every_variant(cid):
    from core.generation.base import STYLES
    from core.generation.prompts import genres_of, style_of

    title, style, genre, text, parts = parse_story(variant_answers()[cid])
    assert ((style_of(style) if style_of(style) in STYLES else ""), genres_of(genre)) == HEADERS[cid]
    assert title and "**" not in title + text and "：" not in text[:20] and "---" not in text
    assert "語彙使用" not in text and "設定" not in text
    assert (parts is not None) == (cid in ("b16", "b17"))


def test_real_batch_keeps_every_readable_story_and_counts_each_reason(tmp_path):
    report = prepare(VARIANTS, tmp_path / "d", format="v1", **LOOSE)
    readable = {cid for cid, (style, genres) in HEADERS.items() if style or genres}
    assert report.lines == 25 and report.kept == len(readable) == 18
    assert report.dropped == {r: FAILED.get(r, 0) for r in REASONS}
    rows = train_rows(tmp_path / "d")
    assert set(rows) == readable
    rejects = [json.loads(x) for x in (tmp_path / "d" / "rejects.jsonl").read_text("utf-8").splitlines()]
    assert {r["custom_id"]: r["reason"] for r in rejects if r["custom_id"].startswith(("b", "u"))} == \
        {"b15": "bad_header", "u01": "unparseable"}
    assert report.unknown == {"style": 1, "genre": 1} and report.warnings() == []
    assert rows["b01"]["prompt"] == "以下は乙女・異能力ジャンルの文学風文体で書かれた、N1単語を多く含む短編小説です："


def test_unknown_style_or_genre_is_kept_and_said_in_the_record(tmp_path):
    prepare(VARIANTS, tmp_path / "d", format="v2", **LOOSE)
    rows = {(r["custom_id"], r["part"]): r for r in map(json.loads, (tmp_path / "d" / "train.jsonl")
                                                         .read_text("utf-8").splitlines())}
    assert rows["b13", "first"]["unknown"] == "style" and "異能力×バトルジャンルの不明文体で" in rows["b13", "first"]["prompt"]
    assert rows["b14", "first"]["unknown"] == "genre" and "は不明ジャンルの評論風文体で" in rows["b14", "first"]["prompt"]
    assert rows["b01", "first"]["unknown"] == "" and rows["b16", "second"]["prompt"].endswith(
        "【前情提要】：異国の少女が騎士団に現れ、その剣技で団員たちを圧倒した。")
    assert rows["b17", "second"]["completion"].startswith("放課後、美咲は思い切って")


def test_one_reason_over_a_fifth_of_the_batch_is_one_line_on_the_command_line(tmp_path):
    failed = [json.dumps({"custom_id": f"x{i}", "response": {"status_code": 429}, "error": None}) for i in range(8)]
    batch = tmp_path / "out.jsonl"
    batch.write_text(VARIANTS.read_text("utf-8") + "\n".join(failed) + "\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "training.prepare", "--batch-output", str(batch), "--out",
                          str(tmp_path / "d"), "--min-chars", "50", "--min-density", "0"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    warnings = [x for x in run.stdout.splitlines() if x.startswith("warning:")]
    assert warnings == [f"warning: failed_request rejected 10 of 33 lines (30%): requests the Batch API answered "
                        f"with an error; see {tmp_path / 'd' / 'rejects.jsonl'}."]


def test_nothing_kept_names_the_reason_that_took_the_batch(tmp_path):
    batch = tmp_path / "out.jsonl"
    batch.write_text("".join(out_line(f"s{i}", "タイトル：題\n文体分類：童話風\nジャンル：SF\n本文：\n" + body(i)) + "\n"
                             for i in range(3)), encoding="utf-8")
    with pytest.raises(PrepareError, match=r"bad_header rejected 3 of 3 lines: answers whose headers name neither"):
        prepare(batch, tmp_path / "d")
