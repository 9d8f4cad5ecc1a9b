"""Saving a story while other sessions read: save latency with nobody reading against save
latency while reader threads run the Library and Review pages' heaviest queries, in one run.

    .venv/bin/python bench/store_concurrency.py [--stories 10000] [--saves 200] [--readers 2] [--db PATH]

Streamlit serves every browser session from its own thread, all sharing one `store.Database`.
A student saving a story should not wait for a teacher's whole-library text search. The
library is filled as bench/store.py fills it (synthetic corpus-sentence stories, 50 profiles,
5 models); `--db` reuses (or keeps) a filled file. Readers loop over: whole-library text search
(title or text), the Review page's per-model aggregates, and one profile's words met. Prints
save latency p50 / p95 / max for both phases, their ratios (loaded / idle: 1.0 means readers
cost savers nothing), and the reads done per second while saving.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.store import MODELS, PROFILES, SEARCH, fill, percentile, synthetic_texts  # noqa: E402


def reader(db, stop: threading.Event, counter: list[int]) -> None:
    from core import store

    queries = (lambda: store.list_stories(db, store.StoryFilter(search=SEARCH), limit=50),
               lambda: store.model_aggregates(db),
               lambda: store.words_met(db, PROFILES[0]))
    i = 0
    while not stop.is_set():
        queries[i % len(queries)]()
        counter[0] += 1
        i += 1


def save_latencies(db, analyses, saves: int, rng: random.Random) -> list[float]:
    from core import store

    times = []
    for _ in range(saves):
        meta = store.Story(profile=rng.choice(PROFILES), source="generated", backend="bench",
                           model=rng.choice(MODELS), title="bench")
        t0 = time.perf_counter()
        store.save_story(db, rng.choice(analyses), meta)
        times.append(time.perf_counter() - t0)
    return times


def line(name: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return f"{name:<32}{statistics.median(ms):>9.2f}{percentile(ms, 0.95):>9.2f}{max(ms):>10.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stories", type=int, default=10_000, help="library size (when filling)")
    p.add_argument("--saves", type=int, default=200, help="saves timed per phase")
    p.add_argument("--readers", type=int, default=2, help="reader threads in the loaded phase")
    p.add_argument("--db", type=Path, help="use this file (filled first when it has no stories)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    from core import store
    from core.analysis import analyze

    rng = random.Random(args.seed)
    texts, source = synthetic_texts(50, rng)
    analyses = [analyze(t) for t in texts]
    with tempfile.TemporaryDirectory() as tmp:
        db = store.Database(args.db or Path(tmp) / "bench.duckdb")
        if store.count_stories(db) == 0:
            fill(db, analyses, [f"題{i}" for i in range(len(analyses))], args.stories, rng)
        library = store.count_stories(db)
        t0 = time.perf_counter()
        store.list_stories(db, store.StoryFilter(search=SEARCH), limit=50)
        search_ms = (time.perf_counter() - t0) * 1000
        idle = save_latencies(db, analyses, args.saves, rng)
        stop, counter = threading.Event(), [0]
        threads = [threading.Thread(target=reader, args=(db, stop, counter)) for _ in range(args.readers)]
        for t in threads:
            t.start()
        time.sleep(0.5)  # readers under way
        t0, before = time.perf_counter(), counter[0]
        loaded = save_latencies(db, analyses, args.saves, rng)
        reads_per_s = (counter[0] - before) / (time.perf_counter() - t0)
        stop.set()
        for t in threads:
            t.join()
        db.close()
    print(f"library: {library:,} stories ({source}); whole-library search {search_ms:.0f} ms; "
          f"{args.saves} saves per phase, {args.readers} reader threads")
    print(f"{'save latency (ms)':<32}{'p50':>9}{'p95':>9}{'max':>10}")
    print(line("nobody reading", idle))
    print(line(f"{args.readers} sessions reading", loaded))
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        ratio = percentile(loaded, q) / percentile(idle, q)
        print(f"{name} loaded / idle: {ratio:.2f}x")
    print(f"reads done while saving: {reads_per_s:.1f} per second")


if __name__ == "__main__":
    main()
