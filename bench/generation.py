"""Generation speed on CPU: the app's streaming pipeline against a bare `model.generate`, one
batched `generate` for 8 stories against 8 stories one after another, and the CTranslate2 int8
engine (core.generation.ct2) against torch fp32 on the same model.

    .venv/bin/python bench/generation.py [--new-tokens 48] [--repeat 3] [--batch-tokens 96] [--batch-repeat 2]
                                         [--engine-tokens 64] [--engine-repeat 5] [--engines-only | --no-engines]

The model has rinna/japanese-gpt2-medium's shape (24 layers, 1024 wide, 16 heads, 32,000
vocabulary) with random weights, built in memory; the tokenizer is a 32,000-piece Unigram
over the word lists' example sentences (characters plus their most frequent 2-4-grams), so
every id the model draws decodes to Japanese text, as rinna's sentencepiece pieces do.
Streaming vs bare is greedy with min_new_tokens = max_new_tokens, so both write the same
tokens; the batch comparison samples with a fixed seed, also at a forced length. Every run
happens on a fresh worker thread (as in the app's job worker), the two sides of a comparison
alternate A B B A, and the fastest run of each is kept: on a shared machine other processes
only ever add time. Each measurement is one function returning a Row (with the 1-minute load
average when it ended); each goal is printed with its margin (>= 1 meets it) and a verdict.

Engines: the in-memory model and its tokenizer are saved once per run to a temporary folder
(about 1.4 GB of fp32 safetensors) and converted there with the engine's own `ct2.convert`
(int8 on the CPU), as the app converts a model folder on first use. Then, on the same prompt and
the same forced length (greedy; torch min_new_tokens = max_new_tokens, CTranslate2 min_length =
max_length): bare torch `generate` against a bare CTranslate2 `generate_batch` (no callback),
alternated; the bare CTranslate2 call, the engine's stream (`Ct2Backend.stream`) and whole jobs
through the real job queue in rotating order (A B C C B A ..., --engine-repeat rounds: these
runs are short, so more of them); and the engine's batch of 8 against its 8 stories one by one.
`--engines-only` skips the torch pipeline and batch rows (the torch bare runs stay: they are
the other side of the speed ratio). About 4 minutes on an idle 2-core machine without the
engines, 7 with them (3 with --engines-only).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast  # noqa: E402
from transformers.generation.streamers import BaseStreamer  # noqa: E402

from core.generation import prompts  # noqa: E402
from core.generation.base import GenerationRequest  # noqa: E402
from core.generation.hf import TransformersBackend, generation_kwargs  # noqa: E402
from core.generation.loading import LoadedModel, register  # noqa: E402
from training.tiny import corpus_sentences  # noqa: E402

MODEL_ID = "bench/rinna-medium-shape"  # a cache key only; nothing is downloaded
OVERHEAD_GOAL = 0.05  # the pipeline may cost at most 5% over a bare generate
FIRST_TOKEN_GOAL_S = 1.0
BATCH_GOAL = 3.0  # a batch of 8 at least 3x the sequential throughput
ENGINE_SPEED_GOAL = 2.5  # CTranslate2 int8 decodes at least 2.5x as many tokens/s as torch fp32
ENGINE_FIRST_TOKEN_GOAL_S = 0.5  # with CTranslate2 the first token shows within 0.5 s of the job's start
BATCH = 8
TARGETS = [("把握", "促す"), ("曖昧",), ("顕著", "緩和", "懸念"), ("傾向",), ("妥協", "措置"), ("余儀",),
           ("把握", "顕著", "措置", "緩和"), ("懸念", "促す")]  # prompts of different lengths: real padding


@dataclass(frozen=True)
class Row:
    name: str
    tokens: int
    seconds: float
    first_token_s: float | None = None
    load: float = field(default_factory=lambda: os.getloadavg()[0])  # 1-minute load when the run ended

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def bench_tokenizer(vocab_size: int = 32_000) -> PreTrainedTokenizerFast:
    """A sentencepiece-style Unigram (Metaspace, no prefix) with exactly `vocab_size` pieces."""
    sentences = corpus_sentences()
    chars = Counter(c for s in sentences for c in s if not c.isspace())
    grams = Counter(s[i:i + n] for s in sentences for n in (2, 3, 4) for i in range(len(s) - n + 1))
    specials = ["</s>", "<unk>", "\n", "▁"]
    room = vocab_size - len(specials) - len(chars)
    pieces = list(chars.items()) + [(g, c) for g, c in grams.most_common() if not any(x.isspace() for x in g)][:room]
    total = sum(c for _, c in pieces)
    vocab = [(s, 0.0) for s in specials] + [(p, math.log(c / total)) for p, c in pieces]
    tok = Tokenizer(models.Unigram(vocab, unk_id=1))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    tok.decoder = decoders.Metaspace(prepend_scheme="never")
    # bos as GPT-2 has it (= eos; never added to a prompt): CTranslate2 cannot open a conversion
    # whose config says bos_token null.
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="</s>", eos_token="</s>", pad_token="</s>",
                                   unk_token="<unk>")


def build_model(tokenizer: PreTrainedTokenizerFast, layers: int, width: int, heads: int) -> LoadedModel:
    eos = tokenizer.eos_token_id
    config = GPT2Config(n_layer=layers, n_embd=width, n_head=heads, vocab_size=len(tokenizer), n_positions=1024,
                        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    torch.manual_seed(0)
    return register(MODEL_ID, GPT2LMHeadModel(config), tokenizer, device="cpu")


class _FirstToken(BaseStreamer):
    """Notes when `generate` hands over its first new token (the first put is the prompt)."""

    def __init__(self) -> None:
        self.puts, self.at = 0, None

    def put(self, value: torch.Tensor) -> None:
        self.puts += 1
        if self.puts == 2:
            self.at = time.perf_counter()

    def end(self) -> None:
        pass


def fixed_length(request: GenerationRequest, tokens: int) -> GenerationRequest:
    """Force exactly `tokens` new tokens, so every variant does the same work."""
    return replace(request, max_new_tokens=tokens, extra={"min_new_tokens": tokens})


def _engine(backend) -> str:
    return "" if backend.name == "hf" else f" ({backend.name})"


def measure_bare(loaded: LoadedModel, request: GenerationRequest) -> Row:
    """`model.generate` on the backend's own prompt and settings, nothing else."""
    ids = loaded.tokenizer(prompts.own_format(request), add_special_tokens=False, return_tensors="pt")["input_ids"]
    kwargs = generation_kwargs(request, loaded.eos_id, request.max_new_tokens)
    first = _FirstToken()
    start = time.perf_counter()
    out = loaded.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), streamer=first, **kwargs)
    seconds = time.perf_counter() - start
    return Row("bare model.generate", out.shape[1] - ids.shape[1], seconds, first.at - start)


