"""The tiny model builder: a real GPT-2 and byte-level BPE tokenizer made from the word lists'
example sentences, deterministic for a seed, and loadable like any checkpoint."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.generation.loading import load_model
from training import tiny
from training.tiny import build_tiny


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("tiny") / "model")


def _files(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file()}


def test_build_same_seed_gives_identical_files(tiny_dir, tmp_path):
    again = build_tiny(tmp_path / "again")
    assert _files(again) == _files(tiny_dir)
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(_files(again))


def test_build_other_seed_changes_weights_not_tokenizer(tiny_dir, tmp_path):
    other = _files(build_tiny(tmp_path / "other", seed=1))
    same = _files(tiny_dir)
    assert other["model.safetensors"] != same["model.safetensors"]
    assert other["tokenizer.json"] == same["tokenizer.json"]


def test_build_is_a_few_megabytes(tiny_dir):
    size = sum(len(b) for b in _files(tiny_dir).values())
    assert 100_000 < size < 5_000_000


def test_tiny_loads_through_load_model(tiny_dir):
    loaded = load_model(str(tiny_dir), device="cpu")
    config = loaded.model.config
    assert (config.n_layer, config.n_embd, config.n_head, config.vocab_size) == (2, 64, 2, 2000)
    assert loaded.tokenizer.eos_token == loaded.tokenizer.pad_token == "<|endoftext|>"
    assert loaded.tokenizer.unk_token == "<unk>"
    assert config.eos_token_id == loaded.tokenizer.eos_token_id == loaded.eos_id


@pytest.mark.parametrize("text", [
    "先生は学生に発言を促した。",
    "彼は状況を把握するのに時間がかかった。",
    "鬱憤を晴らすべく、彼女は颯爽と歩き出した！",  # kanji the example sentences may never show
    "以下は学園・恋愛ジャンルの文学風文体で書かれた、N1単語を多く含む短編小説です：\n【本文】：",
])
def test_tokenizer_round_trips_japanese_without_unknowns(tiny_dir, text):
    tokenizer = load_model(str(tiny_dir), device="cpu").tokenizer
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text
    assert len(ids) < len(text.encode()) * 0.8  # merges learned: fewer tokens than bytes


def test_cli_builds_a_model(tmp_path, capsys):
    assert tiny.main(["--out", str(tmp_path / "cli"), "--layers", "1", "--width", "32", "--heads", "4",
                      "--vocab", "500"]) == 0
    assert "tiny model written to" in capsys.readouterr().out
    config = load_model(str(tmp_path / "cli"), device="cpu").model.config
    assert (config.n_layer, config.n_embd, config.n_head, config.vocab_size) == (1, 32, 4, 500)


def test_cli_rejects_width_not_divisible_by_heads(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        tiny.main(["--out", str(tmp_path / "bad"), "--width", "65", "--heads", "2"])
    assert exit_.value.code == 2
    assert "multiple of --heads" in capsys.readouterr().err


def test_training_code_never_imports_streamlit():
    tree = ast.parse(Path(tiny.__file__).read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(name.split(".")[0] == "streamlit" for name in names)
