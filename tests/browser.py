"""Minimal headless-Chromium driver over the Chrome DevTools Protocol, for end-to-end tests.

Needs only websocket-client (no selenium/playwright). One page target, one websocket. A reader
thread receives every message: responses are matched to commands by id, events are recorded
and handled at once, so a JS dialog is dismissed even while a test sleeps between polls.
"""
from __future__ import annotations

import base64
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from typing import Any

import websocket

_WS_LINE = re.compile(r"DevTools listening on (ws://\S+)")
# key -> (code, windowsVirtualKeyCode, text the key types)
_KEYS: dict[str, tuple[str, int, str]] = {
    "Enter": ("Enter", 13, "\r"), "Tab": ("Tab", 9, ""), "Escape": ("Escape", 27, ""),
    "Backspace": ("Backspace", 8, ""), "Delete": ("Delete", 46, ""), " ": ("Space", 32, " "),
    "ArrowUp": ("ArrowUp", 38, ""), "ArrowDown": ("ArrowDown", 40, ""),
    "ArrowLeft": ("ArrowLeft", 37, ""), "ArrowRight": ("ArrowRight", 39, ""),
}
_MODIFIERS = {"Alt": 1, "Ctrl": 2, "Control": 2, "Meta": 4, "Shift": 8}


class BrowserError(RuntimeError):
    """Chromium did not start, a CDP command failed, or page JavaScript threw."""


def find_chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