def measure_pipeline(backend, request: GenerationRequest) -> Row:
    """`backend.stream` (TransformersBackend or Ct2Backend) as the job worker drives it, then
    `finish`: worker thread, model lock, streamer decoding, first text piece on the consumer's side."""
    start, first_at = time.perf_counter(), None
    pieces = []
    for piece in backend.stream(request):
        if first_at is None:
            first_at = time.perf_counter()
        pieces.append(piece)
    backend.finish(request, "".join(pieces))
    return Row(f"pipeline: backend.stream{_engine(backend)}", request.max_new_tokens, time.perf_counter() - start,
               first_at - start)


def measure_job(manager, request: GenerationRequest, spec=None) -> Row:
    """The whole app path: a job submitted to the queue, its worker streaming through the
    backend into the page's live buffer, then analysis and storage of the story. First token =
    from the worker taking the job to the first piece a page can show."""
    from core import store
    from core.generation.registry import ModelSpec

    spec = spec or ModelSpec("bench", "hf", MODEL_ID, "own")
    job_id = manager.submit(spec, request)
    while store.status_of(manager.db, job_id) in ("queued", "running"):
        time.sleep(0.1)  # a page polls about once a second; polling harder would steal the GIL
    job, live = store.get_job(manager.db, job_id), manager.live(job_id)
    assert job["status"] == "done", job["error"]
    name = "job pipeline: queue -> stored story" + ("" if spec.backend == "hf" else f" ({spec.backend})")
    return Row(name, request.max_new_tokens, live.finished - live.started, live.first_token)


