"""The hand-checked N1 precision set (tests/data/n1_precision.tsv): N1 matches in sentences of
the original project's stories, each judged in context by a reader of Japanese.

The corpus may not be copied into the repository, so a row names its sentence by story
(`custom_id`) and by the SHA-1 of the sentence text; the sentence is rebuilt from
../shared/corpus/stories_train1.jsonl at test time. Stories 1-500 were read while the rules
were tuned; the set's `held-out` rows come from stories 501-1000 and nobody tuning the rules
read their verdicts (`seen` rows: stories 501-1000 too, but their wrong verdicts were read).
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.generation.prompts import parse_answer
from tests.shared import CORPUS

SET = Path(__file__).parent / "data" / "n1_precision.tsv"
STORIES = CORPUS / "stories_train1.jsonl"


@dataclass(frozen=True)
class Judged:
    part: str  # 'held-out' or 'seen'
    stratum: str  # 'random' or 'other' (reached through another spelling or reading)
    start: int
    end: int
    surface: str
    word: str
    ok: bool
    note: str


def sentences(text: str) -> list[str]:
    """Sentences of a story body: cut after 。！？ (with a closing quote that follows) and at
    line ends; fragments under 8 characters are left out."""
    parts = re.findall(r"[^。！？\n]*[。！？]+[」』）]*|[^\n]+", text)
    return [s.strip() for s in parts if len(s.strip()) >= 8]


def sha(sentence: str) -> str:
    return hashlib.sha1(sentence.encode("utf-8")).hexdigest()[:12]


def story_sentences() -> dict[tuple[str, str], tuple[str, str, int]]:
    """(custom_id, sentence sha) -> (sentence, its story's body, where it starts there), for
    every story of the first run. The analyzer reads whole stories, as the app does."""
    out = {}
    with STORIES.open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            body = parse_answer(d["text"]).body
            for s in sentences(body):
                out[(d["custom_id"], sha(s))] = (s, body, body.find(s))
    return out


def load() -> dict[tuple[str, str], list[Judged]]:
    """(custom_id, sentence sha) -> the judged matches in that sentence."""
    out: dict[tuple[str, str], list[Judged]] = {}
    with SET.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            out.setdefault((r["custom_id"], r["sentence_sha1"]), []).append(
                Judged(r["set"], r["stratum"], int(r["start"]), int(r["end"]), r["surface"], r["word"],
                       r["verdict"] == "ok", r["note"]))
    return out
