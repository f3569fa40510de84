"""Debian's headless Chromium with a fake camera, driven over the DevTools protocol (CDP)
with the `websockets` client: enough to open a page, read its state and screenshot it."""

import base64
import itertools
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
from websockets.sync.client import ClientConnection, connect

from tests.support.processes import stop_group

_LISTENING = re.compile(rb"DevTools listening on (ws://[^\s]+)")


def chromium_binary() -> str | None:
    return shutil.which("chromium")


class Page:
    """One tab, spoken to over its own DevTools WebSocket."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._connection.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:  # events arrive in between; only our answer counts
            answer = json.loads(self._connection.recv(timeout=30))
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


def _devtools_address(process: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    """The browser's DevTools URL, from the line Chromium prints on stderr."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if match := _LISTENING.search(log.read_bytes()):
            return match.group(1).decode()
        time.sleep(0.1)
    raise RuntimeError(f"Chromium did not start: {log.read_text(errors='replace')}")


def _camera_flags(camera: Path | None) -> list[str]:
    if camera is None:
        return []
    return ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={camera}"]


@contextmanager
def fake_camera_browser(
    camera: Path | None, folder: Path, *, size: str = "640,480"
) -> Iterator[Page]:
    """Chromium showing `camera` (a .y4m file) as its only camera (None: no camera at
    all), camera access granted without asking, its profile and log in `folder`; yields
    its first tab."""
    binary = chromium_binary()
    assert binary, "Debian's chromium is not installed (scripts/bootstrap.sh test)"
    command = [
        binary,
        "--headless=new",
        "--no-sandbox",  # tests may run as root, where the sandbox cannot start
        "--no-first-run",
        "--mute-audio",
        f"--user-data-dir={folder / 'profile'}",
        f"--window-size={size}",
        "--remote-debugging-port=0",
        "--remote-allow-origins=*",
        "--use-fake-ui-for-media-stream",
        # WebGL on the CPU (no GPU on test machines).
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        *_camera_flags(camera),
        "about:blank",
    ]
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "chromium.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        browser = _devtools_address(process, log, timeout=30)
        http = browser.split("/devtools/")[0].replace("ws://", "http://")
        tabs = httpx2.get(f"{http}/json/list", timeout=5).json()
        address = next(tab["webSocketDebuggerUrl"] for tab in tabs if tab["type"] == "page")
        with connect(address, max_size=None, open_timeout=10) as connection:
            yield Page(connection)
    finally:
        stop_group(process)
