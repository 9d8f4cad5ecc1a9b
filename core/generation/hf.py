"""The local transformers backend: a hub id or a local folder (training checkpoints included),
loaded once per process and device, streamed token by token from a worker thread.

Loading never hangs on a missing network: a hub id is looked up in the local cache first, and
the hub is only asked when offline mode is off and a short probe reaches it. Every failure a
user can cause (no download, bad folder, out of memory, prompt too long) is one sentence in a
GenerationError.
"""
from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import torch
from tokenizers import normalizers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from core.generation import prompts
from core.generation.base import Draft, GenerationError, GenerationRequest

OOM_MESSAGE = "Out of memory while generating; lower max new tokens or use a smaller model."
SUMMARY_CHARS = 60  # v2's 【前情提要】 is one sentence; keep a runaway first sentence short
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "spiece.model", "vocab.json", "tokenizer.model")
_ADAPTER_CONFIG = "adapter_config.json"  # a LoRA checkpoint (peft): base model + adapter
_PROBE_SECONDS = 3.0


# -- devices ---------------------------------------------------------------------------------

def pick_device() -> str:
    """The fastest device present: "cuda", then Apple "mps", then "cpu"."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def dtype_for(device: str) -> torch.dtype:
    """Half precision on GPUs (bf16 where the card has it: fp16 overflows more easily), fp32 on
    CPU, where half precision is slower, not faster."""
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return torch.float32


# -- loading and the process-wide cache -------------------------------------------------------

@dataclass
class LoadedModel:
    """One model in memory, shared by every session; `lock` lets one `generate` run at a time,
    so a seeded generation is not interleaved with another's random draws."""

    model_id: str
    device: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def eos_id(self) -> int:
        eos = self.tokenizer.eos_token_id
        return eos if eos is not None else self.model.generation_config.eos_token_id

    @property
    def context(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)


_CACHE: dict[tuple[str, str], LoadedModel] = {}
# One lock for the whole cache: a second session asking for a model that is being loaded waits
# for that load instead of starting another copy.
_CACHE_LOCK = threading.Lock()


def load_model(model_id: str, device: str | None = None) -> LoadedModel:
    """The model and tokenizer for a hub id or local folder, loaded once per (id, device)."""
    device = device or pick_device()
    key = _cache_key(model_id, device)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(model_id, device)
        return _CACHE[key]


def register(model_id: str, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
             device: str = "cpu") -> LoadedModel:
    """Put a model built in memory into the cache under `model_id`, so a backend for that id
    uses it (benchmarks build a full-size random model without writing 1.4 GB to disk)."""
    loaded = LoadedModel(model_id, device, model.to(device).eval(), tokenizer)
    with _CACHE_LOCK:
        _CACHE[_cache_key(model_id, device)] = loaded
    return loaded


