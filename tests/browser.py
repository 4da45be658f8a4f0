"""Debian's headless Chromium driven through its chromedriver, and a real `python -m bot web`.

Nothing is downloaded: Selenium is pointed at /usr/bin/chromedriver and /usr/bin/chromium.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from .conftest import ROOT

AXE = ROOT / "tests" / "axe" / "axe.min.js"
os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never fetch a driver


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromedriver() -> str | None:
    return shutil.which("chromedriver")


MISSING = (
    None
    if chromium() and chromedriver()
    else "needs Debian's chromium and chromium-driver (CI installs both)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebServer:
    """`python -m bot web` in its own process, on a free loopback port."""

    def __init__(self, db: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TRIAGE_DB": str(db),
            "TRIAGE_SECRET": "w" * 64,
            "TRIAGE_CONTENT_DIR": str(ROOT),
            "TRIAGE_LOG_LEVEL": "INFO",
            **env,
        }
        self.proc: subprocess.Popen[str] | None = None
        self.stderr = ""

    def start(self) -> WebServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "web", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"web server exited: {self.proc.stderr.read()}")
            try:
                urllib.request.urlopen(f"{self.url}/privacy", timeout=2).read()
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise AssertionError("web server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.stderr += self.proc.stderr.read() if self.proc.stderr else ""

    def stop(self) -> int:
        """SIGTERM; the exit code (0 for a clean stop)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        self.stderr += err
        return self.proc.returncode

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@contextlib.contextmanager
def browser(width: int = 1280, height: int = 900, javascript: bool = True) -> Iterator[object]:
    """A fresh headless Chromium (its own profile, so its own cookies)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="triage-chromium-")
    options = Options()
    options.binary_location = chromium() or ""
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    service = Service(executable_path=chromedriver() or "", port=free_port())
    driver = webdriver.Chrome(service=service, options=options)
    # A headless window is at least 500 pixels wide: emulate a phone's screen for narrower.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def axe_violations(driver: object) -> list[dict]:
    """Run axe-core on the current page; its violations, less the documented back-link one.

    The Design System places the back link before <main>, and documents axe's "content
    outside a landmark" (region) there as not a failure.
    """
    driver.execute_script(AXE.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    violations = driver.execute_async_script(  # type: ignore[attr-defined]
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(r.violations), e => done([{id: 'axe-error', "
        "help: String(e), nodes: []}]));"
    )
    kept = []
    for v in violations:
        if v["id"] == "region":
            nodes = [n for n in v["nodes"] if "govuk-back-link" not in n["html"]]
            if not nodes:
                continue
            v = {**v, "nodes": nodes}
        kept.append(v)
    return kept


def describe(violations: list[dict]) -> str:
    return "\n".join(
        f"{v['id']}: {v.get('help')} -> {[n['html'][:120] for n in v['nodes'][:3]]}"
        for v in violations
    )
