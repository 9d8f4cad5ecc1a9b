"""Start the real app (`streamlit run app.py`) on a free local port for end-to-end tests, and
wait for it in the browser (Playwright pages)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(env: dict[str, str], timeout: float = 90) -> Iterator[str]:
    """Yield the app's base URL once its health check answers; stop it afterwards."""
    port = free_port()
    log = open(Path(env["NONESTORY_DATA"]).parent / "streamlit.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (Path(log.name).read_bytes()[-2000:]).decode(errors="replace")
                raise RuntimeError(f"the app did not start on {url}:\n{tail}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def settled(page: Page, timeout: float = 60) -> None:
    """Wait until the app's script run is over (the app element carries the run's state) and no
    element is still marked stale from the run before. A click that lands while the script
    reruns can be dropped by Streamlit, and a rerender closes popups: Playwright's own waits
    (visible, stable, enabled, receives events) cannot see either, so wait for this first."""
    page.wait_for_function(
        "document.querySelector('[data-test-script-state]')?.getAttribute('data-test-script-state')"
        " === 'notRunning' && !document.querySelector('[data-stale=true]')", timeout=timeout * 1000)


def body_text(page: Page) -> str:
    """What a person can read on the page now (innerText: hidden elements left out)."""
    return page.locator("body").inner_text()


def wait_text(page: Page, text: str, timeout: float = 60) -> None:
    expect(page.locator("body")).to_contain_text(text, use_inner_text=True, timeout=timeout * 1000)


def nav(page: Page, title: str, marker: str) -> None:
    """Click a sidebar page link once the current run is over, then wait for the new page's
    marker element and its run to end."""
    link = page.locator("[data-testid=stSidebarNav] a").filter(has_text=title)
    expect(link).to_be_visible()
    settled(page)
    link.click()
    expect(page.locator(marker).first).to_be_visible()
    settled(page)
