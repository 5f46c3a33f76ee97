"""Headless Chromium driven over the DevTools protocol on a pipe (no port).

Used by the report tier (tests/test_report_browser.py). Chromium is started
with --remote-debugging-pipe, so it listens on no socket at all; network
access is refused by flags and by the protocol's offline emulation, and
every request the page makes is recorded, so a check can prove it loaded
only the file itself.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_binary() -> str:
    """Debian's chromium, installed (without recommends) when missing."""
    found = shutil.which("chromium")
    if found:
        return found
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600"]
    subprocess.run([*apt, "update", "-qq"], check=True)
    subprocess.run(
        [*apt, "install", "-y", "-qq", "--no-install-recommends", "chromium"],
        check=True,
    )
    return shutil.which("chromium") or "chromium"


def _above_4(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(fd)
    return moved


@dataclass
class PageLoad:
    """What a page did while it loaded and ran."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)  # alert(), confirm(), ...

    @property
    def remote_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(LOCAL_SCHEMES)]


class Browser:
    """One headless Chromium and one page; use as a context manager."""

    def __init__(self, profile_dir: Path, width: int = 1440, height: int = 960):
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        # Pipe ends numbered above 4, so that placing them on 3 and 4 in the
        # child cannot overwrite one with the other.
        to_chrome_read, self._to_chrome = (_above_4(fd) for fd in os.pipe())
        self._from_chrome, from_chrome_write = (_above_4(fd) for fd in os.pipe())
        self.process = subprocess.Popen(
            [
                chromium_binary(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile_dir}",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--proxy-server=http://127.0.0.1:9",  # discard port: no network
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # The protocol pipe is fd 3 (commands in) and fd 4 (replies out);
            # every other descriptor of this process is close-on-exec.
            close_fds=False,
            preexec_fn=lambda: (
                os.dup2(to_chrome_read, 3),
                os.dup2(from_chrome_write, 4),
            ),
        )
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        target = self._command("Target.createTarget", {"url": "about:blank"})
        attached = self._command(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1,
             "uploadThroughput": -1},
        )  # fmt: skip
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the Chromium this object started (and only it)."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):
                self._command("Browser.close")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for fd in (self._to_chrome, self._from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)

    # The protocol ------------------------------------------------------------

    def _write(self, message: dict[str, Any]) -> int:
        self._next_id += 1
        message["id"] = self._next_id
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the protocol pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _await(self, message_id: int, timeout: float) -> dict[str, Any]:
        while True:
            message = self._read(timeout)
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"chromium: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        """Keep an event; dismiss a dialog (alert() blocks the page's script
        until it is answered; the answer's reply is not waited for)."""
        if "method" not in message:
            return
        self._events.append(message)
        if message["method"] == "Page.javascriptDialogOpening":
            self._write(
                {
                    "method": "Page.handleJavaScriptDialog",
                    "params": {"accept": False},
                    "sessionId": message.get("sessionId", self._session),
                }
            )

    def _command(self, method: str, params: dict | None = None) -> dict[str, Any]:
        return self._await(self._write({"method": method, "params": params or {}}), 30)

    def send(
        self, method: str, params: dict | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """A command to the page's session; its result."""
        message = {"method": method, "params": params or {}, "sessionId": self._session}
        return self._await(self._write(message), timeout)

    # What the tests use -------------------------------------------------------

    def open(self, url: str, timeout: float = 30) -> PageLoad:
        """Load ``url`` and wait for its load event; errors and requests seen."""
        self._events.clear()
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self._events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading")
            self._event(self._read(timeout))
        self.evaluate("new Promise(done => setTimeout(done, 500))")
        return self.page_load()

    def page_load(self) -> PageLoad:
        """Errors and requests seen since the page was opened."""
        load = PageLoad()
        for event in self._events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description")
                load.errors.append(text or details.get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
                load.errors.append(
                    " ".join(
                        str(a.get("value", a.get("description")))
                        for a in params["args"]
                    )
                )
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                load.errors.append(params["entry"]["text"])
            elif method == "Network.requestWillBeSent":
                load.requests.append(params["request"]["url"])
            elif method == "Page.javascriptDialogOpening":
                load.dialogs.append(f"{params['type']}: {params['message']}")
        return load

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15) -> Any:
        """Poll a JavaScript expression until it is truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(f"still false after {timeout} s: {expression}")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the visible page."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)