def measure_sequential(backend, requests: list[GenerationRequest]) -> Row:
    """The stories one after another, each through the streaming pipeline."""
    start = time.perf_counter()
    for request in requests:
        backend.finish(request, "".join(backend.stream(request)))
    tokens = sum(r.max_new_tokens for r in requests)
    return Row(f"{len(requests)} stories one by one (stream){_engine(backend)}", tokens, time.perf_counter() - start)


def measure_batched(backend, requests: list[GenerationRequest]) -> Row:
    """The stories through one `generate` call (`generate_batch`)."""
    start = time.perf_counter()
    drafts = backend.generate_batch(requests)
    assert len(drafts) == len(requests)
    tokens = len(requests) * requests[0].max_new_tokens
    return Row(f"{len(requests)} stories batched (generate_batch){_engine(backend)}", tokens,
               time.perf_counter() - start)


def in_worker(measure: Callable[[], Row]) -> Row:
    """Run a measurement on a fresh thread, as the app's job worker runs generation. On a busy
    2-core machine a 2-thread OpenMP generate on the main thread ran 1.7x slower than the same
    call on another thread, which would otherwise show up as a (negative) pipeline cost."""
    result: list[Row] = []
    thread = threading.Thread(target=lambda: result.append(measure()))
    thread.start()
    thread.join()
    return result[0]


def interleaved(repeat: int, first: Callable[[], Row], second: Callable[[], Row]) -> tuple[list[Row], list[Row]]:
    """`repeat` runs of each, in A B B A order, each on a fresh worker thread, so a slow spell of
    a shared machine hits both sides alike."""
    a, b = [], []
    for i in range(repeat):
        order = ((first, a), (second, b)) if i % 2 == 0 else ((second, b), (first, a))
        for measure, runs in order:
            runs.append(in_worker(measure))
    return a, b


def rotated(repeat: int, *measures: Callable[[], Row], direct: tuple[int, ...] = ()) -> list[list[Row]]:
    """`repeat` rounds of every measurement, the order reversed every other round (A B C C B A
    ...), each on a fresh worker thread except those in `direct` (a job brings its own worker)."""
    runs: list[list[Row]] = [[] for _ in measures]
    for i in range(repeat):
        order = list(enumerate(measures))
        for k, measure in order if i % 2 == 0 else order[::-1]:
            runs[k].append(measure() if k in direct else in_worker(measure))
    return runs


def fastest(runs: list[Row]) -> Row:
    """Other processes on the machine only ever add time, so the fastest run is the cleanest."""
    return min(runs, key=lambda r: r.seconds)


def _runs(rows: list[Row]) -> str:
    return "/".join(f"{r.seconds:.1f}" for r in rows)


def _loads(rows: list[Row]) -> str:
    return "/".join(f"{r.load:.1f}" for r in rows)


def print_table(rows: list[Row]) -> None:
    print(f"{'measurement':<46}{'tokens':>8}{'seconds':>10}{'tokens/s':>10}{'first token s':>15}{'load':>6}")
    for r in rows:
        first = f"{r.first_token_s:>15.3f}" if r.first_token_s is not None else f"{'':>15}"
        print(f"{r.name:<46}{r.tokens:>8}{r.seconds:>10.2f}{r.tokens_per_s:>10.2f}{first}{r.load:>6.2f}")


def goal_line(name: str, measured: str, goal: str, met: bool, ratio: str) -> None:
    print(f"{name:<46}{measured:>12}{goal:>10}{ratio:>11}  {'met' if met else 'NOT MET'}")


def overhead_goal(name: str, side: Row, base: Row) -> None:
    """`side` may cost at most OVERHEAD_GOAL over `base`; at or below zero it is free within the
    noise of the machine."""
    overhead = side.seconds / base.seconds - 1
    ratio = f"{OVERHEAD_GOAL / overhead:.2f}x" if overhead > 0 else "free"
    goal_line(name, f"{overhead:.1%}", "<= 5%", overhead <= OVERHEAD_GOAL, ratio)


def first_token_goal(name: str, row: Row, goal_s: float) -> None:
    goal_line(name, f"{row.first_token_s:.3f} s", f"<= {goal_s:g} s", row.first_token_s <= goal_s,
              f"{goal_s / row.first_token_s:.2f}x")


