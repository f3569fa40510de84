"""Live sockets on one API process: 2,000 signed-in WebSocket connections (`/api/v1/ws`)
held by one uvicorn worker, and a company event broadcast to all of them.

2,000 members of one company (users, sessions and access tokens written straight to this
bench's database: signing 2,000 people in through the API would measure bcrypt), each
with one socket from one asyncio client process (the `websockets` library), which answers
the server's pings as a real client does. It reports:

- **connect rate**: sockets per second from the TCP connect to `ready` (the WebSocket
  handshake plus the sign-in round trip: token, session and memberships read, stream
  position), `--parallel` sign-ins at a time; and each one's p50 and p99;
- **broadcast latency**: a company event published with `live.company_event` (Redis
  `arv:live`, the API process's one subscriber, the hub, each socket's queue and writer)
  and stamped with its send time, to its receipt at each client; `--broadcasts` of them,
  one after another once every client has the previous; p50, p99 and the worst of all
  receipts. Baseline: the same broadcasts to one socket, on the same server, first;
- **memory per connection**: the server's RSS with every socket open, less its RSS with
  the baseline socket only (the warm, idle process), divided by the sockets.

Goal: broadcast p99 under **250 ms** for 2,000 sockets. The clients run on the same
machine as the server (2 cores here): receipt times include the clients' own work.

    PYTHONPATH=ARV .venv/bin/python ARV/bench/live_sockets.py [--connections N]
        [--broadcasts N] [--parallel N]
"""

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.environment import prepare

BENCH = prepare("live_sockets")
# The application reads its settings at import: the environment above must come first.
from app.core.config import Settings, get_settings  # noqa: E402
from app.core.database import session_scope  # noqa: E402
from app.core.permissions import Role  # noqa: E402
from app.core.security import create_access_token, hash_password  # noqa: E402
from app.models import AuthSession, Company, Membership, User  # noqa: E402
from app.services import live  # noqa: E402
from app.utils.clock import utcnow  # noqa: E402
from bench.common import (  # noqa: E402
    Contention,
    own_database,
    print_goal,
    print_header,
    print_table,
)
from tests.support.processes import free_port, project_env, running, wait_until  # noqa: E402

GOAL_P99_MS = 250.0
EVENT_TYPE = "bench.broadcast"
RECEIPT_TIMEOUT_SECONDS = 30.0
PAUSE_BETWEEN_BROADCASTS_SECONDS = 0.2
WARM_UP_BROADCASTS = 2
# File descriptors: each socket is one in the server and one in this process, plus the
# database pool, Redis, logs and what Python holds.
SPARE_FILES = 1000


@dataclass(frozen=True, slots=True)
class Seeded:
    company_id: uuid.UUID
    tokens: list[str]


@dataclass(frozen=True, slots=True)
class Latencies:
    """Seconds from each broadcast's send to its receipt at each socket."""

    samples: list[float]
    broadcasts: int
    sockets: int
    last: list[float]  # per broadcast: until the last socket had it

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Client:
    """One signed-in socket, reading until closed: pings answered, each broadcast's
    receipt time kept (parsed only when it is an event)."""

    connection: ClientConnection
    sign_in_seconds: float
    receipts: dict[int, float] = field(default_factory=dict)
    closed_by_server: str | None = None