def clear_cache() -> None:
    """Forget every loaded model (memory is freed once no backend holds one)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _cache_key(model_id: str, device: str) -> tuple[str, str]:
    """A folder is keyed by its resolved path, so "./m" and "/abs/m" share one copy."""
    path = Path(model_id).expanduser()
    return (str(path.resolve()) if path.is_dir() else model_id, device)


def _local_folder(model_id: str) -> Path | None:
    """The folder `model_id` names, None for a hub id; a path that is not a folder is an error."""
    path = Path(model_id).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise GenerationError(f"Model {model_id} is a file, not a model folder.")
    # Hub ids are "name" or "owner/name"; anything else is meant as a path.
    if model_id.startswith(("/", ".", "~")) or model_id.count("/") > 1 or "\\" in model_id:
        raise GenerationError(f"Model folder {model_id} does not exist.")
    return None


def _load(model_id: str, device: str) -> LoadedModel:
    folder = _local_folder(model_id)
    if folder is not None:
        _check_folder(folder, model_id)
        return _from_pretrained(model_id, str(folder), device, local_only=True)
    try:
        return _from_pretrained(model_id, model_id, device, local_only=True)
    except GenerationError:
        if _offline():
            raise GenerationError(f"Model {model_id} is not downloaded and offline mode is on; "
                                  "download it once with network, or pick a local model.") from None
        if not _hub_reachable():
            raise GenerationError(f"Model {model_id} is not downloaded and the Hugging Face hub cannot "
                                  "be reached; connect once to download it, or pick a local model.") from None
    return _from_pretrained(model_id, model_id, device, local_only=False)


def _check_folder(folder: Path, model_id: str) -> None:
    if not (folder / "config.json").is_file() and not (folder / _ADAPTER_CONFIG).is_file():
        raise GenerationError(f"Model folder {model_id} has no config.json; pick a model or checkpoint folder.")
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        raise GenerationError(f"Model folder {model_id} has no tokenizer files; save the tokenizer next to "
                              "the model.")


def _from_pretrained(model_id: str, source: str, device: str, local_only: bool) -> LoadedModel:
    try:
        tokenizer = _load_tokenizer(model_id, source, local_only)
        if (Path(source) / _ADAPTER_CONFIG).is_file():
            model = _load_adapter(model_id, Path(source), dtype_for(device))
        else:
            model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype_for(device), local_files_only=local_only)
        model.to(device).eval()
    except GenerationError:
        raise
    except Exception as err:  # transformers raises OSError, ValueError, KeyError... for bad files
        raise GenerationError(f"Could not load model {model_id}: {_first_line(err)}") from err
    return LoadedModel(model_id, device, model, tokenizer)


def _load_adapter(model_id: str, folder: Path, dtype: torch.dtype) -> PreTrainedModel:
    """A LoRA checkpoint: the base model its adapter_config.json names, with the adapter merged
    into the weights, so generation runs as fast as the base model alone."""
    try:
        from peft import PeftModel
    except ImportError:
        raise GenerationError(f"Model {model_id} is a LoRA adapter; install peft (pip install peft==0.21.2) "
                              "to load it.") from None
    base_id = json.loads((folder / _ADAPTER_CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path")
    try:
        base = AutoModelForCausalLM.from_pretrained(base_id, dtype=dtype)
    except Exception as err:
        raise GenerationError(f"LoRA model {model_id} needs its base model {base_id}, which does not load: "
                              f"{_first_line(err)}") from err
    return PeftModel.from_pretrained(base, str(folder)).merge_and_unload()


def _load_tokenizer(model_id: str, source: str, local_only: bool) -> PreTrainedTokenizerBase:
    rinna = _is_rinna(model_id, source)
    # rinna's model card: T5Tokenizer with extra_ids=0 (no sentinel tokens past the model's
    # 32,000 ids) and use_fast=False (transformers 5 ignores that flag and converts the
    # sentencepiece model, which tokenises the same way).
    kwargs = {"use_fast": False, "extra_ids": 0} if rinna else {}
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only, **kwargs)
    if rinna or type(tokenizer).__name__.startswith("T5Tokenizer"):
        _lower_case(tokenizer)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _is_rinna(model_id: str, source: str) -> bool:
    """rinna-based models: a sentencepiece (T5Tokenizer) vocabulary trained on lower-cased text.
    A local folder is judged by its files, not its path, which may contain "nonestory" anyway."""
    folder = Path(source)
    if folder.is_dir():
        try:
            config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
        return str(config.get("tokenizer_class", "")).startswith("T5Tokenizer")
    name = model_id.lower()
    return "rinna" in name or "nonestory" in name


def _lower_case(tokenizer: PreTrainedTokenizerBase) -> None:
    """rinna's card sets do_lower_case=True after loading (its config flag is not applied).
    Slow tokenizers read the attribute; a fast one needs a Lowercase step in its normalizer,
    placed first as the slow tokenizer lower-cased the text before sentencepiece saw it."""
    tokenizer.do_lower_case = True
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        steps = [normalizers.Lowercase()] + ([backend.normalizer] if backend.normalizer is not None else [])
        backend.normalizer = normalizers.Sequence(steps)


def _offline() -> bool:
    """HF offline switches, read now (huggingface_hub reads them once, at import)."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return constants.HF_HUB_OFFLINE or any(f.strip().lower() in ("1", "true", "yes", "on") for f in flags)


def _hub_reachable() -> bool:
    """huggingface_hub retries a dead connection for about 20 s; one short probe first keeps a
    page from hanging. Behind a proxy the probe would lie, so trust the proxy instead."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    reached: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((url.hostname, port), timeout=_PROBE_SECONDS).close()
            reached.append(True)
        except OSError:
            pass

    # A thread bounds the DNS lookup too, which the socket timeout does not cover.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(_PROBE_SECONDS + 1)
    return bool(reached)


def _first_line(err: BaseException) -> str:
    """The first line of an error message, so no traceback or hint block reaches the page."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = re.sub(r"\s+", " ", lines[0] if lines else type(err).__name__)[:200]
    return text if text.endswith((".", "!", "?")) else text + "."


# -- generation --------------------------------------------------------------------------------