def batch_goal(name: str, sequential: Row, batched: Row) -> None:
    speedup = batched.tokens_per_s / sequential.tokens_per_s
    goal_line(name, f"{speedup:.2f}x", ">= 3x", speedup >= BATCH_GOAL, f"{speedup / BATCH_GOAL:.2f}x")


def print_goal_header() -> None:
    print(f"{'goal':<46}{'measured':>12}{'goal':>10}{'margin':>11}  verdict (margin >= 1 meets)")


def print_goals(bare: Row, pipeline: Row, sequential: Row, batched: Row, job: Row | None = None) -> None:
    print_goal_header()
    overhead_goal("pipeline overhead vs bare generate", pipeline, bare)
    first_token_goal("first token shown (pipeline)", pipeline, FIRST_TOKEN_GOAL_S)
    batch_goal("batch of 8 vs sequential throughput", sequential, batched)
    if job is not None:
        overhead_goal("job pipeline overhead vs bare generate", job, bare)
        first_token_goal("first token shown after the job starts", job, FIRST_TOKEN_GOAL_S)


@contextmanager
def job_manager() -> Iterator:
    """A real JobManager on a throwaway database (its worker is the thread jobs run on)."""
    from core import store
    from core.analysis import analyze
    from core.jobs import JobManager

    analyze("把握")  # the app has its vocabulary loaded before any job, as it has the model
    with tempfile.TemporaryDirectory() as tmp:
        manager = JobManager(store.Database(Path(tmp) / "bench.duckdb"))
        try:
            yield manager
        finally:
            manager.close()
            manager.db.close()


def job_pipeline_runs(request: GenerationRequest, repeat: int, spec=None) -> list[Row]:
    """`repeat` jobs through a real JobManager, one after another."""
    with job_manager() as manager:
        return [measure_job(manager, request, spec) for _ in range(repeat)]


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# -- the CTranslate2 engine -----------------------------------------------------------------------

def save_folder(loaded: LoadedModel, folder: Path) -> Path:
    """The in-memory model and tokenizer as a model folder, as training saves a checkpoint."""
    loaded.model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return folder


def convert_folder(folder: Path, progress: Callable[[str], None] | None = print) -> tuple[Path, float]:
    """The engine's own conversion of a model folder (int8 on the CPU); its folder and seconds."""
    from core.generation import ct2

    start = time.perf_counter()
    path = ct2.convert(str(folder), "cpu", progress=progress)
    return path, time.perf_counter() - start


def ct2_start_tokens(handle, request: GenerationRequest) -> list[str]:
    """The prompt as CTranslate2 takes it: token strings, from the same ids torch gets."""
    ids = handle.tokenizer(prompts.own_format(request), add_special_tokens=False)["input_ids"]
    return [handle.vocabulary[i] for i in ids]


def measure_ct2_bare(handle, request: GenerationRequest) -> Row:
    """One `Generator.generate_batch` on the converted model, nothing else (no callback): greedy,
    min_length = max_length so it writes exactly as many tokens as torch does."""
    start_tokens = ct2_start_tokens(handle, request)
    n = request.max_new_tokens
    with handle.lock:
        start = time.perf_counter()
        result = handle.generator.generate_batch(
            [start_tokens], max_length=n, min_length=n, sampling_topk=1, end_token=[handle.eos_id],
            repetition_penalty=request.repetition_penalty, include_prompt_in_result=False)
        seconds = time.perf_counter() - start
    return Row("bare ct2 generate_batch (int8)", len(result[0].sequences_ids[0]), seconds)


def measure_open(path: Path) -> float:
    """Seconds to open the converted model: what every seeded sampled CTranslate2 run pays,
    since the engine opens a fresh generator to seed it."""
    import ctranslate2

    start = time.perf_counter()
    generator = ctranslate2.Generator(str(path), device="cpu", compute_type="int8")
    seconds = time.perf_counter() - start
    del generator
    return seconds