class Browser:
    def __init__(self, width: int = 1280, height: int = 900, *, mobile: bool = False,
                 executable: str | None = None, start_timeout: float = 30.0) -> None:
        self.width, self.height, self.mobile = width, height, mobile
        self.executable = executable or find_chromium()
        self.start_timeout = start_timeout
        self.dialogs: list[dict[str, str]] = []  # {"type", "message", "url"} of every JS dialog opened
        self.console_messages: list[dict[str, str]] = []  # {"type", "text"}; uncaught errors: "exception"
        self.events: collections.deque[dict[str, Any]] = collections.deque(maxlen=1000)  # raw CDP events
        self.proc: subprocess.Popen[bytes] | None = None
        self._profile: str | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._ws_url: str | None = None
        self._ws_ready = threading.Event()
        self._ws: websocket.WebSocket | None = None
        self._cond = threading.Condition()  # guards _responses, _loaded, _next_id, _closed
        self._responses: dict[int, dict[str, Any]] = {}
        self._loaded: set[str] = set()  # loaderIds whose "load" lifecycle event has fired
        self._next_id = 0
        self._closed = False

    # ---- process lifecycle ----------------------------------------------------------------
    def __enter__(self) -> Browser:
        try:
            self.start()
        except BaseException:
            self.close()  # a failed start must not leak a chromium or its profile dir
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    def start(self) -> None:
        if not self.executable:
            raise BrowserError("chromium not found (/usr/bin/chromium, chromium, chromium-browser, google-chrome)")
        self._profile = tempfile.mkdtemp(prefix="nonestory-chromium-")
        args = [self.executable, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--remote-debugging-port=0",
                f"--user-data-dir={self._profile}", f"--window-size={self.width},{self.height}",
                "about:blank"]
        # A session of its own, so close() can kill renderers and zygotes with one killpg. (The two
        # crashpad handlers setsid() away but exit with the browser; --disable-crashpad-for-testing
        # would keep them home, but in 156 it crashes the network service: "FD ownership violation".)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        # Chromium keeps logging (dbus noise...): drain stderr for good so it never blocks on a full pipe.
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._ws_ready.wait(self.start_timeout) or not self._ws_url:
            raise BrowserError(f"chromium printed no DevTools URL within {self.start_timeout}s "
                               f"(exit code {self.proc.poll()}); last stderr:\n{self._stderr_tail()}")
        port = urllib.parse.urlsplit(self._ws_url).port or 0
        # Chromium refuses websocket handshakes with an Origin header (unless --remote-allow-origins);
        # websocket-client sends one by default.
        self._ws = websocket.create_connection(self._find_page(port), timeout=self.start_timeout,
                                               suppress_origin=True, enable_multithread=True)
        self._ws.settimeout(None)  # the reader blocks; callers time out on the condition instead
        threading.Thread(target=self._read_ws, daemon=True).start()
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Page.setLifecycleEventsEnabled", {"enabled": True})
        # --window-size sizes the *window*: the viewport comes out ~143px shorter and is clamped
        # to >= 500px wide. Pin the viewport to exactly width x height (390 wide works too).
        self.send("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                         "deviceScaleFactor": 1, "mobile": self.mobile})
        # A headless page is never the focused window, so focus()/blur() would be no-ops and
        # widgets that commit on blur (Streamlit's text inputs) would never commit.
        self.send("Emulation.setFocusEmulationEnabled", {"enabled": True})

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr.append(line)
            if not self._ws_url and (m := _WS_LINE.search(line)):
                self._ws_url = m.group(1)
                self._ws_ready.set()
        self._ws_ready.set()  # EOF: chromium died; wake start() so it reports rather than waits

    def _find_page(self, port: int) -> str:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        deadline = time.monotonic() + self.start_timeout
        while True:  # the about:blank target can show up a moment after the DevTools line
            try:
                with opener.open(f"http://127.0.0.1:{port}/json", timeout=5) as resp:
                    for target in json.load(resp):
                        if target.get("type") == "page" and target.get("webSocketDebuggerUrl"):
                            return str(target["webSocketDebuggerUrl"])
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BrowserError(f"no page target on port {port}; last stderr:\n{self._stderr_tail()}")
            time.sleep(0.1)

    def close(self) -> None:
        """Idempotent. Graceful Browser.close first (chromium reaps its helpers), then SIGKILL the group."""
        if self._ws is not None and not self._closed and self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):  # any failure here is covered by the killpg below
                self.send("Browser.close", timeout=2)
                self.proc.wait(timeout=3)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close(timeout=1)
        if self.proc is not None:
            # Even when the leader already exited: renderers/zygotes can outlive it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self._profile:  # only now: a live chromium would keep writing into it
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    # ---- CDP plumbing -----------------------------------------------------------------------
    def _read_ws(self) -> None:
        assert self._ws is not None
        while True:
            try:
                msg = json.loads(self._ws.recv())
            except Exception:  # socket closed: close() was called or chromium died
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            if "id" in msg:
                with self._cond:
                    self._responses[msg["id"]] = msg
                    self._cond.notify_all()
            else:
                try:
                    self._on_event(msg.get("method", ""), msg.get("params", {}))
                except Exception as e:  # a handler bug must not kill the reader and hang every send()
                    self._stderr.append(f"[browser.py] handling {msg.get('method')} failed: {e!r}")

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        self.events.append({"method": method, "params": params})
        if method == "Page.javascriptDialogOpening":
            self.dialogs.append({k: str(params.get(k, "")) for k in ("type", "message", "url")})
            # The dialog blocks the page (and any pending Runtime.evaluate) until handled. Post
            # without waiting: this runs on the reader thread, which must deliver the reply.
            self._post("Page.handleJavaScriptDialog", {"accept": False})
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console_messages.append({"type": str(params.get("type", "")), "text": text})
        elif method == "Runtime.exceptionThrown":
            self.console_messages.append({"type": "exception", "text": _exc_text(params.get("exceptionDetails", {}))})
        elif method == "Page.lifecycleEvent" and params.get("name") == "load":
            with self._cond:
                self._loaded.add(str(params.get("loaderId")))
                self._cond.notify_all()

    def _post(self, method: str, params: dict[str, Any] | None = None) -> int:
        if self._ws is None:
            raise BrowserError("browser not started")
        with self._cond:
            self._next_id += 1
            msg_id = self._next_id
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        return msg_id

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
        """Send one raw CDP command and return its result."""
        msg_id = self._post(method, params)
        with self._cond:
            self._cond.wait_for(lambda: msg_id in self._responses or self._closed, timeout)
            msg = self._responses.pop(msg_id, None)
        if msg is None:
            why = "connection closed" if self._closed else f"no reply within {timeout}s"
            raise BrowserError(f"{method}: {why}; last stderr:\n{self._stderr_tail()}")
        if "error" in msg:
            raise BrowserError(f"{method} failed: {msg['error']}")
        return dict(msg.get("result", {}))

    # ---- page API ---------------------------------------------------------------------------
    def goto(self, url: str, timeout: float = 30) -> None:
        """Navigate and wait for the load event of *this* navigation (matched by loaderId)."""
        res = self.send("Page.navigate", {"url": url}, timeout)
        if res.get("errorText"):
            raise BrowserError(f"navigation to {url} failed: {res['errorText']}")
        loader = res.get("loaderId")
        if not loader:  # same-document navigation (only the #hash changed): nothing loads
            return
        with self._cond:
            self._cond.wait_for(lambda: loader in self._loaded or self._closed, timeout)
            if loader not in self._loaded:
                raise BrowserError(f"{url} did not finish loading within {timeout}s")

    def eval(self, js_expression: str, timeout: float = 30) -> Any:
        """Evaluate in the page; promises are awaited; the value comes back as JSON (undefined -> None).
        A DOM node comes back as {} (falsy in Python!), or errors when React hangs cycles on it."""
        try:
            res = self.send("Runtime.evaluate", {"expression": js_expression, "returnByValue": True,
                                                 "awaitPromise": True, "userGesture": True}, timeout)
        except BrowserError as e:
            if "reference chain is too long" in str(e):  # CDP's words for "result isn't JSON"
                raise BrowserError(f"{js_expression[:200]!r} returned a DOM node or other non-JSON "
                                   "value; return a property (e.g. .textContent) or !!(...) instead") from e
            raise
        if "exceptionDetails" in res:
            raise BrowserError(f"JS threw in {js_expression[:200]!r}: {_exc_text(res['exceptionDetails'])}")
        return res.get("result", {}).get("value")

    def wait_for(self, js_predicate: str, timeout: float = 60, interval: float = 0.25) -> Any:
        """Poll until truthy and return the value (DOM nodes and other non-JSON objects come back as
        True, so `document.querySelector(...)` works). A throwing predicate counts as 'not yet'."""
        deadline = time.monotonic() + timeout
        wrapped = (f"Promise.resolve((\n{js_predicate}\n)).then(v => v && typeof v === 'object' && !Array.isArray(v)"
                   " && Object.getPrototypeOf(v) !== Object.prototype ? true : v)")
        last_error = ""
        while True:
            try:
                if value := self.eval(wrapped, timeout=max(1.0, deadline - time.monotonic())):
                    return value
            except BrowserError as e:
                last_error = str(e)
            if time.monotonic() > deadline:
                try:
                    body = self.text()
                except BrowserError as e:
                    body = f"<unavailable: {e}>"
                body = body if len(body) <= 2000 else body[:2000] + " ...[trimmed]"
                raise AssertionError(f"timed out after {timeout}s waiting for: {js_predicate}\n"
                                     + (f"last JS error: {last_error}\n" if last_error else "")
                                     + f"page text:\n{body}")
            time.sleep(interval)

    def settled(self, timeout: float = 60) -> None:
        """Wait until the Streamlit app's script run is over (the app element carries the run's
        state) and no element is still marked stale from the run before: a click that lands
        during a rerun is dropped, and a rerender closes popups."""
        self.wait_for("document.querySelector('[data-test-script-state]')?.getAttribute('data-test-script-state')"
                      " === 'notRunning' && !document.querySelector('[data-stale=true]')", timeout=timeout)

    def text(self) -> str:
        return str(self.eval("document.body ? document.body.innerText : ''"))

    def html(self) -> str:
        return str(self.eval("document.documentElement.outerHTML"))

    def screenshot(self, path: str | os.PathLike[str], full_page: bool = False) -> None:
        """PNG of the viewport, or of the whole document. (Streamlit scrolls inside a div, so its
        'full page' is usually just the viewport.)"""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = self.send("Page.captureScreenshot", params, timeout=60)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def _element(self, selector: str, body: str) -> Any:
        """Run `body` (JS using `el`) on the first match; throw a clear error if nothing matches."""
        sel = json.dumps(selector)
        return self.eval(f"(() => {{ const el = document.querySelector({sel});"
                         f" if (!el) throw new Error('no element matches ' + {sel}); {body} }})()")

    def type_into(self, selector: str, text: str) -> None:
        """Replace an input/textarea value so React sees it: `el.value = x` is swallowed by React's
        value tracker, the prototype's native setter followed by an 'input' event is not."""
        self._element(selector, f"""el.scrollIntoView({{block: 'center'}}); el.focus();
            const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
            Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, {json.dumps(text)});
            el.dispatchEvent(new Event('input', {{bubbles: true}}));""")

    def insert_text(self, selector: str, text: str) -> None:
        """Focus, then insert at the caret like an IME commit (real beforeinput/input events)."""
        self._element(selector, "el.scrollIntoView({block: 'center'}); el.focus();")
        self.send("Input.insertText", {"text": text})

    def click(self, selector: str, timeout: float = 30) -> None:
        """Real mouse press/release at the element's centre (so overlays and disabled state count).
        First waits, as a person does, until nothing around it moves: the page's fonts have
        loaded (Streamlit's icons are ligatures that reflow when their font arrives), nothing that
        holds it is animating (an expander opens by animating its height with its content
        clipped, for about 0.6 s), its box is the same over two frames, and it is what a mouse
        at its centre would hit. Otherwise the press can land on it and the release on whatever
        is there a moment later, and no click happens. A selector that matches nothing fails at
        once; an element that stays covered, hidden or moving fails after `timeout`."""
        sel = json.dumps(selector)
        probe = f"""new Promise(done => {{
            const el = document.querySelector({sel});
            if (!el) return done('missing');
            el.scrollIntoView({{block: 'center', inline: 'center'}});
            const box = () => {{ const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height].join(); }};
            const before = box();
            requestAnimationFrame(() => requestAnimationFrame(() => {{
                const r = el.getBoundingClientRect();
                if (document.fonts.status !== 'loaded') return done('is waiting for the page fonts');
                if (document.getAnimations().some(a => a.playState === 'running' && a.effect?.target?.contains?.(el)))
                    return done('is inside something still animating');
                if (!(r.width * r.height)) return done('has no size (hidden?)');
                if (box() !== before) return done('is still moving');
                const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                if (hit && (hit === el || el.contains(hit))) return done('ok');
                done('is covered by ' + (hit ? hit.tagName.toLowerCase() + (hit.id ? '#' + hit.id : '') : 'nothing'));
            }}));
        }})"""
        deadline = time.monotonic() + timeout
        while (state := self.eval(probe)) != "ok":
            if state == "missing":
                raise BrowserError(f"no element matches {selector}")
            if time.monotonic() > deadline:
                raise BrowserError(f"element {selector!r} {state}")
            time.sleep(0.05)
        x, y = self._element(selector, """const r = el.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2];""")
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def press(self, key: str) -> None:
        """Press a key or chord in the focused element: 'Enter', 'Tab', 'a', 'Ctrl+Enter', 'Shift+Tab'."""
        *mods, name = key.split("+") if len(key) > 1 else [key]
        modifiers = sum(_MODIFIERS[m] for m in mods)
        if name in _KEYS:
            code, vk, text = _KEYS[name]
        elif len(name) == 1:
            code, vk, text = (f"Key{name.upper()}" if name.isascii() and name.isalpha() else ""), ord(name.upper()), name
        else:
            raise BrowserError(f"unknown key {name!r}: use one of {sorted(_KEYS)} or one character")
        if modifiers & ~8:  # with Ctrl/Alt/Meta held nothing is typed (Ctrl+Enter adds no newline)
            text = ""
        base = {"key": name, "code": code, "windowsVirtualKeyCode": vk, "modifiers": modifiers}
        self.send("Input.dispatchKeyEvent", {**base, "type": "keyDown" if text else "rawKeyDown", "text": text})
        self.send("Input.dispatchKeyEvent", {**base, "type": "keyUp"})


def _exc_text(details: dict[str, Any]) -> str:
    exc = details.get("exception") or {}
    return str(exc.get("description") or exc.get("value") or details.get("text") or "JS exception")
