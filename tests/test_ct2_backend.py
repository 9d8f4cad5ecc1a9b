"""The CTranslate2 engine on the real tiny model (and a LoRA adapter on it), converted by
CTranslate2's own converter in this session: the conversion cache beside the model, damaged
copies, two converters at once, streaming and cancel through the job queue, batches, the
fallback to transformers without CTranslate2 (a real CLI subprocess with the import blocked),
and the registry's engines. No network: offline mode is on for every test."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from core import modelfolder, settings, store
from core.generation import ct2, loading, prompts, registry
from core.generation.base import GenerationError, GenerationRequest
from core.generation.ct2 import Ct2Backend
from core.generation.hf import TransformersBackend
from tests.test_hf_backend import rinna_like  # noqa: F401 - a rinna-shaped folder, reused
from training.tiny import build_tiny

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("把握", "促す")


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("ct2") / "tiny")


@pytest.fixture
def tiny(tiny_source, tmp_path) -> Path:
    """A fresh copy of the tiny model for each test: conversions are written beside it."""
    return Path(shutil.copytree(tiny_source, tmp_path / "tiny"))


@pytest.fixture(autouse=True)
def offline_and_fresh(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield
    ct2.clear_cache()
    loading.clear_cache()


def request(**kw) -> GenerationRequest:
    return GenerationRequest(**{"targets": WORDS, "max_new_tokens": 24, "seed": 7, **kw})


def backend(model: Path | str, fmt: str = "own") -> Ct2Backend:
    return Ct2Backend(str(model), prompt_format=fmt, device="cpu")


def lines_of(calls: list[str]) -> str:
    return "\n".join(calls)


# -- conversion and its cache ----------------------------------------------------------------------

def test_compute_type_is_int8_on_cpu_and_int8_float16_on_cuda():
    assert ct2.available()
    assert (ct2.compute_type("cpu"), ct2.compute_type("mps")) == ("int8", "int8")
    assert ct2.compute_type("cuda") == ct2.compute_type("cuda:1") == "int8_float16"


def test_conversion_lives_in_a_hidden_folder_beside_the_model_and_is_reused(tiny):
    assert ct2.status(str(tiny), "cpu") == "missing"
    said: list[str] = []
    path = ct2.convert(str(tiny), "cpu", said.append)
    assert said[0] == f"Converting {tiny} to CTranslate2 int8 (first use)…" and said[-1].startswith("Converted")
    assert path.parent == tiny / ct2.FOLDER and path.name.startswith("int8-")
    assert {"config.json", "model.bin", "vocabulary.json", ct2.RECORD} <= {p.name for p in path.iterdir()}
    assert ct2.status(str(tiny), "cpu") == "ready"
    written = (path / "model.bin").stat().st_mtime_ns
    again: list[str] = []
    assert ct2.convert(str(tiny) + "/", "cpu", again.append) == path and again == []  # reused, nothing said
    assert (path / "model.bin").stat().st_mtime_ns == written
    assert not list((tiny / ct2.FOLDER).glob(".tmp-*"))


def _change_weights(folder: Path) -> None:
    from safetensors.torch import load_file, save_file
    weights = load_file(folder / "model.safetensors")
    name = next(n for n in weights if n.endswith("mlp.c_fc.weight"))
    weights[name] = weights[name] * 3
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})


def test_changed_weights_are_converted_again_and_the_old_conversion_removed(tiny):
    old = ct2.convert(str(tiny), "cpu")
    before = "".join(backend(tiny).stream(request(temperature=0)))
    _change_weights(tiny)
    assert ct2.status(str(tiny), "cpu") == "stale"
    said: list[str] = []
    new = ct2.convert(str(tiny), "cpu", said.append)
    assert new != old and not old.exists() and new.is_dir()
    assert "the model changed since its last conversion" in said[0]
    assert "".join(backend(tiny).stream(request(temperature=0))) != before  # the backend follows the new copy


def test_the_same_weights_saved_again_keep_their_conversion(tiny):
    path = ct2.convert(str(tiny), "cpu")
    weights = tiny / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data)  # a checkpoint written again, byte for byte: a new time, the same hash
    os.utime(weights, ns=(time.time_ns() + 10**9,) * 2)
    assert ct2.status(str(tiny), "cpu") == "ready"
    assert ct2.convert(str(tiny), "cpu") == path


def test_hidden_folder_confuses_no_model_list_and_no_checkpoint_listing(tiny_source):
    from training import checkpoints, runs

    run = settings.paths().runs / "run-a"
    ckpt = Path(shutil.copytree(tiny_source, run / "checkpoint-4"))
    (run / "status.json").write_text('{"state": "done"}', encoding="utf-8")
    local = Path(shutil.copytree(tiny_source, settings.paths().models / "tiny"))
    before = (checkpoints.describe(run), registry.available())
    for folder in (ckpt, local):
        ct2.convert(str(folder), "cpu")
        assert (folder / ct2.FOLDER).is_dir()
    assert (checkpoints.describe(run), registry.available()) == before
    assert runs.checkpoints(run) == [ckpt]
    assert modelfolder.models_in(settings.paths().runs, "*/checkpoint-*") == [ckpt]
    assert modelfolder.models_in(settings.paths().models) == [local]
    assert not modelfolder.is_model_folder(ckpt / ct2.FOLDER)
    assert modelfolder.verify(ckpt) == []
    kept = registry.promote(ckpt, "Kept", keep_copy=True)  # a kept copy leaves the conversion behind
    assert not (Path(kept["path"]) / ct2.FOLDER).exists()


def _truncate(path: Path) -> None:
    with open(path / "model.bin", "r+b") as f:
        f.truncate(100)


@pytest.mark.parametrize("damage, reason", [
    (_truncate, "model.bin has 100 bytes"),
    (lambda p: (p / "config.json").write_text('{"unk_token": ', encoding="utf-8"), "config.json is missing or garbled"),
    (lambda p: (p / "vocabulary.json").unlink(), "vocabulary.json is missing or garbled"),
    (lambda p: (p / ct2.RECORD).unlink(), f"its record {ct2.RECORD} is missing"),
], ids=["truncated-model", "garbled-config", "no-vocabulary", "no-record"])
def test_damaged_conversion_is_rebuilt_with_one_line_of_explanation(tiny, damage, reason):
    path = ct2.convert(str(tiny), "cpu")
    damage(path)
    assert ct2.status(str(tiny), "cpu") == "stale"
    said: list[str] = []
    assert ct2.convert(str(tiny), "cpu", said.append) == path
    explained = [line for line in said if line.startswith("The CTranslate2 copy")]
    assert len(explained) == 1 and reason in explained[0] and "\n" not in explained[0]
    assert explained[0].startswith(f"The CTranslate2 copy of {tiny} is damaged (")
    assert ct2.status(str(tiny), "cpu") == "ready"
    assert "".join(backend(tiny).stream(request()))


def test_conversion_ctranslate2_refuses_is_rebuilt_when_loaded(tiny):
    """Garbage of the right size passes the cheap checks; CTranslate2 refusing it counts too."""
    path = ct2.convert(str(tiny), "cpu")
    size = (path / "model.bin").stat().st_size
    (path / "model.bin").write_bytes(os.urandom(size))
    said: list[str] = []
    loaded = ct2.load_model(str(tiny), "cpu", said.append)
    explained = [line for line in said if line.startswith("The CTranslate2 copy")]
    assert len(explained) == 1
    assert explained[0].startswith(f"The CTranslate2 copy of {tiny} is damaged (CTranslate2 cannot load it: ")
    assert loaded.path == path and "".join(backend(tiny).stream(request()))


def test_a_failed_conversion_leaves_nothing_half_written(tiny, monkeypatch):
    from ctranslate2.converters import TransformersConverter

    def broken(self, output_dir, *args, **kwargs):
        Path(output_dir).mkdir()
        (Path(output_dir) / "model.bin").write_bytes(b"half")
        raise ValueError("disk full")

    monkeypatch.setattr(TransformersConverter, "convert", broken)
    with pytest.raises(GenerationError, match=r"^Could not convert .* to CTranslate2: disk full\.$"):
        ct2.convert(str(tiny), "cpu")
    assert [p.name for p in (tiny / ct2.FOLDER).iterdir()] == [".lock"]
    assert ct2.status(str(tiny), "cpu") == "missing"


def test_threads_asking_at_once_share_one_conversion(tiny):
    said, found, errors = [], [], []

    def ask():
        try:
            found.append(ct2.load_model(str(tiny), "cpu", said.append))
        except Exception as exc:  # noqa: BLE001 - any failure is the test's failure
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and len(found) == 4 and all(f is found[0] for f in found)
    assert len([line for line in said if line.startswith("Converting")]) == 1


def _convert_command(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "core.generation.ct2", "convert", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_convert_commands_at_once_share_one_conversion_and_report_status(tiny, tmp_path):
    procs = [_convert_command(str(tiny), "--device", "cpu", "--status", str(tmp_path / f"s{i}.json"))
             for i in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    paths = {out.strip().splitlines()[-1] for out, _ in outs}
    assert len(paths) == 1 and Path(paths.pop()).parent == tiny / ct2.FOLDER
    assert sum("Converting" in out for out, _ in outs) == 1  # the second waited, then found it ready
    assert len([p for p in (tiny / ct2.FOLDER).iterdir() if p.is_dir()]) == 1
    status = json.loads((tmp_path / "s0.json").read_text(encoding="utf-8"))
    assert status["state"] == "done" and Path(status["path"]).is_dir() and status["message"]
    bad = _convert_command(str(tmp_path / "no-such-model"), "--status", str(tmp_path / "bad.json"))
    out, err = bad.communicate(timeout=180)
    failed = json.loads((tmp_path / "bad.json").read_text(encoding="utf-8"))
    assert bad.returncode == 2 and err.strip().startswith("error: Model folder") and "\n" not in err.strip()
    assert failed["state"] == "failed" and "does not exist" in failed["message"] and failed["path"] == ""


def test_missing_model_is_one_sentence(tmp_path):
    assert ct2.status(str(tmp_path / "none"), "cpu") == "missing"
    with pytest.raises(GenerationError, match="does not exist") as err:
        ct2.convert(str(tmp_path / "none"), "cpu")
    assert "\n" not in str(err.value)
    with pytest.raises(GenerationError, match="not downloaded and offline mode is on"):
        ct2.convert("nobody/no-such-model", "cpu")
    assert ct2.status("nobody/no-such-model", "cpu") == "missing"


# -- LoRA adapters -------------------------------------------------------------------------------

@pytest.fixture
def adapter(tiny, tmp_path) -> Path:
    """A LoRA adapter on the tiny model, saved as training saves one (adapter weights, the base
    config and tokenizer beside them), with weights large enough to change what it writes."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.normal_(0, 0.5)
    folder = tmp_path / "adapter"
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(folder)
    shutil.copy(tiny / "config.json", folder / "config.json")
    assert modelfolder.is_adapter(folder)
    return folder