class Swarm:
    """Many clients, and how many have each broadcast so far."""

    def __init__(self) -> None:
        self.clients: list[Client] = []
        self.readers: list[asyncio.Task[None]] = []
        self.counts: dict[int, int] = {}
        self.complete: dict[int, asyncio.Event] = {}
        self.expected = 0

    async def sign_in(self, url: str, token: str) -> Client:
        started = time.perf_counter()
        connection = await connect(
            url, open_timeout=60, ping_interval=None, close_timeout=2, max_queue=None
        )
        await connection.send(json.dumps({"type": "auth", "token": token}))
        ready = json.loads(await asyncio.wait_for(connection.recv(), 60))
        if ready.get("type") != "ready":
            raise RuntimeError(f"sign-in refused: {ready}")
        client = Client(connection, time.perf_counter() - started)
        self.clients.append(client)
        self.readers.append(asyncio.create_task(self._read(client)))
        return client

    async def _read(self, client: Client) -> None:
        try:
            async for raw in client.connection:
                received = time.perf_counter()
                if '"ping"' in raw[:20]:
                    await client.connection.send('{"type":"pong"}')
                    continue
                message = json.loads(raw)
                if message.get("type") != "event":
                    continue
                data = message["event"]["data"]
                if "broadcast" not in data:
                    continue
                number = int(data["broadcast"])
                client.receipts[number] = received
                self.counts[number] = self.counts.get(number, 0) + 1
                if self.counts[number] >= self.expected and number in self.complete:
                    self.complete[number].set()
        except ConnectionClosed as closed:
            client.closed_by_server = f"{closed.rcvd.code if closed.rcvd else '?'}"

    async def close(self, parallel: int) -> None:
        gate = asyncio.Semaphore(parallel)

        async def close_one(client: Client) -> None:
            async with gate:
                await client.connection.close()

        await asyncio.gather(*(close_one(c) for c in self.clients), return_exceptions=True)
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


def main() -> None:
    options = parse_options()
    raise_open_file_limit(options.connections)
    contention = Contention.now()
    settings = get_settings()
    with own_database(BENCH), tempfile.TemporaryDirectory() as scratch:
        print(f"   seeding {options.connections + 1} members...", flush=True)
        seeded = seed(settings, options.connections + 1)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path(scratch) / "api.log"
        with running(server_command(port), project_env(), log) as server:
            wait_until(lambda: answers(f"{base}/health"), 30, "the API")
            url = f"ws://127.0.0.1:{port}/api/v1/ws"
            try:
                result = asyncio.run(measure(url, seeded, settings, server.pid, options))
            except Exception:
                print(log.read_text(errors="replace")[-4000:])
                raise
    report(result, options, contention)


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000, help="sockets held")
    parser.add_argument("--broadcasts", type=int, default=20, help="events sent to all")
    parser.add_argument("--parallel", type=int, default=100, help="sign-ins at a time")
    return parser.parse_args()