def generation_kwargs(request: GenerationRequest, eos_id: int, max_new_tokens: int) -> dict:
    """`generate` arguments for a request; temperature 0 means greedy decoding. top_k is switched
    off so top-p is the only cut, whatever a checkpoint's generation_config says."""
    kwargs: dict = {
        "max_new_tokens": max_new_tokens,
        "repetition_penalty": request.repetition_penalty,
        "no_repeat_ngram_size": request.no_repeat_ngram_size,
        "eos_token_id": eos_id,
        "pad_token_id": eos_id,
    }
    if request.temperature == 0:
        kwargs["do_sample"] = False
    else:
        kwargs.update(do_sample=True, temperature=request.temperature, top_p=request.top_p, top_k=0)
    # Benchmarks force a fixed length with extra={"min_new_tokens": N}.
    if request.extra.get("min_new_tokens"):
        kwargs["min_new_tokens"] = min(int(request.extra["min_new_tokens"]), max_new_tokens)
    return kwargs


def summary_of(first_half: str, limit: int = SUMMARY_CHARS) -> str:
    """v2's one-sentence summary of the first half: its first sentence (a closing quote right
    after the sentence end kept), whitespace collapsed, at most `limit` characters."""
    text = re.sub(r"\s+", "", first_half)
    m = re.match(r"(.+?[。！？!?][」』]?)", text)
    return (m.group(1) if m else text)[:limit]


def whole_sentences(pieces: Iterable[str]) -> Iterator[str]:
    """Pass text through up to each sentence end and drop an unfinished last sentence (all text
    is kept when it has no sentence end at all) - the same cut as prompts.trim_to_sentence."""
    pending, cut_any = "", False
    for piece in pieces:
        pending += piece
        cut = max(pending.rfind(c) for c in prompts.SENTENCE_ENDS) + 1
        if cut:
            yield pending[:cut]
            pending, cut_any = pending[cut:], True
    if pending and not cut_any:
        yield pending


class _JapaneseStreamer(TextIteratorStreamer):
    """TextIteratorStreamer holds text back until a space or a CJK ideograph, to show English
    word by word; Japanese has no spaces and much of it is kana, so it would arrive in bursts.
    Release every complete character instead: only a character still being assembled from
    byte tokens (decoded as U+FFFD for now) waits for the next token."""

    def _is_chinese_char(self, cp: int) -> bool:  # the parent's "may release up to here" test
        return cp != 0xFFFD


class _Cancelled(StoppingCriteria):
    """Stops `generate` within one token once the consumer has gone (cancel, closed tab)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def _seed(seed: int | None) -> None:
    """Seed torch only: transformers.set_seed would also reseed Python's and numpy's global
    generators, which the rest of the app shares. No seed: a fresh random one, because torch
    starts every process from the same fixed seed."""
    if seed is None:
        torch.seed()
    else:
        torch.manual_seed(seed)


def _user_error(err: BaseException) -> GenerationError | None:
    """The one-sentence error for failures a user can fix; None for bugs, which propagate."""
    if isinstance(err, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in str(err).lower():
        return GenerationError(OOM_MESSAGE)
    return None


def _raise_from(err: BaseException) -> None:
    mapped = _user_error(err)
    if mapped is not None:
        raise mapped from err
    raise err


def _check_context(loaded: LoadedModel, prompt_tokens: int, max_new_tokens: int) -> None:
    limit = loaded.context
    if limit and prompt_tokens + max_new_tokens > limit:
        raise GenerationError(
            f"The prompt ({prompt_tokens} tokens) and max new tokens ({max_new_tokens}) exceed "
            f"{loaded.model_id}'s context of {limit} tokens; set max new tokens to at most "
            f"{max(limit - prompt_tokens, 0)}.")


def _encode(loaded: LoadedModel, prompt: str) -> list[int]:
    # rinna's card encodes without special tokens: its tokenizer appends </s>, which would tell
    # the model the text has already ended.
    return loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]


def stream_text(loaded: LoadedModel, prompt: str, request: GenerationRequest, max_new_tokens: int,
                seed: int | None) -> Iterator[str]:
    """Text deltas of one `generate` run in a worker thread; its exception is raised here."""
    ids = _encode(loaded, prompt)
    _check_context(loaded, len(ids), max_new_tokens)
    input_ids = torch.tensor([ids], device=loaded.device)
    streamer = _JapaneseStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
    cancel, failure = threading.Event(), []
    kwargs = generation_kwargs(request, loaded.eos_id, max_new_tokens)

    def work() -> None:
        try:
            with loaded.lock:
                _seed(seed)
                loaded.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                      streamer=streamer, stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                                      **kwargs)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer below
            failure.append(err)
            streamer.end()  # wake the consumer, which would otherwise wait forever

    thread = threading.Thread(target=work, name=f"generate:{loaded.model_id}", daemon=True)
    thread.start()
    try:
        for piece in streamer:
            if piece:
                yield piece
    finally:  # also on close(): stop generating for a consumer that has gone
        cancel.set()
        thread.join()
    if failure:
        _raise_from(failure[0])


def _left_pad(rows: list[list[int]], pad_id: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Left padding, so every row's next token follows its own prompt directly."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row):] = 1
    return ids.to(device), mask.to(device)


def batch_texts(loaded: LoadedModel, prompts_: Sequence[str], request: GenerationRequest, max_new_tokens: int,
                seed: int | None) -> list[str]:
    """One `generate` call over all prompts with `request`'s settings; the new text of each."""
    ids, mask = _left_pad([_encode(loaded, p) for p in prompts_], loaded.eos_id, loaded.device)
    _check_context(loaded, ids.shape[1], max_new_tokens)
    try:
        with loaded.lock:
            _seed(seed)
            out = loaded.model.generate(input_ids=ids, attention_mask=mask,
                                        **generation_kwargs(request, loaded.eos_id, max_new_tokens))
    except Exception as err:  # noqa: BLE001 - mapped or re-raised as it was
        _raise_from(err)
    return loaded.tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)


