"""A class of students on one server: N simulated students (default 40) each open their own
profile in the Reader, analyse a different corpus story and save it, while a teacher signs in
and exports the Review desk again and again. Prints the p50/p95/max time from the Analyse click
to the score card and from the Save click to its confirmation, and checks afterwards, in the
database, that every save is there exactly once.

    .venv/bin/python bench/classroom.py [--students 40] [--exports 5]

Each student is a real Streamlit session: a websocket client speaking Streamlit's own protocol
(BackMsg/ForwardMsg protobufs) against `streamlit run app.py` on a free port, sending the widget
states a browser would send. Texts: stories from ../shared/corpus (a synthetic text per student
when that folder is absent). Everything is bounded in time (--timeout per step).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import websocket
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.appserver import running_app  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "stories_train1.jsonl"


class StepTimeout(RuntimeError):
    pass


class Session:
    """One browser tab's worth of Streamlit session: widget states it has set, the elements of
    its last run (by widget key and by kind), and the app's pages."""

    def __init__(self, url: str, timeout: float):
        self.ws = websocket.create_connection(url.replace("http", "ws", 1) + "/_stcore/stream",
                                              subprotocols=["streamlit"], timeout=timeout)
        self.timeout, self.states, self.pages, self.page = timeout, {}, {}, ""
        self.elements: list = []  # (kind, proto) of the last run
        self.ids: dict[str, str] = {}  # widget key -> Streamlit's widget id ("$$ID-<hash>-<key>")
        self.session_id = ""

    def close(self) -> None:
        self.ws.close()

    def _recv(self) -> ForwardMsg:
        msg = ForwardMsg()
        msg.ParseFromString(self.ws.recv())
        return msg

    def run(self, set_values: dict | None = None, trigger: str | None = None, until=None) -> float:
        """Send a rerun with the given widget values (by key) and a button press, and read until
        the run finishes (or `until(self)` holds); returns the seconds that took."""
        for key, value in (set_values or {}).items():
            self.states[key] = value
        back = BackMsg()
        cs = back.rerun_script
        cs.page_script_hash = self.page
        for key, value in self.states.items():
            wid = self.widget_id(key)
            if wid is None:
                continue
            w = cs.widget_states.widgets.add()
            w.id = wid
            if isinstance(value, bool):
                w.bool_value = value
            elif isinstance(value, (int, float)):
                w.double_value = value
            else:
                w.string_value = value
        if trigger:
            w = cs.widget_states.widgets.add()
            w.id, w.trigger_value = self.widget_id(trigger), True
        t0 = time.perf_counter()
        self.ws.send_binary(back.SerializeToString())
        return self._read_run(t0, until)

    def _read_run(self, t0: float, until=None) -> float:
        """Reads the whole run (a browser gets all of it too); the time returned is when
        `until` first held, e.g. when the score card arrived, else when the run finished."""
        self.elements, hit = [], None
        deadline = time.monotonic() + self.timeout
        while True:
            if time.monotonic() > deadline:
                raise StepTimeout("the run did not finish in time")
            msg = self._recv()
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.session_id = msg.new_session.initialize.session_id or self.session_id
            elif kind == "navigation":
                self.pages = {p.url_pathname or "": p.page_script_hash for p in msg.navigation.app_pages}
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                proto = getattr(element, element.WhichOneof("type"))
                self.elements.append((element.WhichOneof("type"), proto))
                wid = getattr(proto, "id", "")
                if wid.startswith("$$ID-"):
                    self.ids[wid.rsplit("-", 1)[-1]] = wid
                if until is not None and hit is None and until(self):
                    hit = time.perf_counter()
            elif kind == "script_finished" and (until is None or hit is not None):
                return (hit or time.perf_counter()) - t0  # else a rerun follows (st.rerun): read on

    def start(self) -> None:
        self.run()

    def widget_id(self, key: str) -> str | None:
        return self.ids.get(key)

    def texts(self) -> list[str]:
        out = []
        for kind, proto in self.elements:
            if kind in ("markdown", "alert"):
                out.append(proto.body)
            elif kind == "metric":
                out.append(f"{proto.label} {proto.body}")
        return out

    def has(self, text: str) -> bool:
        return any(text in t for t in self.texts())

    def goto(self, path: str) -> None:
        self.page = self.pages[path]
        self.run()


def student(url: str, name: str, text: str, timeout: float, out: dict) -> None:
    s = Session(url, timeout)
    try:
        s.start()
        s.run({"profile_name": name, "profile_passphrase": ""}, trigger="profile_go",
              until=lambda x: x.has(f"Profile: **{name}**"))
        s.run({"reader_text": text})
        out["score"] = s.run(trigger="reader_go", until=lambda x: x.has("N1 density"))
        out["save"] = s.run(trigger="reader_save", until=lambda x: x.has("Saved as story #"))
        out["ok"] = True
    except Exception as exc:  # one line in the report; the others go on
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        s.close()


