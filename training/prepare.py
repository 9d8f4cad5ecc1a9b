"""Batch output -> filtered prompt/completion dataset, split by story.

    python -m training.prepare --batch-output OUT.jsonl [--batch-input IN.jsonl]
        [--format v1|v2|words] [--prompt-words used|all] --out DIR [--seed 0] [--min-chars 600] [--max-chars 2600]
        [--min-density 5.0] [--max-repeat 0.2] [--val 0.05] [--test 0.05]

Reads OpenAI Batch output lines (or the simpler {"custom_id", "text"} lines), parses both answer
formats of the original project with the header grammar of core.generation.prompts.parse_answer
(labels in full or half width, Markdown bold and headings, 「」『』<> around values, genre pairs
joined by × ・ ／ 、 と or spaces), analyses each story and drops, in this order, the first rule
that fails:

    malformed_json    the line is not a JSON object
    wrong_format      JSON, but neither a Batch output line nor {"custom_id", "text"}
    failed_request    response.status_code != 200, or `error` set
    unparseable       no headers above the story (本文：, or a --- rule or text below タイトル and
                      the others), or an empty body
    bad_header        the headers name neither one of STYLES nor any of GENRES (a story with one
                      of the two is kept; its records say which is unknown and its prompt says 不明)
    too_short         body shorter than --min-chars characters
    too_long          body longer than --max-chars characters
    low_density       N1 density below --min-density
    repetitive        repeated-sentence rate above --max-repeat
    near_duplicate    same title + first 50 body characters as a kept story, or character
                      5-gram Jaccard >= 0.8 against a kept story (the first one is kept)

Every dropped line goes to DIR/rejects.jsonl with its reason, line number, custom_id and the
raw line. Kept stories become records in DIR/dataset (datasets.DatasetDict) and
DIR/{train,validation,test}.jsonl; DIR/report.json has the counts, means and arguments. A reason
that drops more than 20% of the lines gets one warning line (here and on the Training page).

v2 on a first-run story (no halves): the body is cut at the sentence end nearest its middle
and the summary of the first half is its first sentence.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from core import i18n
from core.analysis import analyze
from core.generation.base import STYLES
from core.generation.pipeline import repeated_sentence_rate
from core.generation.prompts import (Subject, genres_of, own_format, parse_answer, published_v1,
                                     published_v2_first, published_v2_second, style_of)
from core.i18n import N_, _

FORMATS = ("v1", "v2", "words")
PROMPT_WORDS = ("used", "all")  # which target words the words format puts in the prompt
REASONS = ("malformed_json", "wrong_format", "failed_request", "unparseable", "bad_header", "too_short",
           "too_long", "low_density", "repetitive", "near_duplicate")
EXPLAIN = {  # what a reason's rejects are, for the warning line (shown through _())
    "malformed_json": N_("lines that are not JSON objects (a cut or corrupted file?)"),
    "wrong_format": N_("JSON lines that are neither Batch output nor {custom_id, text}"),
    "failed_request": N_("requests the Batch API answered with an error"),
    "unparseable": N_("answers with no headers above the story, or no story"),
    "bad_header": N_("answers whose headers name neither a known style nor a known genre"),
    "too_short": N_("stories shorter than --min-chars"),
    "too_long": N_("stories longer than --max-chars"),
    "low_density": N_("stories below --min-density"),
    "repetitive": N_("stories above --max-repeat repeated sentences"),
    "near_duplicate": N_("near-copies of stories already kept"),
}
HEAVY = 0.2  # a reason dropping more than this share of the lines is worth a warning
SPLITS = ("train", "validation", "test")
COLUMNS = ("prompt", "completion", "custom_id", "title", "part", "unknown", "n1_density", "coverage", "chars")
JACCARD = 0.8  # near-duplicate threshold on character 5-gram sets


class PrepareError(Exception):
    """Something the user can fix (a missing file, nothing left to train on), in one sentence."""


@dataclass
class Story:
    line: int
    custom_id: str
    raw: str
    title: str = ""
    style: str = ""
    genres: tuple[str, ...] = ()
    body: str = ""
    halves: tuple[str, str, str] | None = None  # (first, summary, second) of a second-run answer
    unknown: str = ""  # "style" or "genre": the header did not name one (the prompt says 不明)
    targets: tuple[str, ...] = ()
    used: tuple[str, ...] = ()  # the targets the story really uses, in the request's order
    n1_density: float = 0.0
    coverage: float | None = None
    chars: int = 0


@dataclass
class Report:
    format: str
    args: dict
    dropped: dict[str, int]
    kept: int
    splits: dict[str, int]  # records per split
    stories_per_split: dict[str, int]
    lines: int = 0
    without_targets: int = 0  # kept stories whose custom_id had no input line
    mean_density: float | None = None
    mean_coverage: float | None = None
    mean_chars: float | None = None
    unknown: dict[str, int] | None = None  # kept stories whose header named no style / no genre
    out: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """The command line's drop table; the reasons and splits are named as in report.json."""
        rows = [(_("lines read"), self.lines)] + [(r, self.dropped.get(r, 0)) for r in REASONS]
        rows += [(_("kept"), self.kept)] + [("  " + _("{field} unknown").format(field=k), n)
                                            for k, n in (self.unknown or {}).items()]
        rows += [("  " + _("{split} (records)").format(split=s), self.splits.get(s, 0)) for s in SPLITS]
        return "\n".join(f"{name:<22}{n:>7}" for name, n in rows)

    def warnings(self) -> list[str]:
        return heavy_reasons(self.to_json())


