"""`python -m core stories import|export` as real subprocesses on a real DuckDB file."""
from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq

from tests.test_cli import cli

LINES = [
    json.dumps({"text": "部長は部下に報告を促した。", "title": "報告", "source": "pasted", "mood": "ignored"}),
    "this is not json",
    json.dumps({"title": "no text here"}),
    json.dumps({"text": "和やかな雰囲気だった。", "created": "2026-01-05T10:00:00Z"}),
    json.dumps(["a list"]),
]


def test_import_reports_bad_lines_by_number_and_keeps_the_rest(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    r = cli("stories", "import", str(src), "--profile", "hana")
    err = r.stderr.decode()
    assert r.returncode == 0
    assert "Imported 2 stories; skipped 3 lines." in r.stdout.decode()
    assert "line 2: not valid JSON" in err and "line 3:" in err and "line 5: not a JSON object" in err


def test_export_formats_round_trip_with_filters(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(LINES), encoding="utf-8")
    cli("stories", "import", str(src))
    out = tmp_path / "all.csv"
    assert cli("stories", "export", "--format", "csv", "--out", str(out)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["text"] for r in rows] == ["部長は部下に報告を促した。", "和やかな雰囲気だった。"]
    assert rows[0]["source"] == "pasted" and rows[1]["source"] == "imported"
    jl = tmp_path / "recent.jsonl"
    cli("stories", "export", "--format", "jsonl", "--out", str(jl), "--since", "2026-06-01")
    recent = [json.loads(line) for line in jl.read_text(encoding="utf-8").splitlines()]
    assert [r["title"] for r in recent] == ["報告"]  # the 2026-01-05 story is older
    pa = tmp_path / "all.parquet"
    cli("stories", "export", "--format", "parquet", "--out", str(pa))
    table = pq.read_table(pa)
    assert table.num_rows == 2 and "n1_density" in table.column_names
    none = tmp_path / "none.jsonl"  # imported stories have no model, so a model filter keeps none
    assert cli("stories", "export", "--format", "jsonl", "--out", str(none), "--model", "gpt-x").returncode == 0
    assert none.read_text(encoding="utf-8") == ""


def test_export_to_unwritable_place_is_one_line(tmp_path):
    r = cli("stories", "export", "--format", "csv", "--out", str(tmp_path / "no" / "such" / "dir.csv"))
    assert r.returncode == 2 and r.stderr.decode().count("\n") == 1 and "Cannot write" in r.stderr.decode()
