"""`make run` end to end: from nothing configured to a serving API, a worker answering a
ping over the filesystem broker, and Ctrl-C stopping every process."""

import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from app.background_tasks.celery_app import create_celery_app
from app.background_tasks.names import SYSTEM_PING
from app.core.config import Settings
from tests.support.processes import REPO_ROOT, free_port, wait_until

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def answers(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_run_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "REDIS_URL", "ENV", "STORAGE_PROVIDER"}
    }
    env |= {"VAR_DIR": str(tmp_path / "var"), "PORT": str(port)}
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: answers(f"{base}/health"), 180, f"make run to serve; log:\n{log}")
        assert get(f"{base}/ready")[0] == 200, get(f"{base}/ready")[1]
        assert get(f"{base}/docs")[0] == 200
        assert json.loads(get(f"{base}/openapi.json")[1])["info"]["title"] == "ARVlite"
        assert b"http_requests_total" in get(f"{base}/metrics")[1]

        producer = create_celery_app(
            Settings(_env_file=None, REDIS_URL="", VAR_DIR=tmp_path / "var")
        )
        assert producer.send_task(SYSTEM_PING).get(timeout=60)["pong"] == "ok"

        output_text = log.read_text()
        assert "Demo admin: admin@arvlite.local / " in output_text
        assert (tmp_path / "var" / "arvlite.db").exists()
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
        try:
            process.wait(timeout=60)
        finally:
            if group_alive(process.pid):
                os.killpg(process.pid, signal.SIGKILL)
    wait_until(lambda: not group_alive(process.pid), 30, "every make run process to exit")