def test_lora_adapter_is_merged_then_converted(adapter, tiny):
    said: list[str] = []
    path = ct2.convert(str(adapter), "cpu", said.append)
    assert path.parent == adapter / ct2.FOLDER and said[0].endswith("(first use)…")
    greedy = request(temperature=0, repetition_penalty=1.0, max_new_tokens=12)
    assert "".join(backend(adapter).stream(greedy)) != "".join(backend(tiny).stream(greedy))
    trusted, agreed = _greedy_agreement(str(adapter), greedy)
    assert agreed >= trusted >= 2


def test_rinna_style_sentencepiece_model_converts_with_loadings_tokenizer(rinna_like, tmp_path):
    folder = shutil.copytree(rinna_like, tmp_path / "rinna-like")
    loaded = ct2.load_model(str(folder), "cpu")
    assert len(loaded.vocabulary) == 1000  # the model's rows: placeholders past the tokenizer's pieces
    # rinna's sentencepiece has no <s>; CTranslate2 refuses a config whose bos_token is null
    assert json.loads((loaded.path / "config.json").read_text())["bos_token"] == "</s>"
    assert loaded.tokenizer.tokenize("N1単語ABC") == loaded.tokenizer.tokenize("n1単語abc")  # rinna's lower-casing
    assert "".join(backend(folder, "v1").stream(request(max_new_tokens=10)))
    trusted, agreed = _greedy_agreement(str(folder), request(temperature=0, repetition_penalty=1.0))
    assert agreed >= trusted


