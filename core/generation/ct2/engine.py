"""A converted model in memory and the backend that writes with it.

Generation matches the transformers backend: the same prompts and tokenizer (loading's, rinna's
fixes included), the same streaming by whole characters, cancel within a token, and the same
settings, with two differences CTranslate2 imposes. Its repetition penalty and no-repeat
n-grams look at the generated tokens only (transformers counts the prompt's too): counting the
prompt would mean feeding it token by token, ten times slower to the first token. And it seeds
a worker thread's random generator once, on its first draw, so a seeded sampling run opens a
fresh generator (cheap: the weights come from the page cache).
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.files import read_json
from core.generation import local
from core.generation.base import GenerationError, GenerationRequest
from core.generation.ct2.conversion import (RECORD, Progress, available, compute_type, convert_as, current_folder,
                                         device_name, placement, source_folder)
from core.i18n import _

_SEED_LOCK = threading.Lock()  # ctranslate2.set_random_seed is process-wide


def sampling_options(request: GenerationRequest, max_new_tokens: int, eos_id: int) -> dict:
    """generate_batch arguments for a request, as hf.generation_kwargs: temperature 0 is greedy
    (top-k 1); otherwise the whole distribution (top-k 0) cut by top-p only. The prompt is fed
    at once and is not part of the result."""
    options: dict = {"max_length": max_new_tokens, "repetition_penalty": request.repetition_penalty,
                     "no_repeat_ngram_size": request.no_repeat_ngram_size, "end_token": [eos_id],
                     "include_prompt_in_result": False}
    if request.temperature == 0:
        options["sampling_topk"] = 1
    else:
        options.update(sampling_topk=0, sampling_topp=request.top_p, sampling_temperature=request.temperature)
    if request.extra.get("min_new_tokens"):  # benchmarks force a fixed length
        options["min_length"] = min(int(request.extra["min_new_tokens"]), max_new_tokens)
    return options


def _open(path: Path, device: str, ctype: str, name: str) -> Any:
    import ctranslate2

    kind, index = placement(device)
    try:
        return ctranslate2.Generator(str(path), device=kind, device_index=index, compute_type=ctype)
    except (OSError, ValueError, RuntimeError) as err:  # a damaged copy, a missing folder, no CUDA
        from core.generation.loading import first_line

        raise GenerationError(_("The CTranslate2 copy of {model} does not load: {error}").format(
            model=name, error=first_line(err))) from err


@dataclass
class Ct2Model:
    """One converted model in memory: the engine a Ct2Backend writes with. `lock` lets one
    generation run at a time, so a seeded one is not interleaved with another's draws."""

    model_id: str
    path: Path
    device: str
    tokenizer: Any
    vocabulary: list[str]
    eos_id: int
    context: int | None
    compute_type: str
    generator: Any = field(default=None, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _generator(self, seed: int | None, request: GenerationRequest) -> Any:
        """The generator to draw from. CTranslate2 seeds a worker thread's random generator from
        the global seed once, at its first draw: a seeded sampling run gets a fresh generator
        (a fresh thread), seeded and made to draw once while no other model can reseed."""
        if seed is not None and request.temperature > 0:
            import ctranslate2

            with _SEED_LOCK:
                ctranslate2.set_random_seed(seed)
                self.generator = None  # free this copy before the next one is made
                self.generator = _open(self.path, self.device, self.compute_type, self.model_id)
                self.generator.generate_batch([[self.vocabulary[self.eos_id]]], max_length=1, sampling_topk=0,
                                              include_prompt_in_result=False)
        if self.generator is None:
            self.generator = _open(self.path, self.device, self.compute_type, self.model_id)
        return self.generator

    def _start(self, prompt: str) -> list[str]:
        return [self.vocabulary[i] for i in local.encode(self.tokenizer, prompt)]

    def stream_text(self, prompt: str, request: GenerationRequest, max_new_tokens: int,
                    seed: int | None) -> Iterator[str]:
        """Text deltas of one generation run in a worker thread; its exception is raised here.
        Closing the iterator stops the generation at the next token."""
        start = self._start(prompt)
        local.check_context(self.model_id, self.context, len(start), max_new_tokens)
        options = sampling_options(request, max_new_tokens, self.eos_id)

        def decode(emit, cancel: threading.Event) -> None:
            def on_step(step: Any) -> bool:
                emit(step.token_id)
                return cancel.is_set()  # True stops the decoding

            with self.lock:
                self._generator(seed, request).generate_batch([start], callback=on_step, **options)

        return local.streamed_text(decode, self.tokenizer, f"ct2:{self.model_id}", _user_error)

    def batch_texts(self, prompts: Sequence[str], request: GenerationRequest, max_new_tokens: int,
                    seed: int | None) -> list[str]:
        """One generate_batch over all prompts; the new text of each. CTranslate2 feeds a batch's
        prompts at once up to the shortest one's length and the rest of each longer one through
        its decoding loop, where those tokens count as earlier ones for the repetition penalty
        and no-repeat n-grams. A one-token prompt would send every prompt through the loop and
        back in the result, so one-token prompts go on their own."""
        rows = [self._start(p) for p in prompts]
        local.check_context(self.model_id, self.context, max(map(len, rows)), max_new_tokens)
        options = sampling_options(request, max_new_tokens, self.eos_id)
        short = [i for i, r in enumerate(rows) if len(r) <= 1]
        groups = [g for g in (short, [i for i in range(len(rows)) if i not in short]) if g]
        out: dict[int, list[int]] = {}
        try:
            with self.lock:
                for group in groups:
                    results = self._generator(seed, request).generate_batch([rows[i] for i in group], **options)
                    out.update((i, r.sequences_ids[0]) for i, r in zip(group, results))
        except Exception as err:  # noqa: BLE001 - mapped or re-raised as it was
            local.raise_for_user(err, _user_error)
        return [self.tokenizer.decode(out[i], skip_special_tokens=True) for i in range(len(rows))]


def _user_error(err: BaseException) -> GenerationError | None:
    return GenerationError(_(local.OOM_MESSAGE)) if local.out_of_memory(err) else None


def load(path: str | Path, tokenizer: Any, model_id: str = "", device: str | None = None) -> Ct2Model:
    """Open a converted folder with the tokenizer its model uses (not cached: load_model and
    register keep handles). Raises GenerationError when CTranslate2 cannot load it."""
    path, device = Path(path).resolve(), device_name(device)
    record, ctype, name = read_json(path / RECORD), compute_type(device), model_id or path.name
    generator = _open(path, device, ctype, name)
    try:
        vocabulary = json.loads((path / "vocabulary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # CTranslate2 read it a moment ago: only a race gets here
        raise GenerationError(_("The CTranslate2 copy of {model} has no readable {file}.").format(
            model=name, file="vocabulary.json")) from err
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else record.get("eos_id")
    return Ct2Model(model_id or str(path), path, device, tokenizer, vocabulary, eos, record.get("context"), ctype,
                    generator)


_CACHE: dict[tuple[str, str], Ct2Model] = {}
_REGISTERED: dict[str, Ct2Model] = {}
_KEY_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_CACHE_LOCK = threading.Lock()


def register(model_id: str, handle: Ct2Model) -> Ct2Model:
    """Serve `handle` for `model_id` (benchmarks convert a full-size model built in memory with
    convert_model, open it with load, and register it under an id a Ct2Backend then uses)."""
    with _CACHE_LOCK:
        _REGISTERED[model_id] = handle
    return handle


def clear_cache() -> None:
    """Forget every loaded and registered model."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _REGISTERED.clear()


def _key(model: str, device: str) -> tuple[str, str]:
    path = Path(model).expanduser()
    return (str(path.resolve()) if path.is_dir() else model, device)


def load_model(model: str, device: str | None = None, progress: Progress | None = None) -> Ct2Model:
    """`model`'s CTranslate2 copy in memory, converted on first use (and again after the model
    changed, or when its copy is damaged or does not load), opened once per process and device."""
    with _CACHE_LOCK:
        if model in _REGISTERED:
            return _REGISTERED[model]
    device = device_name(device)
    key, ctype = _key(model, device), compute_type(device)
    with _CACHE_LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        hit, target = _CACHE.get(key), current_folder(model, ctype) if available() else None
        if hit is not None and hit.path == target and target.is_dir():
            return hit  # the common case: no conversion to check, nothing to read
        target = convert_as(model, ctype, progress)
        tokenizer = _tokenizer(model)
        try:
            handle = load(target, tokenizer, model, device)
        except GenerationError as err:  # looks whole, but CTranslate2 refuses it
            from core.generation.loading import first_line

            reason = _("CTranslate2 cannot load it: {error}").format(error=first_line(err.__cause__ or err))
            handle = load(convert_as(model, ctype, progress, broken=reason), tokenizer, model, device)
        with _CACHE_LOCK:
            _CACHE[key] = handle
        return handle


def _tokenizer(model: str) -> Any:
    """The tokenizer exactly as the transformers backend loads it (rinna's fixes included)."""
    from core.generation import loading

    folder = source_folder(model)
    source = str(folder) if Path(model).expanduser().is_dir() else model
    try:
        return loading.load_tokenizer(model, source, local_only=True)
    except Exception as err:  # transformers raises OSError, ValueError... for bad files
        raise GenerationError(_("Could not load the tokenizer of {model}: {error}").format(
            model=model, error=loading.first_line(err))) from err


class Ct2Backend(local.LocalBackend):
    """A local model run by CTranslate2 behind the Backend protocol (stream, finish and
    generate_batch come from local.LocalBackend). The first use converts the model."""

    name = "ct2"

    def loaded(self) -> Ct2Model:
        return load_model(self.model, self.device)
