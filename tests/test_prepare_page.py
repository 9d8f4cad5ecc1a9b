"""The Training page shows a prepared dataset's heavy drop reasons: the line training.prepare
prints on the command line appears under the chosen dataset (AppTest, a dataset folder as
prepare leaves it)."""
from __future__ import annotations

import json

from core import settings
from tests.test_pages_training import open_training, write_dataset
from training.prepare import REASONS


def test_dataset_that_lost_a_fifth_to_one_reason_says_so(monkeypatch):
    folder = write_dataset(settings.paths().datasets / "gpt-run2")
    report = json.loads((folder / "report.json").read_text("utf-8"))
    report.update(lines=60, kept=44, out=str(folder), unknown={"style": 0, "genre": 3},
                  dropped={r: {"bad_header": 13, "too_short": 3}.get(r, 0) for r in REASONS})
    (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")
    at = open_training(monkeypatch)
    at.selectbox(key="tr_data").set_value(str(folder)).run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "bad_header rejected 13 of 60 lines (22%): answers whose headers name neither a known style nor a known "
        f"genre; see {folder / 'rejects.jsonl'}."]
    assert any("3 with no genre in the header" in c.value for c in at.caption)


def test_dataset_without_heavy_reasons_shows_no_warning(monkeypatch):
    folder = write_dataset(settings.paths().datasets / "clean")
    at = open_training(monkeypatch)
    at.selectbox(key="tr_data").set_value(str(folder)).run()
    assert not at.exception and not at.warning