# -- generation ----------------------------------------------------------------------------------

def _greedy_agreement(model: str, req: GenerationRequest) -> tuple[int, int]:
    """(steps where transformers' best token leads the next by more than int8 rounding can
    move it, steps where CTranslate2 wrote the same token). int8 changes this model's logits by
    under 0.01; 0.05 leaves room."""
    hf = loading.load_model(model, "cpu")
    ids = hf.tokenizer(prompts.own_format(req), add_special_tokens=False, return_tensors="pt")["input_ids"]
    out = hf.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                            max_new_tokens=req.max_new_tokens, output_scores=True, return_dict_in_generate=True,
                            pad_token_id=hf.eos_id, eos_token_id=hf.eos_id)
    want = out.sequences[0, ids.shape[1]:].tolist()
    margins = [float(torch.topk(s[0], 2).values.diff().abs()) for s in out.scores]
    trusted = next((i for i, m in enumerate(margins) if m < 0.05), len(margins))
    m = ct2.load_model(model, "cpu")
    got = m.generator.generate_batch([m._start(prompts.own_format(req))],
                                     **ct2.sampling_options(req, req.max_new_tokens, m.eos_id))[0].sequences_ids[0]
    agreed = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
    print(f"greedy agreement with transformers: {agreed} of {len(want)} tokens "
          f"(the first {trusted} led by more than int8 rounding can overturn)")
    return trusted, agreed