def _halves(max_new_tokens: int) -> tuple[int, int]:
    """v2 splits the token budget between the halves; the second may get none."""
    first = max(1, max_new_tokens // 2)
    return first, max_new_tokens - first


def _next_seed(seed: int | None) -> int | None:
    """The second v2 half is seeded on its own: another job may use the model in between."""
    return None if seed is None else seed + 1


class TransformersBackend:
    """A local causal LM behind the Backend protocol. The model loads on first use, so making a
    backend is cheap and a missing model fails the job, not the page."""

    name = "hf"

    def __init__(self, model_id: str, prompt_format: str = "own", device: str | None = None) -> None:
        if prompt_format not in ("v1", "v2", "own"):
            raise GenerationError(f"Prompt format {prompt_format!r} is not for local models; use v1, v2 or own.")
        self.model = model_id
        self.prompt_format = prompt_format
        self.device = device

    def loaded(self) -> LoadedModel:
        return load_model(self.model, self.device)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        loaded = self.loaded()
        prompt = prompts.prompt_for(self.prompt_format, request)
        if self.prompt_format != "v2":
            yield from stream_text(loaded, prompt, request, request.max_new_tokens, request.seed)
            return
        first_tokens, second_tokens = _halves(request.max_new_tokens)
        # The first half ends at a sentence end, as the published model saw its halves in training.
        first = ""
        for piece in whole_sentences(stream_text(loaded, prompt, request, first_tokens, request.seed)):
            first += piece
            yield piece
        if second_tokens < 1:
            return
        yield "\n\n"
        second = prompts.published_v2_second(request, summary_of(first))
        yield from stream_text(loaded, second, request, second_tokens, _next_seed(request.seed))

    def finish(self, request: GenerationRequest, text: str) -> Draft:
        story = prompts.trim_to_sentence(text.lstrip())
        warning = ""
        if len(story) < request.min_chars:
            warning = (f"The story has {len(story)} characters, fewer than the {request.min_chars} asked for; "
                       "raise max new tokens or generate again.")
        return Draft(text=story, style=request.style, genre=request.genre,
                     prompt=prompts.prompt_for(self.prompt_format, request), warning=warning)

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Draft]:
        """One `generate` call for all requests (two for v2), with the first request's settings
        and seed."""
        if not requests:
            return []
        loaded, first = self.loaded(), requests[0]
        texts = [prompts.prompt_for(self.prompt_format, r) for r in requests]
        if self.prompt_format != "v2":
            texts = batch_texts(loaded, texts, first, first.max_new_tokens, first.seed)
        else:
            first_tokens, second_tokens = _halves(first.max_new_tokens)
            halves = ["".join(whole_sentences([t])) for t in batch_texts(loaded, texts, first, first_tokens, first.seed)]
            if second_tokens >= 1:
                seconds = [prompts.published_v2_second(r, summary_of(h)) for r, h in zip(requests, halves)]
                rest = batch_texts(loaded, seconds, first, second_tokens, _next_seed(first.seed))
                halves = [h + "\n\n" + r for h, r in zip(halves, rest)]
            texts = halves
        return [self.finish(r, t) for r, t in zip(requests, texts)]
