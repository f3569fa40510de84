"""Viewer manifest throughput: `GET /viewer/{public_id}` with its cache warm, against a
constant JSON endpoint on the same server.

One published content (a marker, a ready video with three renditions, a stacked-alpha one,
poster and HLS, and a schedule of a default video and a window tomorrow) in this bench's
database. A real uvicorn (one worker) serves the app with one extra route that exists only
in this bench (`bench/viewer_manifest_app.py`): two `async` routes answering the manifest's
own bytes through the same middleware, one placed beside the manifest in the route table
(the baseline of the goal: the same routing work), one matched before every other route
(the floor of this server, for context). The per-address rate limit
stays on (one Redis round trip a request, as in production) with a limit no run reaches.

`wrk` (Debian's package) drives each with the same connections and threads, one endpoint
at a time, round-robin (2 rounds by default), each run after a warm-up; the best run of
each counts. Requests send no Accept-Encoding (no gzip on either side).
Goal: the manifest at **0.70x** or more of the constant beside it, in requests per second.

    PYTHONPATH=ARV .venv/bin/python ARV/bench/viewer_manifest.py [--seconds N] [--rounds N]
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.environment import prepare

BENCH = prepare("viewer_manifest")
# The application reads its settings at import: the environment above must come first.
from app.core.config import get_settings  # noqa: E402
from app.core.database import session_scope  # noqa: E402
from app.core.permissions import Role  # noqa: E402
from app.models import ARContent, Company  # noqa: E402
from bench.common import (  # noqa: E402
    Contention,
    own_database,
    print_goal,
    print_header,
    print_table,
)
from bench.viewer_manifest_app import BESIDE_PATH, FIRST_PATH  # noqa: E402
from tests.support.factories import (  # noqa: E402
    add_member,
    auth_headers,
    make_content,
    make_marker,
    make_project,
    make_user,
)
from tests.support.processes import free_port, project_env, running, wait_until  # noqa: E402
from tests.support.publishing import schedule  # noqa: E402
from tests.support.viewer import playing_video  # noqa: E402

GOAL_RATIO = 0.70
CONNECTIONS = 32
THREADS = 1
WARM_UP_SECONDS = 2
# Far above what a run sends from the one address: the check still runs on every request.
RATE_LIMIT = str(10**9)
_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True, slots=True)
class Run:
    requests_per_second: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Published:
    public_id: str
    publish_url: str
    headers: dict[str, str]


def main() -> None:
    options = parse_options()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `apt-get install wrk` (make bench installs it)")
    contention = Contention.now()
    with own_database(BENCH), tempfile.TemporaryDirectory() as scratch:
        published = seed()
        body_file = Path(scratch) / "constant.json"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = project_env(
            VIEWER_RATE_LIMIT_PER_IP=RATE_LIMIT, BENCH_CONSTANT_BODY_FILE=str(body_file)
        )
        with running(server_command(port), env, Path(scratch) / "api.log"):
            wait_until(lambda: answers(f"{base}/health"), 30, "the API")
            response = httpx.post(f"{base}{published.publish_url}", headers=published.headers)
            response.raise_for_status()
            manifest_url = f"{base}/api/v1/viewer/{published.public_id}"
            body = httpx.get(manifest_url).raise_for_status().content
            body_file.write_bytes(body)
            urls = {
                "manifest": manifest_url,
                "constant beside it": f"{base}{BESIDE_PATH}",
                "constant matched first": f"{base}{FIRST_PATH}",
            }
            best = measure(urls, options.seconds, options.rounds)
    report(best, len(body), options, contention)


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each run")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each endpoint")
    return parser.parse_args()


def seed() -> Published:
    """An owner, and a content every publish condition holds for, committed."""
    settings = get_settings()
    with session_scope() as db:
        owner = make_user(db)
        company = Company(
            name="Bench Postcards", slug=f"bench-{uuid.uuid4().hex[:10]}", settings={}
        )
        db.add(company)
        db.flush()
        add_member(db, company, owner, Role.OWNER)
        content = make_content(db, make_project(db, company), "Postcard")
        make_marker(db, content, width=1000, height=750)
        schedule(db, content, playing_video(db, company))
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        window = {"starts_at": tomorrow, "ends_at": tomorrow + timedelta(hours=2)}
        schedule(db, content, playing_video(db, company, "Tomorrow"), priority=1, **window)
        return Published(
            content.public_id, publish_path(content), auth_headers(db, settings, owner)
        )


def publish_path(content: ARContent) -> str:
    return (
        f"/api/v1/companies/{content.company_id}/projects/{content.project_id}"
        f"/ar-contents/{content.id}/publish"
    )


def server_command(port: int) -> list[str]:
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    return [
        *(uvicorn, "bench.viewer_manifest_app:create_bench_app", "--factory"),
        *("--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--workers", "1"),
    ]


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def measure(urls: dict[str, str], seconds: int, rounds: int) -> dict[str, Run]:
    """Each endpoint `rounds` times, round-robin, each after a warm-up; the best run each."""
    runs: dict[str, list[Run]] = {name: [] for name in urls}
    for _ in range(rounds):
        for name, url in urls.items():
            wrk(url, WARM_UP_SECONDS)
            runs[name].append(wrk(url, seconds))
    return {name: max(done, key=lambda run: run.requests_per_second) for name, done in runs.items()}


def wrk(url: str, seconds: int) -> Run:
    argv = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    refused = _NON_2XX.search(output)
    if refused:
        raise RuntimeError(f"{url} answered {refused[1]} requests with an error:\n{output}")
    rate = _RATE.search(output)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{output}")
    return Run(float(rate[1]), percentile(output, "50%"), percentile(output, "99%"))


def percentile(output: str, label: str) -> float:
    """Milliseconds, from wrk's latency distribution (`99%  12.34ms`)."""
    found = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no {label} latency:\n{output}")
    return float(found[1]) * _UNITS[found[2]]


def report(
    best: dict[str, Run], body_bytes: int, options: argparse.Namespace, c: Contention
) -> None:
    print_header(
        "Viewer manifest throughput (cache warm) against a constant JSON endpoint",
        [
            f"uvicorn, 1 worker; wrk -t{THREADS} -c{CONNECTIONS}, {options.seconds} s runs, "
            f"best of {options.rounds}, round-robin",
            f"all answer the same {body_bytes} bytes of JSON; the manifest's rate limit is "
            "counted in memory and shared through Redis",
        ],
        c,
    )
    print_table(
        ["endpoint", "requests/s", "p50 ms", "p99 ms"],
        [
            [name, f"{run.requests_per_second:.0f}", f"{run.p50_ms:.2f}", f"{run.p99_ms:.2f}"]
            for name, run in best.items()
        ],
    )
    manifest = best["manifest"].requests_per_second
    floor = manifest / best["constant matched first"].requests_per_second
    print(f"   manifest at {floor:.2f}x the constant matched first (context, no goal)")
    ratio = manifest / best["constant beside it"].requests_per_second
    print_goal(
        f"manifest at {ratio:.2f}x the constant beside it",
        f">= {GOAL_RATIO:.2f}x",
        ratio >= GOAL_RATIO,
    )


if __name__ == "__main__":
    main()