def test_greedy_output_agrees_with_transformers_where_int8_cannot_tip_it(tiny):
    # Transformers also penalises the prompt's tokens; CTranslate2 only the generated ones.
    trusted, agreed = _greedy_agreement(str(tiny), request(temperature=0, repetition_penalty=1.0, max_new_tokens=40))
    assert agreed >= trusted >= 3


def test_stream_same_seed_same_text_other_seed_other_text_greedy_ignores_seed(tiny):
    b = backend(tiny)
    first = "".join(b.stream(request(seed=11)))
    assert "".join(b.stream(request(seed=12))) != first
    assert "".join(b.stream(request(seed=11))) == first
    assert len({"".join(b.stream(request(temperature=0, seed=s))) for s in (None, 1, 2)}) == 1


def test_min_new_tokens_forces_the_length_and_max_new_tokens_caps_it(tiny):
    m = ct2.load_model(str(tiny), "cpu")
    for req, length in ((request(max_new_tokens=30, extra={"min_new_tokens": 30}), 30), (request(max_new_tokens=5), 5)):
        ids = m.generator.generate_batch([m._start(prompts.own_format(req))],
                                         **ct2.sampling_options(req, req.max_new_tokens, m.eos_id))[0].sequences_ids[0]
        assert len(ids) == length


@pytest.mark.parametrize("fmt", ["v1", "own", "v2"])
def test_prompt_formats_all_run_and_v2_has_two_halves(tiny, fmt):
    b = backend(tiny, fmt)
    pieces = list(b.stream(request(max_new_tokens=20, premise="舞台は海辺の町。")))
    assert "".join(pieces).strip()
    assert b.finish(request(), "".join(pieces)).prompt == prompts.prompt_for(fmt, request())
    if fmt == "v2":
        assert pieces.count("\n\n") == 1


def test_batch_of_four_matches_each_streamed_alone(tiny):
    """Prompts of different lengths (different target words), greedy: each row writes what it
    writes alone. (Repetition penalty 1: in a batch a longer prompt's tail counts as written.)"""
    b = backend(tiny)
    reqs = [request(temperature=0, repetition_penalty=1.0, targets=t)
            for t in [(), WORDS, ("把握", "促す", "曖昧", "顕著", "緩和"), ("懸念",)]]
    drafts = b.generate_batch(reqs)
    assert len(drafts) == 4 and b.generate_batch([]) == []
    for req, draft in zip(reqs, drafts):
        assert draft.text == b.finish(req, "".join(b.stream(req))).text
        assert draft.prompt == prompts.own_format(req)
    same = [request(seed=5)] * 4  # sampled with one seed: reproducible
    assert b.generate_batch(same) == b.generate_batch(same)
    assert all("\n\n" in d.text for d in backend(tiny, "v2").generate_batch([request(max_new_tokens=20)] * 2))


def test_prompt_beyond_the_context_is_one_sentence(tiny):
    with pytest.raises(GenerationError, match="exceed this model's context of 1024 tokens; set max new tokens to at most"):
        list(backend(tiny).stream(request(max_new_tokens=1024)))  # not its folder on the server
    with pytest.raises(GenerationError, match="context of 1024 tokens"):
        backend(tiny).generate_batch([request(max_new_tokens=1024)])