def engines(args, loaded: LoadedModel, torch_bare_runs: list[Row] | None = None) -> None:
    """torch fp32 against the CTranslate2 int8 engine on the same model, prompt and forced length."""
    from core.generation import ct2
    from core.generation.base import GenerationError
    from core.generation.registry import ModelSpec, make_backend

    if not ct2.available():
        print("engines: CTranslate2 is not installed here; the engine rows are skipped")
        return
    with tempfile.TemporaryDirectory(prefix="nonestory-bench-") as tmp:
        start = time.perf_counter()
        folder = save_folder(loaded, Path(tmp) / "rinna-medium-shape")
        saved_s = time.perf_counter() - start
        path, convert_s = convert_folder(folder)
        fp32_mb = sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 1e6
        print(f"engines: saved the model to {folder} in {saved_s:.1f} s ({fp32_mb:,.0f} MB fp32); ct2.convert "
              f"took {convert_s:.1f} s ({(path / 'model.bin').stat().st_size / 1e6:,.0f} MB int8) "
              f"[load {_load()}]")
        handle = ct2.load_model(str(folder), "cpu")
        backend = ct2.Ct2Backend(str(folder), prompt_format="own", device="cpu")
        opens = [measure_open(path) for _ in range(3)]

        single = fixed_length(GenerationRequest(targets=TARGETS[0], temperature=0), args.engine_tokens)
        assert ct2_start_tokens(handle, single) == [handle.vocabulary[i] for i in loaded.tokenizer(
            prompts.own_format(single), add_special_tokens=False)["input_ids"]], "tokenizers disagree"
        in_worker(lambda: measure_bare(loaded, fixed_length(single, 4)))  # warm-ups
        in_worker(lambda: measure_ct2_bare(handle, fixed_length(single, 4)))
        in_worker(lambda: measure_pipeline(backend, fixed_length(single, 4)))

        torch_runs, ct2_runs = interleaved(args.repeat, lambda: measure_bare(loaded, single),
                                           lambda: measure_ct2_bare(handle, single))
        spec = ModelSpec("bench", "ct2", str(folder), "own")
        try:
            make_backend(spec)
        except GenerationError as err:
            print(f"engines: the job queue cannot run the ct2 backend yet ({err}); job rows skipped")
            more_ct2, stream_runs = interleaved(args.engine_repeat, lambda: measure_ct2_bare(handle, single),
                                                lambda: measure_pipeline(backend, single))
            job_runs = []
        else:
            with job_manager() as manager:
                more_ct2, stream_runs, job_runs = rotated(
                    args.engine_repeat, lambda: measure_ct2_bare(handle, single),
                    lambda: measure_pipeline(backend, single), lambda: measure_job(manager, single, spec), direct=(2,))
        ct2_runs += more_ct2

        stories = [fixed_length(GenerationRequest(targets=t, seed=100 + i), args.batch_tokens)
                   for i, t in enumerate(TARGETS[:BATCH])]
        sequential_runs, batched_runs = interleaved(args.batch_repeat, lambda: measure_sequential(backend, stories),
                                                    lambda: measure_batched(backend, stories))
        ct2.clear_cache()
        del handle, backend

    torch_bare, ct2_bare, stream = fastest(torch_runs), fastest(ct2_runs), fastest(stream_runs)
    sequential, batched = fastest(sequential_runs), fastest(batched_runs)
    job = fastest(job_runs) if job_runs else None
    print(f"\nengines: {args.engine_tokens} new tokens, greedy, forced length; batch vs sequential: {BATCH} stories x "
          f"{args.batch_tokens} new tokens, sampled, seeds 100+i (a seeded sampled ct2 run opens a fresh generator: "
          f"{min(opens):.2f} s each, best of 3). All runs (s, load): torch bare {_runs(torch_runs)} "
          f"({_loads(torch_runs)}), ct2 bare {_runs(ct2_runs)} ({_loads(ct2_runs)}), ct2 stream "
          f"{_runs(stream_runs)} ({_loads(stream_runs)}), ct2 jobs {_runs(job_runs) or '-'} "
          f"({_loads(job_runs) or '-'}), ct2 one by one {_runs(sequential_runs)} ({_loads(sequential_runs)}), "
          f"ct2 batched {_runs(batched_runs)} ({_loads(batched_runs)})")
    print_table([r for r in (torch_bare, ct2_bare, stream, job, sequential, batched) if r is not None])
    print_goal_header()
    speed = ct2_bare.tokens_per_s / torch_bare.tokens_per_s
    goal_line("ct2 int8 vs torch fp32 decode tokens/s", f"{speed:.2f}x", f">= {ENGINE_SPEED_GOAL:g}x",
              speed >= ENGINE_SPEED_GOAL, f"{speed / ENGINE_SPEED_GOAL:.2f}x")
    overhead_goal("ct2 stream overhead vs bare ct2", stream, ct2_bare)
    if job is not None:
        overhead_goal("ct2 job pipeline overhead vs bare ct2", job, ct2_bare)
        first_token_goal("ct2 first token shown after the job starts", job, ENGINE_FIRST_TOKEN_GOAL_S)
    batch_goal("ct2 batch of 8 vs sequential throughput", sequential, batched)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=48, help="tokens per run, stream vs bare")
    parser.add_argument("--repeat", type=int, default=3, help="runs of stream and of bare; fastest is kept")
    parser.add_argument("--batch-tokens", type=int, default=96, help="tokens per story, batch vs sequential")
    parser.add_argument("--batch-repeat", type=int, default=2, help="runs of batched and of one-by-one")
    parser.add_argument("--engine-tokens", type=int, default=64, help="tokens per run, torch vs ct2 and ct2 stream/job")
    parser.add_argument("--engine-repeat", type=int, default=5, help="rounds of ct2 bare, stream and job; fastest kept")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--engines-only", action="store_true", help="only torch fp32 vs the CTranslate2 engine")
    only.add_argument("--no-engines", action="store_true", help="skip the CTranslate2 engine")
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--heads", type=int, default=16)
    args = parser.parse_args()

    started, load_at_start = time.perf_counter(), _load()
    tokenizer = bench_tokenizer()
    loaded = build_model(tokenizer, args.layers, args.width, args.heads)
    params = sum(p.numel() for p in loaded.model.parameters()) / 1e6
    print(f"model: GPT-2 {args.layers}x{args.width}, {args.heads} heads, vocab {len(tokenizer):,}, "
          f"{params:.0f}M parameters, random weights; CPU threads {torch.get_num_threads()}; "
          f"built in {time.perf_counter() - started:.1f} s; load average {load_at_start}")

    if not args.engines_only:
        transformers_pipeline(args, loaded)
    if not args.no_engines:
        engines(args, loaded)
    print(f"total {time.perf_counter() - started:.0f} s; load average (1/5/15 min) at start {load_at_start}, "
          f"at end {_load()} (other processes on the machine slow every row)")