def raise_open_file_limit(connections: int) -> None:
    """Enough descriptors here and in the server (which inherits the limit)."""
    needed = connections + SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            sys.exit(f"open-file limit {hard} is below the {needed} this run needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def seed(settings: Settings, count: int) -> Seeded:
    """`count` members of one company, each with a live session and an access token."""
    now = utcnow()
    hashed = hash_password(uuid.uuid4().hex)  # once: nobody signs in with it
    run = uuid.uuid4().hex[:8]
    with session_scope() as db:
        company = Company(name="Bench Live", slug=f"bench-live-{run}", settings={})
        db.add(company)
        users = [
            User(email=f"live-{run}-{n}@example.com", hashed_password=hashed, email_verified_at=now)
            for n in range(count)
        ]
        db.add_all(users)
        db.flush()
        db.add_all(Membership(company_id=company.id, user_id=u.id, role=Role.VIEWER) for u in users)
        sessions = [AuthSession(user_id=u.id, expires_at=now + timedelta(days=1)) for u in users]
        db.add_all(sessions)
        db.flush()
        tokens = [create_access_token(settings, s.user_id, s.id, now)[0] for s in sessions]
        return Seeded(company.id, tokens)


def server_command(port: int) -> list[str]:
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    return [
        *(uvicorn, "app.main:app", "--host", "127.0.0.1", "--port", str(port)),
        *("--no-access-log", "--workers", "1"),
    ]


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far (every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass(frozen=True, slots=True)
class Result:
    connect_wall_seconds: float
    sign_in_seconds: list[float]
    baseline: Latencies
    loaded: Latencies
    rss_idle: int
    rss_loaded: int
    connections: int
    dropped: list[str]
    server_cpu_seconds: float  # over the measured broadcasts to all
    client_cpu_seconds: float


async def measure(
    url: str, seeded: Seeded, settings: Settings, pid: int, options: argparse.Namespace
) -> Result:
    baseline_swarm, swarm = Swarm(), Swarm()
    first, *others = seeded.tokens
    await baseline_swarm.sign_in(url, first)
    await until_heard(baseline_swarm, settings, seeded.company_id)
    await broadcasts([baseline_swarm], settings, seeded.company_id, WARM_UP_BROADCASTS, start=1)
    baseline = await broadcasts(
        [baseline_swarm], settings, seeded.company_id, options.broadcasts, start=100
    )
    rss_idle = rss_bytes(pid)

    gate = asyncio.Semaphore(options.parallel)

    async def sign_in(token: str) -> None:
        async with gate:
            await swarm.sign_in(url, token)

    started = time.perf_counter()
    await asyncio.gather(*(sign_in(token) for token in others))
    connect_wall = time.perf_counter() - started
    await asyncio.sleep(1.0)  # let the server settle before reading its memory
    rss_loaded = rss_bytes(pid)

    everyone = [swarm, baseline_swarm]
    await broadcasts(everyone, settings, seeded.company_id, WARM_UP_BROADCASTS, start=900)
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
    loaded = await broadcasts(
        everyone, settings, seeded.company_id, options.broadcasts, start=1000, measured=swarm
    )
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    dropped = [c.closed_by_server or "" for c in swarm.clients if c.closed_by_server]
    await swarm.close(options.parallel)
    await baseline_swarm.close(1)
    return Result(
        connect_wall,
        [c.sign_in_seconds for c in swarm.clients],
        baseline,
        loaded,
        rss_idle,
        rss_loaded,
        len(others),
        dropped,
        server_cpu,
        client_cpu,
    )


async def until_heard(swarm: Swarm, settings: Settings, company_id: uuid.UUID) -> None:
    """Until the server's subscriber hears `arv:live` (it subscribes on the first socket):
    a probe broadcast sent again and again reaches the socket."""
    deadline = time.monotonic() + 30
    number = -1
    while time.monotonic() < deadline:
        swarm.expected = 1
        swarm.complete[number] = asyncio.Event()
        send(settings, company_id, number)
        try:
            await asyncio.wait_for(swarm.complete[number].wait(), 0.5)
            return
        except TimeoutError:
            number -= 1
    raise TimeoutError("the API process never heard the live bus")


def send(settings: Settings, company_id: uuid.UUID, number: int) -> float:
    """Publish broadcast `number`; the moment it was sent (perf_counter)."""
    sent = time.perf_counter()
    data = {"broadcast": number, "sent_at": time.time()}
    live.company_event(settings, company_id, EVENT_TYPE, data, utcnow().isoformat())
    return sent


async def broadcasts(
    swarms: list[Swarm],
    settings: Settings,
    company_id: uuid.UUID,
    count: int,
    start: int,
    measured: Swarm | None = None,
) -> Latencies:
    """`count` broadcasts, each once every socket of `swarms` has the previous one; the
    latencies at the sockets of `measured` (default: the first swarm)."""
    measured = measured or swarms[0]
    samples: list[float] = []
    last: list[float] = []
    for number in range(start, start + count):
        for swarm in swarms:
            swarm.expected = len(swarm.clients)
            swarm.complete[number] = asyncio.Event()
        sent = send(settings, company_id, number)
        waits = [swarm.complete[number].wait() for swarm in swarms]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), RECEIPT_TIMEOUT_SECONDS)
        except TimeoutError:
            have = sum(s.counts.get(number, 0) for s in swarms)
            want = sum(len(s.clients) for s in swarms)
            raise RuntimeError(f"broadcast {number}: {have} of {want} sockets got it") from None
        these = [c.receipts[number] - sent for c in measured.clients]
        samples.extend(these)
        last.append(max(these))
        await asyncio.sleep(PAUSE_BETWEEN_BROADCASTS_SECONDS)
    return Latencies(samples, count, len(measured.clients), last)


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def mib(value: float) -> str:
    return f"{value / (1024 * 1024):.1f}"