def test_closing_the_stream_stops_generation(tiny):
    loaded = ct2.load_model(str(tiny), "cpu")
    stream = backend(tiny).stream(request(max_new_tokens=900, extra={"min_new_tokens": 900}))
    next(stream)
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 2
    assert loaded.lock.acquire(blocking=False)  # free for the next job
    loaded.lock.release()


def test_converting_leaves_the_transformers_engines_copy_alone(tiny):
    """CTranslate2's converter scales float32 weights in place: never the copy hf shares."""
    hf = TransformersBackend(str(tiny), device="cpu")
    before = "".join(hf.stream(request()))
    ct2.convert(str(tiny), "cpu")
    assert "".join(hf.stream(request())) == before


def test_in_memory_model_registered_under_an_id(tiny, tmp_path):
    """Benchmarks convert a model built in memory and serve it under an id."""
    source = loading.load_model(str(tiny), "cpu")
    before = {k: v.clone() for k, v in source.model.state_dict().items()}
    out = ct2.convert_model(source.model, source.tokenizer, tmp_path / "bench-ct2", "cpu")
    assert all(torch.equal(v, source.model.state_dict()[k]) for k, v in before.items())
    handle = ct2.register("bench/in-memory", ct2.load(out, source.tokenizer, "bench/in-memory", "cpu"))
    assert ct2.load_model("bench/in-memory") is handle
    assert "".join(backend("bench/in-memory").stream(request())) == "".join(backend(tiny).stream(request()))


# -- the job queue -------------------------------------------------------------------------------

@pytest.fixture
def manager(tmp_path):
    from core.jobs import JobManager

    db = store.Database(tmp_path / "jobs.duckdb")
    jobs = JobManager(db)
    yield jobs
    jobs.close()
    db.close()


def wait(db, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = store.get_job(db, job_id)
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {job['status']}")


def test_job_streams_through_the_queue_and_the_story_names_its_engine(manager, tiny):
    spec = registry.find(str(tiny), "ct2")
    assert spec.backend == "ct2" and spec.name == f"{tiny} · ct2 int8"
    job_id = manager.submit(spec, request(n=2), profile="hana")
    job = wait(manager.db, job_id)
    assert job["status"] == "done" and not job["warning"], job["error"]
    assert len(job["candidates"]) == 2 and job["model_name"] == spec.name
    story = store.get_story(manager.db, job["story_ids"][0])
    assert story["backend"] == "ct2" and story["model"] == str(tiny)
    live = manager.live(job_id)
    assert live.first_token is not None and live.text().strip()


def test_cancel_stops_the_generation_and_frees_the_worker(manager, tiny):
    spec = registry.find(str(tiny), "ct2")
    long = request(n=8, max_new_tokens=900, extra={"min_new_tokens": 900}, seed=None)
    job_id = manager.submit(spec, long)
    deadline = time.monotonic() + 60
    while not (manager.live(job_id) and manager.live(job_id).text()) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert manager.cancel(job_id) == "cancelled"
    cancelled = time.monotonic()
    while manager.live(job_id).finished is None and time.monotonic() - cancelled < 10:
        time.sleep(0.01)
    assert time.monotonic() - cancelled < 5  # stopped within a token or so, not 8 x 900 tokens later
    assert store.get_job(manager.db, job_id)["status"] == "cancelled"
    assert ct2.load_model(str(tiny), "cpu").lock.acquire(blocking=False)
    ct2.load_model(str(tiny), "cpu").lock.release()
    assert wait(manager.db, manager.submit(spec, request()))["status"] == "done"


def test_missing_model_job_falls_back_to_the_example_passage(manager, tmp_path):
    job = wait(manager.db, manager.submit(registry.find(str(tmp_path / "none"), "ct2"), request()))
    assert job["status"] == "done" and "Wrote an example passage instead." in job["warning"]
    assert "\n" not in job["warning"]


def test_without_ctranslate2_a_ct2_job_runs_on_transformers_and_says_so(manager, tiny, monkeypatch):
    monkeypatch.setattr(ct2, "available", lambda: False)
    spec = registry.find(str(tiny), "ct2")
    assert isinstance(registry.make_backend(spec), TransformersBackend)
    job = wait(manager.db, manager.submit(spec, request()))
    assert job["status"] == "done" and job["warning"] == registry.ENGINE_MISSING
    assert store.get_story(manager.db, job["story_ids"][0])["backend"] == "hf"


# -- the command line ----------------------------------------------------------------------------

def _generate(model: Path, *, block_ctranslate2: bool = False) -> subprocess.CompletedProcess:
    args = ["generate", "--backend", "ct2", "--model", str(model), "--words", "把握", "--seed", "1",
            "--max-new-tokens", "24", "--json"]
    block = "import sys; sys.modules['ctranslate2'] = None; " if block_ctranslate2 else "import sys; "
    code = block + f"from core.__main__ import main; sys.exit(main({args!r}))"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=180)


