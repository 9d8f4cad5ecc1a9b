"""Promotion into the model registry on real model folders (the tiny model saved like a
checkpoint): names, refusals, broken checkpoints, deleted folders, the default."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core import settings
from core.generation import registry
from training.tiny import build_tiny


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("promote") / "tiny")


@pytest.fixture
def checkpoint(tiny) -> Path:
    """A copy of the tiny model where a training run keeps its checkpoints."""
    folder = settings.paths().runs / "run-a" / "checkpoint-4"
    shutil.copytree(tiny, folder)
    (folder.parent / "status.json").write_text('{"state": "done"}', encoding="utf-8")
    return folder


def nan_weights(folder: Path) -> None:
    from safetensors.torch import load_file, save_file
    weights = load_file(folder / "model.safetensors")
    name = next(n for n in weights if n.endswith("mlp.c_fc.weight"))
    weights[name][0, 0] = float("nan")
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})


def names() -> list[str]:
    return [m.name for m in registry.available()]


def test_promote_lists_model_first_among_local_under_its_name(checkpoint):
    before = names()
    assert "checkpoint: run-a/checkpoint-4" in before
    entry = registry.promote(checkpoint, "  N1 stories v3 ", "v2", run="run-a", by="admin")
    assert entry["name"] == "N1 stories v3" and entry["checkpoint"] == "checkpoint-4"
    on_disk = json.loads((settings.paths().models / registry.PROMOTED).read_text(encoding="utf-8"))
    assert [e["name"] for e in on_disk["models"]] == ["N1 stories v3"]
    assert on_disk["models"][0]["path"] == str(checkpoint.resolve()) and on_disk["models"][0]["by"] == "admin"
    models = registry.available()
    local = [m for m in models if m.source in ("promoted", "local", "checkpoint")]
    assert local[0] == registry.ModelSpec("N1 stories v3", "hf", str(checkpoint.resolve()), "v2", "promoted")
    # listed once, under the promoted name, not again as a plain checkpoint
    assert "checkpoint: run-a/checkpoint-4" not in names()
    assert registry.find("N1 stories v3").model == str(checkpoint.resolve())
    assert not list(settings.paths().models.glob(".*.tmp"))  # the atomic write left no temp file


@pytest.mark.parametrize("name, message", [
    ("", "Give the model a name"),
    ("   ", "Give the model a name"),
    ("Example passage (offline, not AI)", "already exists"),
])
def test_promote_bad_name_is_one_sentence(checkpoint, name, message):
    with pytest.raises(registry.PromotionError, match=message) as err:
        registry.promote(checkpoint, name)
    assert "\n" not in str(err.value)
    assert registry.promoted() == []


def test_promote_same_name_or_same_folder_twice_is_refused(checkpoint, tiny):
    registry.promote(checkpoint, "v3")
    other = shutil.copytree(tiny, checkpoint.parent / "checkpoint-8")
    with pytest.raises(registry.PromotionError, match="named 'v3' already exists"):
        registry.promote(other, "v3")
    with pytest.raises(registry.PromotionError, match="already promoted as 'v3'"):
        registry.promote(checkpoint, "v4")
    assert [e["name"] for e in registry.promoted()] == ["v3"]


@pytest.mark.parametrize("damage, reason", [
    (nan_weights, "NaN or Inf"),
    (lambda folder: (folder / "model.safetensors").unlink(), "no safetensors weights"),
], ids=["nan-weights", "weights-deleted"])
def test_promote_broken_checkpoint_is_refused(checkpoint, damage, reason):
    damage(checkpoint)
    with pytest.raises(registry.PromotionError, match=reason) as err:
        registry.promote(checkpoint, "broken")
    assert str(err.value).startswith("checkpoint-4 cannot be promoted:")
    assert registry.promoted() == [] and "broken" not in names()


def test_deleted_folder_leaves_the_list_but_stays_recorded(checkpoint):
    registry.promote(checkpoint, "v3")
    shutil.rmtree(checkpoint)
    assert "v3" not in names()
    [entry] = registry.promoted()
    assert entry["name"] == "v3" and not registry.promoted_present(entry)
    registry.unpromote("v3")
    assert registry.promoted() == []
    with pytest.raises(registry.PromotionError, match="No promoted model is named 'v3'"):
        registry.unpromote("v3")


def test_default_flag_is_honoured_and_the_environment_wins(checkpoint, tiny, monkeypatch):
    registry.promote(checkpoint, "v3", default=True)
    assert registry.default_model().name == "v3" and registry.available()[0].name == "v3"
    second = shutil.copytree(tiny, checkpoint.parent / "checkpoint-8")
    registry.promote(second, "v4", default=True)  # one default at a time
    assert [e["default"] for e in registry.promoted()] == [False, True]
    assert registry.default_model().name == "v4"
    monkeypatch.setenv("NONESTORY_DEFAULT_MODEL", "v3")
    assert registry.default_model().name == "v3"
    monkeypatch.delenv("NONESTORY_DEFAULT_MODEL")
    registry.set_default(None)
    assert registry.default_model() == registry.EXAMPLES  # offline: no hub cache for train002


def test_unreadable_promoted_file_means_none(checkpoint):
    path = settings.paths().models / registry.PROMOTED
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json", encoding="utf-8")
    assert registry.promoted() == []
    assert "checkpoint: run-a/checkpoint-4" in names()
    registry.promote(checkpoint, "v3")  # a fresh file replaces the garbled one
    assert [e["name"] for e in registry.promoted()] == ["v3"]


def test_promoted_model_writes_a_story(checkpoint):
    from core.generation import pipeline
    from core.generation.base import GenerationRequest
    registry.promote(checkpoint, "v3", "own")
    spec = registry.find("v3")
    [candidate] = pipeline.produce(registry.make_backend(spec), GenerationRequest(max_new_tokens=16, seed=1,
                                                                                   min_chars=0))
    assert candidate.draft.text.strip()


def test_kept_copy_outlives_the_run_and_leaves_training_state_behind(checkpoint):
    (checkpoint / "optimizer.pt").write_bytes(b"x" * 1000)  # what a real checkpoint also holds
    (checkpoint / "trainer_state.json").write_text("{}", encoding="utf-8")
    entry = registry.promote(checkpoint, "kept", "v1", keep_copy=True)
    copy = Path(entry["path"])
    assert copy.parent == settings.paths().models / registry.COPIES and entry["copied"]
    assert (copy / "model.safetensors").is_file() and (copy / "config.json").is_file()
    assert not (copy / "optimizer.pt").exists() and not (copy / "trainer_state.json").exists()
    shutil.rmtree(checkpoint.parent)  # the run is deleted to free space
    assert "kept" in names() and registry.find("kept").model == str(copy)
    from training.checkpoints import verify
    assert verify(copy) == []
    with pytest.raises(registry.PromotionError, match="already exists"):
        registry.promote(copy, "kept")
    registry.unpromote("kept")
    assert not copy.exists() and "kept" not in names()


def test_same_checkpoint_cannot_be_promoted_twice_even_as_a_copy(checkpoint):
    registry.promote(checkpoint, "first", keep_copy=True)
    with pytest.raises(registry.PromotionError, match="already promoted as 'first'"):
        registry.promote(checkpoint, "second")


def test_students_get_no_checkpoint_until_it_is_promoted(checkpoint):
    assert "checkpoint: run-a/checkpoint-4" in names()  # admins see it
    student = [m.name for m in registry.for_students()]
    assert "checkpoint: run-a/checkpoint-4" not in student
    assert {m.source for m in registry.for_students()} <= registry.STUDENT_SOURCES
    registry.promote(checkpoint, "Class model", "v2")
    assert "Class model" in [m.name for m in registry.for_students()]


def test_display_names_never_show_a_server_path(checkpoint, tmp_path):
    assert registry.display_name(str(checkpoint)) == "checkpoint: run-a/checkpoint-4"
    assert registry.display_name(str(tmp_path / "some" / "folder")) == "local: folder"
    registry.promote(checkpoint, "Class model", "v2", keep_copy=True)
    kept = registry.promoted()[0]["path"]
    assert registry.display_name(kept) == registry.display_name(str(checkpoint)) == "Class model"
    assert registry.display_name("BBusagi/sft-nonestory-train002") == "BBusagi/sft-nonestory-train002"
    assert registry.display_name("example-passage") == registry.EXAMPLES.name
    assert registry.display_name("") == ""


def test_thresholds_outside_zero_to_one_are_refused_and_a_broken_file_means_the_defaults():
    from core.generation import promotion

    with pytest.raises(registry.PromotionError, match="between 0 and 1"):
        promotion.Thresholds(1.5, 0.5)
    path = settings.paths().models / promotion.SETTINGS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"min_coverage": "lots"', encoding="utf-8")
    assert promotion.thresholds() == promotion.Thresholds()
    promotion.save_thresholds(promotion.Thresholds(0.3, 0.9))
    assert promotion.thresholds() == promotion.Thresholds(0.3, 0.9)
