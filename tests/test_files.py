"""core.files on real files: the one atomic write, the JSON readers and the log tail."""
from __future__ import annotations

import threading

from core.files import atomic_write, read_json, read_jsonl, tail_lines


def test_atomic_write_from_many_threads_leaves_one_whole_file(tmp_path):
    # The app is one process with a thread per session: two sessions writing the same file
    # (the JLPT cache, promoted.json) must not share a temporary file.
    target = tmp_path / "shared.json"
    contents = [str(i) * 200_000 for i in range(8)]
    errors: list[BaseException] = []

    def write(text: str) -> None:
        try:
            for _ in range(5):
                atomic_write(target, text)
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=write, args=(c,)) for c in contents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_text(encoding="utf-8") in contents
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]  # no temporary file left


def test_atomic_write_keeps_bytes_and_the_files_mode(tmp_path):
    target = tmp_path / "a.bin"
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01" and target.stat().st_mode & 0o777 == 0o644
    target.chmod(0o600)
    atomic_write(target, "把握")
    assert target.read_text(encoding="utf-8") == "把握" and target.stat().st_mode & 0o777 == 0o600


def test_readers_skip_what_is_half_written(tmp_path):
    assert read_json(tmp_path / "missing.json") == {}
    (tmp_path / "half.json").write_text('{"a": 1', encoding="utf-8")
    assert read_json(tmp_path / "half.json") == {}
    (tmp_path / "m.jsonl").write_text('{"a": 1}\n[2]\n{"b": 2}\n{"c":', encoding="utf-8")
    assert read_jsonl(tmp_path / "m.jsonl") == [{"a": 1}, {"b": 2}]


def test_tail_lines_reads_the_end_and_splits_progress_bars(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("start\n" + "x\n" * 1000 + "10%\r50%\r100%\n\n", encoding="utf-8")
    assert tail_lines(log, 3) == ["10%", "50%", "100%"]
    assert tail_lines(log, 5, max_bytes=10) == ["50%", "100%"]  # only the last 10 bytes are read
    assert tail_lines(tmp_path / "none.log") == []