def transformers_pipeline(args, loaded: LoadedModel) -> None:
    """The app's pipeline on torch: stream and job against bare generate, batch against sequential."""
    backend = TransformersBackend(MODEL_ID, prompt_format="own", device="cpu")
    single = fixed_length(GenerationRequest(targets=TARGETS[0], temperature=0), args.new_tokens)
    in_worker(lambda: measure_bare(loaded, fixed_length(single, 4)))  # warm-up: first-call allocations
    bare_runs, pipeline_runs = interleaved(args.repeat, lambda: measure_bare(loaded, single),
                                           lambda: measure_pipeline(backend, single))
    job_runs = job_pipeline_runs(single, args.repeat)

    stories = [fixed_length(GenerationRequest(targets=t, seed=100 + i), args.batch_tokens)
               for i, t in enumerate(TARGETS[:BATCH])]
    sequential_runs, batched_runs = interleaved(args.batch_repeat, lambda: measure_sequential(backend, stories),
                                                lambda: measure_batched(backend, stories))
    bare, pipeline, sequential, batched = (fastest(r) for r in (bare_runs, pipeline_runs, sequential_runs,
                                                                batched_runs))

    print(f"stream vs bare: {args.new_tokens} new tokens, greedy; batch vs sequential: {BATCH} stories x "
          f"{args.batch_tokens} new tokens, sampled, seeds 100+i. Fastest run of each shown; all runs (s): "
          f"bare {_runs(bare_runs)}, pipeline {_runs(pipeline_runs)}, one by one {_runs(sequential_runs)}, "
          f"batched {_runs(batched_runs)}")
    job = fastest(job_runs)
    print(f"job pipeline runs (s): {_runs(job_runs)}")
    print_table([bare, pipeline, job, sequential, batched])
    print_goals(bare, pipeline, sequential, batched, job)


if __name__ == "__main__":
    main()
