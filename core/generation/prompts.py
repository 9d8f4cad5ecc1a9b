"""Prompts in the formats the models were trained on, and parsing of what comes back.

A model sees the prompt format it was fine-tuned with or it writes junk, so the format is a
property of the model in the registry: "v1" / "v2" for the published rinna fine-tunes, "own"
for models trained by `training/`, "chat" for API models.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from core.generation.base import STYLES, GenerationRequest

FORMATS = ("v1", "v2", "own", "chat")
SENTENCE_ENDS = "。！？!?」』"

# The published models' prompt line (v1); v2 adds a half marker after it.
_HEAD = "以下は{genre}ジャンルの{style}文体で書かれた、N1単語を多く含む短編小説です："
V2_FIRST = "\nこれは短編小説の前半部分です："
V2_SECOND = "\nこれは短編小説の後半部分です。\n【前情提要】：{summary}"

_STYLE_DESCRIPTIONS = {
    "文学風": "文学風（文芸寄り） - 比喩や抽象的な表現を交え、心理描写を丁寧に行う落ち着いた文体",
    "評論風": "新聞・評論風 - 論理的で情報密度が高く、現代日本語の文章構造に沿った書き言葉の文体",
    "論述風": "教科書・論述風 - N1レベルの語彙や文末表現、形式的な表現を意識し、試験や教材でも使える文体",
}


def published_v1(request: GenerationRequest) -> str:
    return _HEAD.format(genre=request.genre, style=request.style)


def published_v2_first(request: GenerationRequest) -> str:
    return published_v1(request) + V2_FIRST


def published_v2_second(request: GenerationRequest, summary: str) -> str:
    return published_v1(request) + V2_SECOND.format(summary=summary.strip())


def own_format(request: GenerationRequest) -> str:
    """The project's own format (models trained by training/): the published line plus the
    target words, so a model learns to use the words it is given."""
    words = "、".join(request.targets) if request.targets else "（指定なし）"
    return f"{published_v1(request)}\n【使用語彙】：{words}\n【本文】："


def chat_messages(request: GenerationRequest, chars: int = 1500) -> list[dict[str, str]]:
    """The original project's story prompt: target words, one style of the three, two genres,
    about `chars` characters, answer headed タイトル／文体分類／ジャンル／本文."""
    words = "、".join(request.targets) if request.targets else "（自由に選んでください）"
    user = (
        "以下の語彙を**できるだけ多く自然に使って**、日本語能力試験N1レベルの短編小説"
        f"（{chars}文字前後）を作成してください。\n※文字数は{chars}字前後に収めてください。\n\n"
        f"語彙リスト：\n{words}\n\n---\n"
        f"文体スタイル：{_STYLE_DESCRIPTIONS[request.style]}\n"
        "※会話表現は必要に応じて挿入して構いませんが、全体としては書き言葉を基本としてください。\n"
        f"ジャンル（物語の題材）：{request.genre}\n\n"
        "出力形式：\nタイトル：『…』\n文体分類：…\nジャンル：…\n本文：\n…"
    )
    return [{"role": "system", "content": "あなたは日本語の小説作家です。"}, {"role": "user", "content": user}]


def prompt_for(fmt: str, request: GenerationRequest) -> str:
    """The completion prompt a local model gets (the first half, for v2)."""
    if fmt == "v1":
        return published_v1(request)
    if fmt == "v2":
        return published_v2_first(request)
    if fmt == "own":
        return own_format(request)
    raise ValueError(f"{fmt!r} is not a completion prompt format")


@dataclass(frozen=True)
class ParsedAnswer:
    title: str
    style: str
    genre: str
    body: str
    ok: bool  # False: the headers were missing and `body` is the raw answer


_FIELD = {"title": r"タイトル", "style": r"文体(?:分類)?", "genre": r"ジャンル"}
_BODY = re.compile(r"^\s*本文[^：:\n]*[：:]\s*", re.M)


def parse_answer(text: str) -> ParsedAnswer:
    """Split a headed answer (タイトル：『…』 / 文体分類： / ジャンル： / 設定： / 本文：) into its
    parts. A malformed answer is kept whole with ok=False, never dropped."""
    text = re.sub(r"^[ \t]*#+[ \t]*", "", text.replace("**", ""), flags=re.M)  # markdown dressing
    found = {}
    for name, label in _FIELD.items():
        m = re.search(rf"^\s*{label}\s*[：:]\s*(.+?)\s*$", text, re.M)
        found[name] = m.group(1).strip() if m else ""
    found["title"] = found["title"].strip("『』「」 ")
    # Some answers put a --- rule between the setting and the story instead of 本文：.
    body = _BODY.search(text) or (re.search(r"^\s*-{3,}\s*$\n?", text, re.M) if found["title"] else None)
    if not body:
        return ParsedAnswer(found["title"], found["style"], found["genre"], text.strip(), False)
    rest = text[body.end():]
    # A self-reported score line or a second-half header is not part of the story.
    rest = re.split(r"^\s*[（(【]?(?:語彙使用|使用語彙|語彙数|スコア)", rest, maxsplit=1, flags=re.M)[0]
    rest = re.sub(r"^\s*本文[^：:\n]*[：:]\s*(【前情提要】[：:][^\n]*\n)?", "", rest, flags=re.M)
    return ParsedAnswer(found["title"], found["style"], found["genre"], rest.strip(), True)


def trim_to_sentence(text: str) -> str:
    """Cut a generation that stopped mid-sentence back to its last sentence end."""
    text = text.rstrip()
    cut = max(text.rfind(c) for c in SENTENCE_ENDS)
    if cut < 0:
        return text
    # A closing quote right after a sentence end belongs to that sentence.
    return text[:cut + 1]


def style_of(name: str) -> str:
    """Map an answer's 文体分類 back to one of STYLES ('新聞・評論風' -> '評論風')."""
    return next((s for s in STYLES if s.rstrip("風") in name), name)
