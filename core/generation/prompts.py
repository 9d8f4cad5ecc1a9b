"""Prompts in the formats the models were trained on, and parsing of what comes back.

A model sees the prompt format it was fine-tuned with or it writes junk, so the format is a
property of the model in the registry: "v1" / "v2" for the published rinna fine-tunes, "own"
for models trained by `training/`, "chat" for API models.

The answers of API models (and of the original project's Batch runs) carry headers: タイトル,
文体分類, ジャンル, 設定, 本文 (or 本文（上半分）／（下半分） with a 【前情提要】 line). `parse_answer`
reads them with one tolerant grammar, shared by the API backend, story import and
training.prepare, so a header GPT writes another way is read the same everywhere.

A premise (設定) and the summary of an earlier story (前情提要, "continue this story") reach each
format as far as it was trained to take them; `PREMISE_NOTES` says so in words the Generate
page shows. Without them every prompt is byte for byte what it was before they existed: trained
models depend on that.

- chat: a 設定 line the model is told to follow, and a 前情提要 line for a sequel.
- own: 【前情提要】 and 【設定】 lines between 【使用語彙】 and 【本文】. training.prepare does not
  write them yet (its records carry no 設定), so a model trained here has not learned them.
- v2 (train002): its one trained slot for content is the second half's 【前情提要】 line, so with a
  premise or a summary the first half is prompted as a 後半部分 with them as its 前情提要.
- v1 (train001): trained on the bare line, nothing else; it gets neither, and says so.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from core.generation.base import GENRES, STYLES, GenerationRequest
from core.i18n import N_
from core.sentences import sentences

FORMATS = ("v1", "v2", "own", "chat")
SENTENCE_ENDS = "。！？!?」』"

# The published models' prompt line (v1); v2 adds a half marker after it.
_HEAD = "以下は{genre}ジャンルの{style}文体で書かれた、N1単語を多く含む短編小説です："
V2_FIRST = "\nこれは短編小説の前半部分です："
V2_SECOND = "\nこれは短編小説の後半部分です。\n【前情提要】：{summary}"
# The genre pair as each model saw it in training. The original data scripts copied the answer's
# ジャンル line into the prompt: in the first run (v1) GPT chose the pair and wrote it 恋愛・学園
# (954 of 1,000 answers, the rest the same pair dressed in ** or <>, or joined by ／ or 、); the
# second run's requests dictated 乙女×バトル, so every v2 prompt has ×. "own" keeps ・.
GENRE_JOINERS = {"v1": "・", "v2": "×", "own": "・"}
UNKNOWN = "不明"  # what a training prompt says for a style or genre its answer's header did not name

_STYLE_DESCRIPTIONS = {
    "文学風": "文学風（文芸寄り） - 比喩や抽象的な表現を交え、心理描写を丁寧に行う落ち着いた文体",
    "評論風": "新聞・評論風 - 論理的で情報密度が高く、現代日本語の文章構造に沿った書き言葉の文体",
    "論述風": "教科書・論述風 - N1レベルの語彙や文末表現、形式的な表現を意識し、試験や教材でも使える文体",
}


@dataclass(frozen=True)
class Subject:
    """What a prompt names, for a training record: unlike a GenerationRequest its style may be ""
    and its genres () when the answer's header did not say; the prompt then writes 不明."""

    genres: tuple[str, ...] = ()
    style: str = ""
    targets: tuple[str, ...] = ()
    premise: str = ""  # the answer's 設定, for own-format records (prepare does not pass it yet)
    continues: str = ""


def genre_text(genres: tuple[str, ...], fmt: str = "v1") -> str:
    """The genre pair the way format `fmt` was trained on: 恋愛・学園 (v1, own), 恋愛×学園 (v2)."""
    return GENRE_JOINERS[fmt].join(genres) or UNKNOWN


def _head(fmt: str, request: GenerationRequest | Subject) -> str:
    return _HEAD.format(genre=genre_text(request.genres, fmt), style=request.style or UNKNOWN)


def published_v1(request: GenerationRequest | Subject) -> str:
    return _head("v1", request)


def published_v2_first(request: GenerationRequest | Subject) -> str:
    return _head("v2", request) + V2_FIRST


def published_v2_second(request: GenerationRequest | Subject, summary: str) -> str:
    return _head("v2", request) + V2_SECOND.format(summary=summary.strip())