def heavy_reasons(report: Mapping) -> list[str]:
    """One sentence per reason that dropped more than HEAVY of a report's lines (report.json's
    dict): a batch that loses a fifth of its stories to one rule needs a look, not a shrug."""
    lines, dropped = report.get("lines") or 0, report.get("dropped") or {}
    rejects = Path(report["out"]) / "rejects.jsonl" if report.get("out") else "rejects.jsonl"
    return [_("{reason} rejected {count} of {lines} lines ({share}): {explanation}; see {path}.").format(
                reason=reason, count=n, lines=lines, share=i18n.percent(n / lines, 0),
                explanation=_(EXPLAIN[reason]), path=rejects)
            for reason in REASONS if lines and (n := dropped.get(reason) or 0) / lines > HEAVY]


# ---- reading --------------------------------------------------------------------------------

def read_output(path: Path) -> Iterator[tuple[int, str, str | None, str | None]]:
    """(line number, raw line, answer text or None, reject reason or None) per non-blank line."""
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            raw = raw.rstrip("\n")
            if not raw.strip():
                continue
            try:
                d = json.loads(raw)
            except ValueError:
                yield n, raw, None, "malformed_json"
                continue
            if not isinstance(d, dict):
                yield n, raw, None, "malformed_json"
            elif isinstance(d.get("text"), str):
                yield n, raw, d["text"], None
            elif d.get("error") or (isinstance(d.get("response"), dict)
                                    and d["response"].get("status_code") != 200):
                yield n, raw, None, "failed_request"
            else:
                text = _content(d)
                yield n, raw, text, None if text is not None else "wrong_format"