def report(result: Result, options: argparse.Namespace, c: Contention) -> None:
    print_header(
        f"Live sockets: {result.connections} signed-in WebSockets on one API process",
        [
            "uvicorn, 1 worker; clients: one asyncio process (websockets), on this machine; "
            f"{options.parallel} sign-ins at a time",
            f"{options.broadcasts} company events (live.company_event -> Redis arv:live -> "
            "the process's hub), each sent once all have the previous",
        ],
        c,
    )
    connect_rate = result.connections / result.connect_wall_seconds
    sign_ins = sorted(result.sign_in_seconds)
    print_table(
        ["connect (handshake + sign-in)", "sockets", "wall s", "sockets/s", "p50 ms", "p99 ms"],
        [
            [
                "all at once, bounded",
                str(result.connections),
                f"{result.connect_wall_seconds:.2f}",
                f"{connect_rate:.0f}",
                milliseconds(statistics.median(sign_ins)),
                milliseconds(sign_ins[min(len(sign_ins) - 1, int(0.99 * len(sign_ins)))]),
            ]
        ],
    )
    print()
    rows = []
    for name, latencies in (
        ("baseline: 1 socket", result.baseline),
        ("all sockets", result.loaded),
    ):
        rows.append(
            [
                name,
                str(latencies.sockets),
                str(len(latencies.samples)),
                milliseconds(latencies.percentile(0.50)),
                milliseconds(latencies.percentile(0.99)),
                milliseconds(max(latencies.samples)),
                milliseconds(statistics.median(latencies.last)),
            ]
        )
    print_table(
        ["broadcast latency", "sockets", "receipts", "p50 ms", "p99 ms", "max ms", "all by ms"],
        rows,
    )
    print("   (all by: until the last socket had a broadcast, the median over broadcasts)")
    print("   each broadcast, all by ms:", " ".join(milliseconds(x) for x in result.loaded.last))
    per_broadcast = [
        ("server", result.server_cpu_seconds),
        ("clients", result.client_cpu_seconds),
    ]
    print(
        "   CPU per broadcast to all: "
        + "; ".join(
            f"{name} {milliseconds(cpu / options.broadcasts)} ms "
            f"({cpu / options.broadcasts / result.connections * 1e6:.0f} us a socket)"
            for name, cpu in per_broadcast
        )
    )
    print()
    per_connection = (result.rss_loaded - result.rss_idle) / result.connections
    print_table(
        ["server memory", "RSS MiB"],
        [
            ["baseline: warm, 1 socket", mib(result.rss_idle)],
            [f"{result.connections + 1} sockets", mib(result.rss_loaded)],
        ],
    )
    print(
        f"   {per_connection / 1024:.1f} KiB per connection; RSS at "
        f"{result.rss_loaded / result.rss_idle:.2f}x the baseline"
    )
    p99 = result.loaded.percentile(0.99)
    p50_ratio = result.loaded.percentile(0.50) / result.baseline.percentile(0.50)
    p99_ratio = p99 / result.baseline.percentile(0.99)
    print(f"   broadcast to all at {p50_ratio:.1f}x (p50) and {p99_ratio:.1f}x (p99) the baseline")
    if result.dropped:
        print(f"   sockets closed by the server meanwhile: {len(result.dropped)}")
    print_goal(
        f"broadcast p99 {milliseconds(p99)} ms to {result.connections}",
        f"< {GOAL_P99_MS:.0f} ms",
        p99 * 1000 < GOAL_P99_MS,
    )


if __name__ == "__main__":
    main()