def own_format(request: GenerationRequest | Subject) -> str:
    """The project's own format (models trained by training/): the v1 line plus the target
    words, so a model learns to use the words it is given; then, only when the request has
    them, the earlier story's 【前情提要】 and the 【設定】 (a prompt without them is unchanged)."""
    words = "、".join(request.targets) if request.targets else "（指定なし）"
    lines = [_head("own", request), f"【使用語彙】：{words}"]
    if request.continues:
        lines.append(f"【前情提要】：{request.continues}")
    if request.premise:
        lines.append(f"【設定】：{request.premise}")
    return "\n".join(lines) + "\n【本文】："


def v2_lead(request: GenerationRequest | Subject) -> str:
    """What train002 gets in its 【前情提要】 line for the first half: the earlier story's
    summary, then the premise; "" when there is neither (the plain first-half prompt)."""
    lead = ""
    for part in (request.continues, request.premise):
        if part:
            lead += ("" if not lead or lead.endswith(tuple(SENTENCE_ENDS)) else "。") + part
    return lead


def story_summary(text: str, limit: int = 120) -> str:
    """The 前情提要 of a story a new one continues: where it began and where it stopped (its
    first and last whole sentences, "……" between, spaces removed), at most `limit` characters.
    Not an abstract: no model is asked to write one, so it works offline and costs nothing."""
    found = [re.sub(r"\s+", "", s.text) for s in sentences(text)]
    whole = [s for s in found if s.rstrip("」』）)").endswith(tuple(SENTENCE_ENDS))] or found
    if not whole:
        return ""
    half = max(limit // 2 - 1, 1)
    first, last = whole[0][:half], whole[-1][-half:]
    return first if len(whole) == 1 else f"{first}……{last}"


def chat_messages(request: GenerationRequest, chars: int = 1500) -> list[dict[str, str]]:
    """The original project's story prompt: target words, one style of the three, two genres,
    about `chars` characters, answer headed タイトル／文体分類／ジャンル／本文; then, only when the
    request has them, the earlier story's 前情提要 and the 設定 to follow."""
    words = "、".join(request.targets) if request.targets else "（自由に選んでください）"
    user = (
        "以下の語彙を**できるだけ多く自然に使って**、日本語能力試験N1レベルの短編小説"
        f"（{chars}文字前後）を作成してください。\n※文字数は{chars}字前後に収めてください。\n\n"
        f"語彙リスト：\n{words}\n\n---\n"
        f"文体スタイル：{_STYLE_DESCRIPTIONS[request.style]}\n"
        "※会話表現は必要に応じて挿入して構いませんが、全体としては書き言葉を基本としてください。\n"
        f"ジャンル（物語の題材）：{request.genre}\n{_chat_lines(request)}\n"
        "出力形式：\nタイトル：『…』\n文体分類：…\nジャンル：…\n本文：\n…"
    )
    return [{"role": "system", "content": "あなたは日本語の小説作家です。"}, {"role": "user", "content": user}]


def _chat_lines(request: GenerationRequest) -> str:
    """The premise and sequel lines of the chat prompt ("" without them: the prompt as before)."""
    lines = ""
    if request.continues:
        lines += ("前情提要（この小説は次の話の続編です。登場人物と出来事を引き継ぎ、その後を書いてください）："
                  f"{request.continues}\n")
    if request.premise:
        lines += f"設定（物語の舞台・背景・登場人物。必ずこの設定に従って書いてください）：{request.premise}\n"
    return lines


# What each prompt format does with a premise and a sequel's summary, for the Generate page.
# Keyed by ModelSpec.prompt_format ("" is the example passage); marked here, translated where shown.
PREMISE_NOTES = {
    "chat": N_("The API model is told to follow the premise (設定) and, for a sequel, the earlier story's summary."),
    "own": N_("The premise goes in a 【設定】 line (and a sequel's summary in 【前情提要】); models trained here have "
              "not seen these lines yet, so they may follow them loosely or not at all."),
    "v2": N_("train002 was trained without a premise; its one trained slot for content is the second half's "
             "【前情提要】 line, so the premise and a sequel's summary go there, and it follows them loosely."),
    "v1": N_("train001 was trained without a premise or summary and ignores both; they are only kept with the story."),
    "": N_("The example passage is put together from stored example sentences and cannot follow a premise or "
           "continue a story; they are only kept with the story."),
}


def prompt_for(fmt: str, request: GenerationRequest) -> str:
    """The completion prompt a local model gets (the first half, for v2)."""
    if fmt == "v1":
        return published_v1(request)  # trained without a premise: it gets none (PREMISE_NOTES)
    if fmt == "v2":
        lead = v2_lead(request)
        return published_v2_second(request, lead) if lead else published_v2_first(request)
    if fmt == "own":
        return own_format(request)
    raise ValueError(f"{fmt!r} is not a completion prompt format")


# ---- reading answers --------------------------------------------------------------------------
# Every line is read NFKC-normalised (full-width colons, letters, spaces and half-width kana
# become one form) with Markdown bold, headings, quote and list marks taken off. A header is a
# label with an optional (part), then a colon and its value, or the end of the line (the value is
# on the next line); a label in 【】 may skip the colon. Values lose ** and enclosing 「」『』<>【】.

_LABELS = {"タイトル": "title", "題名": "title", "文体分類": "style", "文体スタイル": "style", "文体": "style",
           "ジャンル": "genre", "設定": "setting", "本文": "body"}
_HEADER = re.compile(r"(?P<open>[\[【])?(?P<label>" + "|".join(sorted(_LABELS, key=len, reverse=True)) +
                     r")(?P<close>[\]】])? *(?P<part>\([^)]*\))? *(?P<colon>:)?")
_SECOND_PART = re.compile(r"下|後")  # 本文（下半分）, 本文（後半）
_SUMMARY = re.compile(r"[\[【]?前情提要[\]】]? *:")
_SCORE = re.compile(r"[\[【(]?(?:語彙使用|使用語彙|語彙数|使用した語彙|スコア)")
_RULE = re.compile(r"(?:[-*_=―—─━] *){3,}")
_DRESS = re.compile(r"^(?:#+|>|[-*+•](?= ))? *")
_PAIRS = {"「": "」", "『": "』", "<": ">", "〈": "〉", "《": "》", "【": "】", "[": "]", '"': '"', "“": "”"}
_GENRE = re.compile("|".join(sorted(GENRES, key=len, reverse=True)))


@dataclass(frozen=True)
class ParsedAnswer:
    title: str
    style: str  # as written, dressing removed ('新聞・評論風'); style_of maps it to STYLES
    genre: str  # as written ('乙女×異能力'); genres_of reads the pair from it
    body: str
    ok: bool  # False: no body was found and `body` is the raw answer
    halves: tuple[str, str, str] | None = None  # (first, summary, second): 本文（上半分）／（下半分）
    setting: str = ""  # the 設定 paragraph, its lines joined


@dataclass(frozen=True)
class _Line:
    raw: str
    kind: str  # header, blank, rule, summary, score or text
    field: str = ""  # a header's: title, style, genre, setting, body (本文, 本文（上半分）) or second
    value: str = ""  # what follows a header's (or summary's) colon, as written


def _read_line(raw: str) -> _Line:
    norm = unicodedata.normalize("NFKC", raw).strip()
    if _RULE.fullmatch(norm):
        return _Line(raw, "rule")
    norm = _DRESS.sub("", norm.replace("**", "").replace("__", "").strip(), count=1)
    if not norm:
        return _Line(raw, "blank")
    m = _HEADER.match(norm)
    if m and (m["colon"] or m.end() == len(norm) or (m["open"] and m["close"])):
        field = _LABELS[m["label"]]
        if field == "body" and m["part"] and _SECOND_PART.search(m["part"]):
            field = "second"
        value = _after(raw, "：:" if m["colon"] else "】]］") if m.end() < len(norm) else ""
        return _Line(raw, "header", field, value)
    if _SUMMARY.match(norm):
        return _Line(raw, "summary", value=_after(raw, "：:"))
    return _Line(raw, "score" if _SCORE.match(norm) else "text")


def _after(raw: str, marks: str) -> str:
    """What follows the first of `marks` in the raw line: a header's value as written."""
    at = min((i for i in map(raw.find, marks) if i >= 0), default=-1)
    return raw[at + 1:] if at >= 0 else ""


def clean_value(value: str) -> str:
    """A header value without Markdown, spaces or an enclosing 「」『』<>【】 pair."""
    value = value.replace("**", "").replace("__", "").strip(" \t　")
    while len(value) >= 2 and _PAIRS.get(value[0]) == value[-1] and value[-1] not in value[1:-1]:
        value = value[1:-1].strip(" \t　")
    return value


def _read_headers(lines: list[_Line], find_start: bool) -> tuple[dict[str, str], int | None]:
    """The header fields, and (with `find_start`, for an answer without a 本文 header) the line
    its body starts on: after a rule, or the first text after the headers and the 設定
    paragraph; None when it has no header at all. A '# 題' heading above the headers stands in
    for a missing タイトル."""
    fields, awaiting, setting, start, heading = {}, "", False, None, ""
    for i, line in enumerate(lines):
        if line.kind == "header":
            value = clean_value(line.value)
            fields.setdefault(line.field, value)
            awaiting = line.field if not value and line.field != "setting" else ""
            setting = line.field == "setting"
        elif line.kind == "blank":
            setting = False
        elif awaiting and line.kind == "text":  # a label alone on its line: the value is the next line
            fields[awaiting], awaiting = clean_value(line.raw), ""
        elif setting and line.kind == "text":  # the 設定 paragraph's further lines
            fields["setting"] = fields.get("setting", "") + clean_value(line.raw)
        elif fields and not setting and find_start:
            start = i + 1 if line.kind == "rule" else i
            break
        elif not fields and not heading and line.raw.lstrip().startswith("#"):
            heading = clean_value(_DRESS.sub("", line.raw.strip(), count=1))
    if heading and not fields.get("title"):
        fields["title"] = heading
    return fields, start


def _parts(lines: list[_Line]) -> list[list[_Line]]:
    """The body's lines cut at each 本文 header (its text after the colon kept) and ended by
    the first score line (語彙使用数：…)."""
    parts: list[list[_Line]] = [[]]
    for line in lines:
        if line.kind == "score":
            break
        if line.kind == "header" and line.field in ("body", "second"):
            parts.append([])
            line = _read_line(line.value)
        parts[-1].append(line)
    return [p for p in parts if any(line.kind not in ("blank", "rule") for line in p)]


def _summary(part: list[_Line]) -> tuple[str, list[_Line]]:
    """A second half's 【前情提要】 (its first line, the value maybe on the next) and the rest."""
    filled = [i for i, line in enumerate(part) if line.kind != "blank"]
    if not filled or part[filled[0]].kind != "summary":
        return "", part
    if value := clean_value(part[filled[0]].value):
        return value, part[filled[0] + 1:]
    if len(filled) < 2:
        return "", []
    return clean_value(part[filled[1]].raw), part[filled[1] + 1:]


def _text(part: list[_Line]) -> str:
    """Body lines without rules at either end, Markdown heading marks and bold."""
    while part and part[0].kind in ("blank", "rule"):
        part = part[1:]
    while part and part[-1].kind in ("blank", "rule"):
        part = part[:-1]
    return "\n".join(re.sub(r"^[ \t]*#+[ \t]*", "", line.raw).replace("**", "") for line in part).strip()


def parse_answer(text: str) -> ParsedAnswer:
    """Split a headed answer into title, style, genre and body, and the halves of a two-half
    answer. The body starts after the first 本文 header; an answer without one starts it after
    a rule or at the first text below its headers. A malformed answer is kept whole with
    ok=False, never dropped."""
    lines = [_read_line(raw) for raw in text.splitlines()]
    at = next((i for i, line in enumerate(lines) if line.kind == "header" and line.field == "body"), None)
    fields, start = _read_headers(lines[:at], find_start=at is None)
    title, style, genre, setting = (fields.get(k, "") for k in ("title", "style", "genre", "setting"))
    start = at if at is not None else start
    if start is None:
        return ParsedAnswer(title, style, genre, text.strip(), False, setting=setting)
    parts = _parts(lines[start:])
    if len(parts) < 2:
        return ParsedAnswer(title, style, genre, _text(parts[0]) if parts else "", True, setting=setting)
    summary, second = _summary(parts[1])
    halves = (_text(parts[0]), summary, "\n\n".join(_text(p) for p in [second] + parts[2:]))
    return ParsedAnswer(title, style, genre, halves[0] + "\n\n" + halves[2], True, halves, setting)


def style_of(name: str) -> str:
    """The one of STYLES an answer's 文体分類 names ('新聞・評論風', '**論述風**' -> '評論風',
    '論述風'); `name` itself when it names none or several (a copied list of choices)."""
    norm = unicodedata.normalize("NFKC", name)
    found = [s for s in STYLES if s.rstrip("風") in norm]
    return found[0] if len(found) == 1 else name


def genres_of(genre: str) -> tuple[str, ...]:
    """The GENRES an answer's ジャンル names, in its order, however joined (×, ・, ／, 、, と,
    spaces) or dressed; () when it names none, or more than two (a copied list of choices)."""
    found = tuple(dict.fromkeys(_GENRE.findall(unicodedata.normalize("NFKC", genre))))
    return found if len(found) <= 2 else ()


def trim_to_sentence(text: str) -> str:
    """Cut a generation that stopped mid-sentence back to its last sentence end."""
    text = text.rstrip()
    cut = max(text.rfind(c) for c in SENTENCE_ENDS)
    if cut < 0:
        return text
    # A closing quote right after a sentence end belongs to that sentence.
    return text[:cut + 1]