def _content(d: dict) -> str | None:
    try:
        text = d["response"]["body"]["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return text if isinstance(text, str) else None


_WORDS = re.compile(r"語彙リスト[：:][ \t　]*\n?(.*?)(?:\n[ \t　]*\n|\n\s*-{3,}|\Z)", re.S)


def read_word_lists(path: Path) -> dict[str, tuple[str, ...]]:
    """custom_id -> the target words of its Batch input line (after 語彙リスト：, split on 、)."""
    lists = {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            try:
                d = json.loads(raw)
                user = [m["content"] for m in d["body"]["messages"] if m.get("role") == "user"][-1]
            except (ValueError, KeyError, IndexError, TypeError):
                continue  # a broken input line only costs its story its target words
            m = _WORDS.search(user)
            if m and isinstance(d.get("custom_id"), str):
                words = (w.strip() for w in re.split(r"[、,\n]", m.group(1)))
                lists[d["custom_id"]] = tuple(dict.fromkeys(w for w in words if w))
    return lists


# ---- parsing --------------------------------------------------------------------------------

def parse_story(text: str) -> tuple[str, str, str, str, tuple[str, str, str] | None] | None:
    """(title, style, genre, body, halves) of an answer in either format, style and genre as
    written; None without a body. The one header grammar is prompts.parse_answer's."""
    p = parse_answer(text)
    if not (p.ok and p.body):
        return None
    two = p.halves if p.halves and p.halves[0] and p.halves[2] else None  # both halves, or none
    return p.title, p.style, p.genre, p.body, two


def halves(story: Story) -> tuple[str, str, str]:
    """(first, summary, second): the answer's own halves, else the body cut at the sentence end
    nearest its middle; a missing summary is the first sentence of the first half."""
    if story.halves:
        first, summary, second = story.halves
    else:
        body = story.body
        ends = [m.end() for m in re.finditer(r"[。！？!?][」』]*", body) if m.end() < len(body)]
        cut = min(ends, key=lambda i: abs(i - len(body) / 2)) if ends else len(body) // 2
        first, summary, second = body[:cut].strip(), "", body[cut:].strip()
    m = re.match(r"[^。！？!?]*[。！？!?」』]*", first)
    return first, summary or (m.group(0).strip() if m else first), second


# ---- filtering ------------------------------------------------------------------------------

def analysis_targets(targets: Sequence[str]) -> list[str]:
    """'ロマンチック／ロマンティック' -> both spellings; '〜薬' -> '薬' (analyze matches words)."""
    return [alt.strip("〜～ ") for t in targets for alt in re.split(r"[／/]", t) if alt.strip("〜～ ")]


def used_targets(targets: Sequence[str], used: Sequence[str]) -> tuple[str, ...]:
    """The target words (as the request wrote them) of which the story uses any spelling."""
    used = set(used)
    return tuple(t for t in targets if any(a in used for a in analysis_targets([t])))


def coverage(targets: Sequence[str], used: Sequence[str]) -> float | None:
    """Share of target words (any of its spellings) that the story uses."""
    return len(used_targets(targets, used)) / len(targets) if targets else None


class Dedup:
    """Near-duplicate check against kept stories. An inverted index over a 1/8 sample of the
    5-gram hashes finds candidates, so 2,000 stories cost milliseconds each, not n² set ops."""

    def __init__(self) -> None:
        self.keys: set[tuple[str, str]] = set()
        self.shingles: list[set[int]] = []
        self.index: dict[int, list[int]] = defaultdict(list)

    def seen(self, title: str, body: str) -> bool:
        key = (title, re.sub(r"\s+", "", body)[:50])
        grams = {zlib.crc32(body[i:i + 5].encode()) for i in range(max(1, len(body) - 4))}
        sample = [g for g in grams if g % 8 == 0]
        hits = Counter(j for g in sample for j in self.index.get(g, ()))
        if key in self.keys or any(
                n >= 0.5 * len(sample) and _jaccard(grams, self.shingles[j]) >= JACCARD
                for j, n in hits.items()):
            return True
        self.keys.add(key)
        for g in sample:
            self.index[g].append(len(self.shingles))
        self.shingles.append(grams)
        return False


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def judge(story: Story, text: str, args: argparse.Namespace, dedup: Dedup, all_targets: tuple[str, ...]) -> str | None:
    """Fill in the story's parts and scores; return the reason to drop it, or None. Every story is
    analysed against the union of all target lists: analyze builds an index per target set
    (~0.2 s), so one shared set is 10x faster than one set per story; coverage then counts
    only the story's own words."""
    parsed = parse_story(text)
    if parsed is None:
        return "unparseable"
    story.title, style, genre, story.body, story.halves = parsed
    story.style, story.genres = style_of(style) if style_of(style) in STYLES else "", genres_of(genre)
    if not story.style and not story.genres:
        return "bad_header"
    story.unknown = "" if story.style and story.genres else "genre" if story.style else "style"
    story.chars = len(re.sub(r"\s", "", story.body))
    if story.chars < args.min_chars:
        return "too_short"
    if story.chars > args.max_chars:
        return "too_long"
    score = analyze(story.body, targets=all_targets).score
    story.n1_density, story.coverage = score.n1_density, coverage(story.targets, score.targets_used)
    story.used = used_targets(story.targets, score.targets_used)
    if story.n1_density < args.min_density:
        return "low_density"
    if repeated_sentence_rate(story.body) > args.max_repeat:
        return "repetitive"
    return "near_duplicate" if dedup.seen(story.title, story.body) else None


# ---- records, split, save -------------------------------------------------------------------

def records(story: Story, fmt: str, prompt_words: str = "used") -> list[dict]:
    """The prompt/completion records of one story in format v1, v2 (two) or words. The words
    format lists the target words the story really uses (`prompt_words="used"`) or every word
    the request asked for ("all"): GPT used about a quarter of its ~100 words (mean coverage
    0.23 in the first run), and a prompt naming words the completion never uses teaches the
    model that listed words are optional."""
    targets = story.used if fmt == "words" and prompt_words == "used" else story.targets
    request = Subject(genres=story.genres, style=story.style, targets=targets)
    common = {"custom_id": story.custom_id, "title": story.title, "unknown": story.unknown,
              "n1_density": story.n1_density, "coverage": story.coverage, "chars": story.chars}
    if fmt == "v2":
        first, summary, second = halves(story)
        return [{"prompt": published_v2_first(request), "completion": first, "part": "first", **common},
                {"prompt": published_v2_second(request, summary), "completion": second, "part": "second", **common}]
    prompt = own_format(request) if fmt == "words" else published_v1(request)
    return [{"prompt": prompt, "completion": story.body, "part": "whole", **common}]


def split(stories: list[Story], seed: int, val: float, test: float) -> dict[str, list[Story]]:
    """Shuffle by seed (from custom_id order, so input order does not matter) and cut; a split
    asked for gets at least one story once there are three."""
    order = sorted(stories, key=lambda s: (s.custom_id, s.line))
    random.Random(seed).shuffle(order)
    n = len(order)
    n_val, n_test = (max(1, round(n * f)) if f > 0 and n >= 3 else round(n * f) for f in (val, test))
    return {"validation": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}


def save(out: Path, parts: dict[str, list[dict]]) -> None:
    from datasets import Dataset, DatasetDict, Features, Value

    features = Features({"prompt": Value("string"), "completion": Value("string"), "custom_id": Value("string"),
                         "title": Value("string"), "part": Value("string"), "unknown": Value("string"),
                         "n1_density": Value("float64"),
                         "coverage": Value("float64"), "chars": Value("int64")})
    for name, rows in parts.items():
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    DatasetDict({name: Dataset.from_dict({c: [r[c] for r in rows] for c in COLUMNS}, features=features)
                 for name, rows in parts.items()}).save_to_disk(str(out / "dataset"))


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 3) if values else None


def prepare(batch_output: str | Path, out: str | Path, batch_input: str | Path | None = None, format: str = "v1",
            seed: int = 0, min_chars: int = 600, max_chars: int = 2600, min_density: float = 5.0,
            max_repeat: float = 0.2, val: float = 0.05, test: float = 0.05, prompt_words: str = "used") -> Report:
    """Read, filter, split and save; see the module docstring for the rules."""
    args = argparse.Namespace(**{k: v for k, v in locals().items()})
    if format not in FORMATS:
        raise PrepareError(_("Format must be one of {choices}, not {value}.").format(
            choices=", ".join(FORMATS), value=repr(format)))
    if prompt_words not in PROMPT_WORDS:
        raise PrepareError(_("Prompt words must be one of {choices}, not {value}.").format(
            choices=", ".join(PROMPT_WORDS), value=repr(prompt_words)))
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise PrepareError(_("Validation and test fractions must be at least 0 and add up to less than 1."))
    for path in (batch_output, batch_input):
        if path is not None and not Path(path).is_file():
            raise PrepareError(_("{path} does not exist or is not a file.").format(path=path))
    words = read_word_lists(Path(batch_input)) if batch_input else {}
    all_targets = tuple(sorted({w for ws in words.values() for w in analysis_targets(ws)}))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dropped, kept, dedup, lines = Counter(), [], Dedup(), 0
    with open(out / "rejects.jsonl", "w", encoding="utf-8") as rejects:
        for n, raw, text, reason in read_output(Path(batch_output)):
            lines += 1
            cid = _custom_id(raw)
            story = Story(n, cid, raw, targets=words.get(cid, ()))
            reason = reason or judge(story, text, args, dedup, all_targets)
            if reason:
                dropped[reason] += 1
                rejects.write(json.dumps({"line": n, "custom_id": cid, "reason": reason, "raw": raw},
                                         ensure_ascii=False) + "\n")
            else:
                kept.append(story)
    if lines == 0:
        raise PrepareError(_("{path} has no lines.").format(path=batch_output))
    if not kept:
        worst = max(REASONS, key=lambda r: dropped[r])
        raise PrepareError(_("No story of {path} passed the filters ({reason} rejected {count} of {lines} lines: "
                             "{explanation}); see {rejects}.").format(
            path=batch_output, reason=worst, count=dropped[worst], lines=lines, explanation=_(EXPLAIN[worst]),
            rejects=out / "rejects.jsonl"))
    by_split = split(kept, seed, val, test)
    save(out, {name: [r for s in by_split[name] for r in records(s, format, prompt_words)] for name in SPLITS})
    report = Report(
        format=format, args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        dropped={r: dropped[r] for r in REASONS}, kept=len(kept), lines=lines,
        splits={name: len(by_split[name]) * (2 if format == "v2" else 1) for name in SPLITS},
        stories_per_split={name: len(by_split[name]) for name in SPLITS},
        without_targets=sum(1 for s in kept if not s.targets) if batch_input else len(kept),
        mean_density=_mean([s.n1_density for s in kept]), mean_coverage=_mean([s.coverage for s in kept]),
        mean_chars=_mean([s.chars for s in kept]), out=str(out),
        unknown={k: sum(1 for s in kept if s.unknown == k) for k in ("style", "genre")})
    (out / "report.json").write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", "utf-8")
    return report


def _custom_id(raw: str) -> str:
    try:
        d = json.loads(raw)
        return str(d.get("custom_id", "")) if isinstance(d, dict) else ""
    except ValueError:
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    i18n.set_language(i18n.from_environment())
    ap = argparse.ArgumentParser(prog="python -m training.prepare",
                                 description=_("Batch output -> filtered prompt/completion dataset, split by story."))
    ap.add_argument("--batch-output", required=True, help=_("Batch output JSONL (or {custom_id, text} lines)"))
    ap.add_argument("--batch-input", help=_("the Batch input JSONL: target words per custom_id"))
    ap.add_argument("--format", default="v1", choices=FORMATS, help=_("prompt format of the records"))
    ap.add_argument("--prompt-words", default="used", choices=PROMPT_WORDS,
                    help=_("words format: list the target words the story uses (default) or all it was asked for"))
    ap.add_argument("--out", required=True, help=_("output directory"))
    ap.add_argument("--seed", type=int, default=0, help=_("seed of the train/validation/test split"))
    ap.add_argument("--min-chars", type=int, default=600, help=_("drop bodies shorter than this"))
    ap.add_argument("--max-chars", type=int, default=2600, help=_("drop bodies longer than this"))
    ap.add_argument("--min-density", type=float, default=5.0, help=_("drop stories below this N1 density"))
    ap.add_argument("--max-repeat", type=float, default=0.2,
                    help=_("drop stories above this repeated-sentence rate"))
    ap.add_argument("--val", type=float, default=0.05, help=_("validation fraction (of stories)"))
    ap.add_argument("--test", type=float, default=0.05, help=_("test fraction (of stories)"))
    a = ap.parse_args(argv)
    import datasets
    datasets.disable_progress_bars()  # the drop table is the output; bars would bury it
    try:
        report = prepare(a.batch_output, a.out, a.batch_input, a.format, a.seed, a.min_chars, a.max_chars,
                         a.min_density, a.max_repeat, a.val, a.test, a.prompt_words)
    except (PrepareError, OSError) as e:
        print(_("error: {message}").format(message=e), file=sys.stderr)
        return 2
    print(report.table())
    for line in report.warnings():
        print(_("warning: {message}").format(message=line))
    out = Path(report.out)
    print(_("dataset: {dataset}\njsonl:   {jsonl}\nrejects: {rejects}\nreport:  {report}").format(
        dataset=out / "dataset", jsonl=f"{out}/{{train,validation,test}}.jsonl", rejects=out / "rejects.jsonl",
        report=out / "report.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