def teacher(url: str, exports: int, timeout: float, stop: threading.Event, out: dict) -> None:
    s = Session(url, timeout)
    out["exports"], out["sizes"], out["lost"] = [], [], 0
    try:
        s.start()
        s.run({"signin_name": "teacher", "signin_password": "bench-pw"}, trigger="signin_go")
        s.goto("review")
        if not s.has("Review desk") and not any(k == "download_button" for k, _ in s.elements):
            s.run()
        # Exports until it has made `exports` of them (the first ones overlap the class's saves);
        # `stop` only ends a teacher who never found a story to export.
        while len(out["exports"]) < exports and not (stop.is_set() and not out["exports"]):
            s.run()
            button = next((p for k, p in s.elements if k == "download_button"), None)
            if button is None:
                time.sleep(0.5)  # no story saved yet: the desk has nothing to export
                continue
            t0 = time.perf_counter()
            back = BackMsg()
            back.backend_operation_request.request_id = f"export-{len(out['exports'])}"
            back.backend_operation_request.session_id = s.session_id
            back.backend_operation_request.deferred_file.file_id = button.deferred_file_id
            s.ws.send_binary(back.SerializeToString())
            while True:
                msg = s._recv()
                if msg.WhichOneof("type") == "backend_operation_response":
                    break
            response = msg.backend_operation_response
            if response.error_msg or not response.deferred_file.url:
                raise RuntimeError(f"the export failed: {response.error_msg or 'no file'}")
            try:
                data = urllib.request.urlopen(url + response.deferred_file.url, timeout=timeout).read()
            except urllib.error.HTTPError as exc:
                if exc.code != 404 or out["lost"] >= exports:
                    raise
                # Streamlit keeps a generated download only while a session refers to it; another
                # session's run ending in between may prune it (README, "Classroom"). Counted.
                out["lost"] += 1
                continue
            out["exports"].append(time.perf_counter() - t0)
            out["sizes"].append(len(data))
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        s.close()


def texts(n: int) -> list[str]:
    if CORPUS.exists():
        stories = [json.loads(line)["text"] for line in CORPUS.open(encoding="utf-8")]
        return [stories[i * 7 % len(stories)] for i in range(n)]
    return [f"生徒{i}番の文章。部長は部下に早めの報告を促した。状況を把握して対策を講じる。" for i in range(n)]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--exports", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds any one step may take")
    args = ap.parse_args()
    from core import store
    from core.auth import hash_password

    stories = texts(args.students)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {"NONESTORY_DATA": str(data), "NONESTORY_DB": str(data / "nonestory.duckdb"),
               "NONESTORY_TEACHER_PASSWORD_HASH": hash_password("bench-pw", iterations=1000)}
        if os.environ.get("NONESTORY_CACHE"):
            env["NONESTORY_CACHE"] = os.environ["NONESTORY_CACHE"]
        with running_app(env) as url:
            warm = Session(url, args.timeout)  # the index loads once per server, before the class
            warm.start()
            warm.run({"reader_text": "部長は部下に報告を促した。"}, trigger="reader_go", until=lambda x: x.has("N1 density"))
            warm.close()
            results = [{} for _ in range(args.students)]
            stop, t_out = threading.Event(), {}
            threads = [threading.Thread(target=student, args=(url, f"s{i + 1:02d}", stories[i], args.timeout, results[i]))
                       for i in range(args.students)]
            t_thread = threading.Thread(target=teacher, args=(url, args.exports, args.timeout, stop, t_out))
            t0 = time.perf_counter()
            t_thread.start()
            for th in threads:
                th.start()
            for th in threads:
                th.join(args.timeout * 4)
            stop.set()
            t_thread.join(args.timeout)
            wall = time.perf_counter() - t0
        db = store.Database(data / "nonestory.duckdb")  # the server has stopped: the file is ours
        rows = db.execute("SELECT profile, text FROM stories WHERE deleted_at IS NULL")
        db.close()
    failed = [r.get("error", "unfinished") for r in results if not r.get("ok")]
    kept = {(p, t) for p, t in rows}
    missing = [i for i in range(args.students) if results[i].get("ok") and (f"s{i + 1:02d}", stories[i]) not in kept]
    duplicated = len(rows) - len(kept)
    score, save = [r["score"] for r in results if "score" in r], [r["save"] for r in results if "save" in r]
    print(f"{args.students} students, 1 teacher exporting the Review desk; {os.cpu_count()} CPUs; "
          f"load before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; wall {wall:.1f} s")
    for label, values in (("click Analyse -> score card", score), ("click Save -> saved", save),
                          ("teacher export (Review desk)", t_out.get("exports", []))):
        if values:
            print(f"{label:<30} n={len(values):>3}  p50 {percentile(values, .5) * 1000:7.0f} ms  "
                  f"p95 {percentile(values, .95) * 1000:7.0f} ms  max {max(values) * 1000:7.0f} ms")
    print(f"stories saved {len(rows)}, missing {len(missing)}, duplicated {duplicated}, failed sessions "
          f"{len(failed)}{': ' + failed[0] if failed else ''}; teacher: {t_out.get('error', 'ok')}, "
          f"export sizes {t_out.get('sizes', [])[-1:] or '-'} bytes, downloads pruned before the "
          f"teacher fetched them {t_out.get('lost', 0)}")
    return 1 if failed or missing or duplicated or "error" in t_out else 0


if __name__ == "__main__":
    sys.exit(main())
