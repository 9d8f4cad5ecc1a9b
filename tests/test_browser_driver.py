"""Real tests of tests/browser.py: a real chromium against a real local HTTP server, no mocks."""
from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser import Browser, BrowserError, find_chromium

if find_chromium() is None:
    pytest.skip("no chromium on this machine", allow_module_level=True)

PAGES: dict[str, str] = {
    "/": """<!doctype html><meta charset="utf-8"><title>driver</title>
        <h1>Driver test page</h1>
        <textarea id="src"></textarea>
        <button id="copy" onclick="document.getElementById('out').textContent =
            document.getElementById('src').value">Copy</button>
        <div id="out"></div>
        <script>
          window.keys = [];
          document.addEventListener('keydown', e => window.keys.push({key: e.key, ctrl: e.ctrlKey}));
          console.log('page ready', 3);
        </script>""",
    "/alert": """<!doctype html><meta charset="utf-8"><script>alert('x')</script><p>after the alert</p>""",
    # A panel that opens like Streamlit's expander: its height grows over 600 ms with overflow
    # clipped, so for a while the button inside is laid out but not visible, and a press at its centre
    # would land on the catcher underneath. A second button stays under an opaque overlay.
    "/panel": """<!doctype html><meta charset="utf-8"><title>panel</title>
        <style>#panel { overflow: clip; height: 0; transition: height 600ms linear; }
               #panel.open { height: 80px; }
               #catcher { position: absolute; top: 0; left: 0; width: 100%; height: 400px; z-index: -1; }
               #veil { position: absolute; top: 150px; left: 0; width: 300px; height: 60px; background: #fff; }
               #hidden-btn { position: absolute; top: 160px; left: 10px; }</style>
        <div id="catcher" onclick="window.missed = (window.missed || 0) + 1"></div>
        <div id="panel"><div style="height: 50px"></div>
          <button id="inside" onclick="window.pressed = true">Inside</button></div>
        <button id="hidden-btn" onclick="window.pressed = 'hidden'">Hidden</button><div id="veil"></div>
        <script>window.pressed = false; window.missed = 0;</script>""",
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path)
        if body is None:
            self.send_error(404)
            return
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with Browser() as b:
        yield b


def _live_group_members(pgid: int) -> list[int]:
    """PIDs in process group `pgid` that are not zombies (a zombie is dead, just not yet reaped)."""
    live = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            live.append(int(entry))
    return live