def test_cli_generate_ct2_converts_on_first_use_and_says_so(tiny):
    first = _generate(tiny)
    assert first.returncode == 0, first.stderr
    assert f"Converting {tiny} to CTranslate2 int8 (first use)…" in first.stderr
    out = json.loads(first.stdout)
    assert out["backend"] == "ct2" and out["model"] == str(tiny) and out["text"]
    second = _generate(tiny)
    assert second.returncode == 0 and "Converting" not in second.stderr
    assert json.loads(second.stdout)["text"] == out["text"]  # same seed, same story


def test_cli_without_ctranslate2_falls_back_to_transformers_with_one_sentence(tiny):
    r = _generate(tiny, block_ctranslate2=True)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {registry.ENGINE_MISSING}"]
    assert json.loads(r.stdout)["backend"] == "hf" and not (tiny / ct2.FOLDER).exists()


# -- the registry's engines ----------------------------------------------------------------------

@pytest.fixture
def checkpoint(tiny_source) -> Path:
    folder = settings.paths().runs / "run-a" / "checkpoint-4"
    shutil.copytree(tiny_source, folder)
    return folder


def test_promoted_model_runs_on_the_engine_its_entry_names(checkpoint):
    entry = registry.promote(checkpoint, "Class model", "own", engine="ct2", default=True)
    assert entry["engine"] == "ct2"
    spec = registry.find("Class model")
    assert (spec.name, spec.backend, spec.source) == ("Class model · ct2 int8", "ct2", "promoted")
    assert registry.default_model() == spec and registry.find("Class model · ct2 int8") == spec
    assert isinstance(registry.make_backend(spec), Ct2Backend)
    assert registry.display_name(str(checkpoint), "ct2") == "Class model · ct2 int8"
    assert registry.display_name(str(checkpoint), "hf") == "Class model"
    registry.set_engine("Class model", "hf")
    assert registry.find("Class model") == registry.ModelSpec("Class model", "hf", str(checkpoint.resolve()), "own",
                                                              "promoted")
    assert registry.find("Class model", "ct2").backend == "ct2"  # the same model asked for on ct2


@pytest.mark.parametrize("call, message", [
    (lambda: registry.set_engine("Class model", "onnx"), "Engine 'onnx' is not one of hf, ct2."),
    (lambda: registry.set_engine("Nobody", "ct2"), "No promoted model is named 'Nobody'."),
])
def test_set_engine_refuses_in_one_sentence(checkpoint, call, message):
    registry.promote(checkpoint, "Class model")
    with pytest.raises(registry.PromotionError) as err:
        call()
    assert str(err.value) == message
    assert registry.engine_of(registry.promoted()[0]) == "hf"


def test_promote_with_an_unknown_engine_is_refused(checkpoint):
    with pytest.raises(registry.PromotionError, match="Engine 'fast' is not one of hf, ct2."):
        registry.promote(checkpoint, "Class model", engine="fast")
    assert registry.promoted() == []


def test_cli_backend_pair_and_engine_names(tiny):
    spec = registry.spec_for_backend("ct2", str(tiny))
    assert (spec.backend, spec.model, spec.name) == ("ct2", str(tiny), f"{tiny} · ct2 int8")
    published = registry.spec_for_backend("ct2")
    assert (published.backend, published.prompt_format) == ("ct2", "v2")
    assert registry.with_engine(spec.name, "ct2") == spec.name and registry.plain_name(spec.name) == str(tiny)
    with pytest.raises(GenerationError, match="use examples, hf, ct2 or openai"):
        registry.spec_for_backend("onnx")