def _assert_group_gone(pgid: int) -> None:
    deadline = time.monotonic() + 5  # SIGKILLed processes take a moment to finish exiting
    while (live := _live_group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live == [], f"chromium processes still alive: {live}"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_goto_reads_text_when_page_served(browser: Browser, server: str) -> None:
    browser.goto(server + "/")
    assert "Driver test page" in browser.text()
    assert browser.eval("document.title") == "driver"
    assert '<textarea id="src">' in browser.html()


def test_type_into_copies_japanese_when_button_clicked(browser: Browser, server: str) -> None:
    browser.goto(server + "/")
    browser.type_into("#src", "把握する")
    browser.click("#copy")
    browser.wait_for("document.getElementById('out').textContent.includes('把握する')", timeout=10)
    assert browser.eval("document.activeElement.id") == "copy"  # a real click moves focus


def test_insert_text_copies_japanese_when_button_clicked(browser: Browser, server: str) -> None:
    browser.goto(server + "/")
    browser.insert_text("#src", "把握")
    browser.insert_text("#src", "する")  # appends at the caret
    browser.click("#copy")
    browser.wait_for("document.getElementById('out').textContent === '把握する'", timeout=10)


def test_press_reports_ctrl_enter_when_textarea_focused(browser: Browser, server: str) -> None:
    browser.goto(server + "/")
    browser.insert_text("#src", "a")
    browser.press("Enter")
    browser.press("Ctrl+Enter")
    assert browser.eval("window.keys") == [{"key": "Enter", "ctrl": False}, {"key": "Enter", "ctrl": True}]
    assert browser.eval("document.getElementById('src').value") == "a\n"  # Ctrl+Enter types nothing


def test_dialog_recorded_when_page_calls_alert(browser: Browser, server: str) -> None:
    browser.goto(server + "/alert", timeout=10)  # would hang until timeout if the alert stayed open
    assert [(d["type"], d["message"]) for d in browser.dialogs] == [("alert", "x")]
    assert "after the alert" in browser.text()


def test_dialogs_empty_when_script_tag_rendered_as_text(browser: Browser, server: str) -> None:
    browser.goto(server + "/")
    browser.type_into("#src", "<script>alert(1)</script>")
    browser.click("#copy")
    browser.wait_for("document.getElementById('out').textContent.includes('<script>')", timeout=10)
    assert browser.dialogs == []
    # Positive control: markup that really runs script does show up in dialogs.
    browser.eval("document.getElementById('out').innerHTML = '<img src=nope onerror=alert(2)>'")
    deadline = time.monotonic() + 10
    while not browser.dialogs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [d["message"] for d in browser.dialogs] == ["2"]


def test_console_messages_recorded_when_page_logs(browser: Browser, server: str) -> None:
    browser.goto(server + "/")
    assert {"type": "log", "text": "page ready 3"} in browser.console_messages
    browser.eval("setTimeout(() => { throw new Error('late boom') }, 0)")
    browser.wait_for("new Promise(r => setTimeout(() => r(true), 50))")
    assert any(m["type"] == "exception" and "late boom" in m["text"] for m in browser.console_messages)


def test_eval_raises_with_message_when_js_throws(browser: Browser) -> None:
    with pytest.raises(BrowserError, match="kaboom"):
        browser.eval("(() => { throw new Error('kaboom') })()")
    assert browser.eval("Promise.resolve(40 + 2)") == 42
    assert browser.eval("undefined") is None


def test_wait_for_raises_assertion_with_page_text_when_never_true(browser: Browser, server: str) -> None:
    browser.goto(server + "/")
    with pytest.raises(AssertionError) as info:
        browser.wait_for("window.neverSet === 1", timeout=0.5, interval=0.1)
    assert "window.neverSet === 1" in str(info.value)
    assert "Driver test page" in str(info.value)


def test_wait_for_returns_true_when_predicate_is_dom_node(browser: Browser, server: str) -> None:
    browser.goto(server + "/")
    assert browser.wait_for("document.querySelector('#src')", timeout=5) is True
    assert browser.wait_for("document.title", timeout=5) == "driver"  # JSON values come back as is
    # React-managed nodes (Streamlit) carry cyclic expandos that CDP cannot serialise; imitate one.
    browser.eval("(() => { const el = document.querySelector('#src'); el.fiber = {el}; })()")
    with pytest.raises(BrowserError, match="DOM node"):
        browser.eval("document.querySelector('#src')")


def test_click_raises_when_selector_matches_nothing(browser: Browser, server: str) -> None:
    browser.goto(server + "/")
    with pytest.raises(BrowserError, match="no element matches #missing"):
        browser.click("#missing")


def test_click_waits_until_button_in_opening_panel_is_visible(browser: Browser, server: str) -> None:
    browser.goto(server + "/panel")
    browser.eval("document.getElementById('panel').classList.add('open')")
    browser.click("#inside")
    browser.wait_for("window.pressed === true", timeout=10)
    assert browser.eval("window.missed") == 0  # no press went to what was underneath


def test_click_raises_when_button_stays_covered(browser: Browser, server: str) -> None:
    browser.goto(server + "/panel")
    with pytest.raises(BrowserError, match="#hidden-btn' is covered by div#veil"):
        browser.click("#hidden-btn", timeout=1)
    assert browser.eval("window.pressed") is False


def test_screenshot_writes_png_when_called(browser: Browser, server: str, tmp_path: Path) -> None:
    browser.goto(server + "/")
    shot = tmp_path / "shot.png"
    browser.screenshot(shot)
    assert _png_size(shot) == (1280, 900)
    assert shot.stat().st_size > 1000
    full = tmp_path / "full.png"
    browser.eval("document.body.style.height = '3000px'")
    browser.screenshot(full, full_page=True)
    width, height = _png_size(full)
    assert 1200 < width <= 1280 and height >= 3000  # content width: the scrollbar is not content


def test_viewport_matches_size_when_mobile_width(server: str) -> None:
    with Browser(390, 844) as b:
        b.goto(server + "/")
        assert b.eval("[window.innerWidth, window.innerHeight]") == [390, 844]


def test_process_gone_when_context_exits(server: str) -> None:
    with Browser() as b:
        b.goto(server + "/")
        pid, profile = b.pid, b._profile
        assert pid is not None and profile is not None and os.path.isdir(profile)
        assert _live_group_members(pid)
    assert b.proc is not None and b.proc.poll() is not None
    _assert_group_gone(pid)
    assert not os.path.exists(profile)


def test_process_gone_when_body_raises(server: str) -> None:
    with pytest.raises(ZeroDivisionError):
        with Browser() as b:
            pid = b.pid
            1 / 0
    assert pid is not None
    _assert_group_gone(pid)


def test_start_raises_clear_error_when_executable_fails(tmp_path: Path) -> None:
    fake = tmp_path / "fake-chromium"
    fake.write_text("#!/bin/sh\necho 'fake chromium: cannot start' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrowserError, match="fake chromium: cannot start"):
        with Browser(executable=str(fake), start_timeout=5):
            pass
