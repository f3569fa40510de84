"""Live sockets across instances: two uvicorn processes (A and B) and a real Celery worker
on the `notifications` queue, sharing PostgreSQL and Redis, as in production.

A member signed in to a socket on A hears a notification the worker dispatched for an
event committed by other code, and one caused by a request to B; disconnected, it misses
three more, reconnects to B with its last epoch and offset, and gets exactly those three,
in order, then a live one. A worker killed (SIGKILL) while it holds an event's delivery
still has the notification told once: one row per recipient, one socket message.

These tests commit for real (their own company and users), so they clean up."""

import json
import os
import signal
import subprocess
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import Connection, Engine, delete, func, select, text
from websockets.sync.client import ClientConnection, connect

from app.background_tasks.names import QUEUE_DEFAULT, QUEUE_NOTIFICATIONS
from app.core.config import Settings
from app.core.database import session_scope
from app.core.permissions import Role
from app.models import Company, OutboxMessage, OutboxStatus, User
from app.models.notification import Notification
from app.services import live, notifications
from app.utils.clock import utcnow
from tests.support.factories import (
    DEFAULT_PASSWORD,
    add_member,
    auth_headers,
    make_company,
    make_user,
    unique_email,
)
from tests.support.processes import (
    celery_worker_command,
    child_pids,
    free_port,
    project_env,
    running,
    uvicorn_command,
    wait_until,
)

pytestmark = pytest.mark.integration

# Every wait is bounded: a worker's first task and a first socket take a few seconds on a
# loaded 2-core machine, never this long.
WAIT = 30.0
QUIET = 1.5  # how long "nothing more arrives" is watched for


# -- committed data -------------------------------------------------------------------------


@dataclass
class Members:
    company_id: uuid.UUID
    owner_id: uuid.UUID
    admin_id: uuid.UUID
    admin_token: str
    emails: list[str]
    admin_password: str = DEFAULT_PASSWORD


@pytest.fixture
def members(engine: Engine, settings: Settings) -> Iterator[Members]:
    """A company with an owner and an admin (the admin signed in once), committed; removed
    afterwards with every notification and outbox row they caused."""
    with session_scope() as db:
        owner = make_user(db, unique_email("live-owner"))
        admin = make_user(db, unique_email("live-admin"))
        company = make_company(db, owner, name=f"Live {uuid.uuid4().hex[:6]}")
        add_member(db, company, admin, Role.ADMIN)
        token = auth_headers(db, settings, admin)["Authorization"].removeprefix("Bearer ")
        found = Members(company.id, owner.id, admin.id, token, [owner.email, admin.email])
    yield found
    recipients = [
        f"company:{found.company_id}",
        f"user:{found.owner_id}",
        f"user:{found.admin_id}",
        *found.emails,
    ]
    with session_scope() as db:
        db.execute(delete(OutboxMessage).where(OutboxMessage.recipient.in_(recipients)))
        db.execute(delete(Company).where(Company.id == found.company_id))
        db.execute(delete(User).where(User.id.in_([found.owner_id, found.admin_id])))


# -- the processes --------------------------------------------------------------------------


@dataclass
class Cluster:
    a: str  # base URLs
    b: str
    logs: dict[str, Path]
    worker: "subprocess.Popen[bytes] | None" = None

    def ws(self, base: str) -> str:
        return base.replace("http://", "ws://") + "/api/v1/ws"

    def diagnostics(self) -> str:
        parts = []
        for name, log in self.logs.items():
            content = log.read_text(errors="replace") if log.exists() else "(no log)"
            parts.append(f"--- {name} log (last 4000 characters) ---\n{content[-4000:]}")
        return "\n".join(parts)


@pytest.fixture
def cluster(engine: Engine, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """API instances A and B and one Celery worker; their logs are printed if the test
    fails."""
    failed_before = request.session.testsfailed
    ports = [free_port(), free_port()]
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b", "worker")}
    found = Cluster(a, b, logs)
    with ExitStack() as stack:
        for port, name in zip(ports, ("a", "b"), strict=True):
            stack.enter_context(running(uvicorn_command(port), project_env(), logs[name]))
        worker = celery_worker_command(QUEUE_NOTIFICATIONS, QUEUE_DEFAULT)
        found.worker = stack.enter_context(running(worker, project_env(), logs["worker"]))
        for base in (a, b):
            wait_until(partial(_answers, f"{base}/health"), WAIT, f"{base}/health")
        yield found
        if request.session.testsfailed > failed_before:
            print(found.diagnostics())  # noqa: T201 - shown by pytest with the failure


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False


# -- a client -------------------------------------------------------------------------------


@dataclass
class LiveClient:
    """One socket, signed in by its first message. Everything it receives is kept in
    `seen` (pings answered); notifications and events are handed out in arrival order."""

    connection: ClientConnection
    ready: dict[str, Any]
    seen: list[dict[str, Any]] = field(default_factory=list)
    _stream: deque[dict[str, Any]] = field(default_factory=deque)  # notification, reload
    _events: deque[dict[str, Any]] = field(default_factory=deque)

    @classmethod
    def sign_in(
        cls, url: str, token: str, epoch: str | None = None, offset: int | None = None
    ) -> "LiveClient":
        connection = connect(url, open_timeout=WAIT, close_timeout=2, legacy=True)
        hello: dict[str, Any] = {"type": "auth", "token": token}
        if epoch is not None:
            hello |= {"epoch": epoch, "offset": offset}
        connection.send(json.dumps(hello))
        first = json.loads(connection.recv(timeout=WAIT))
        assert first["type"] == "ready", first
        return cls(connection, first, [first])

    def close(self) -> None:
        self.connection.close()

    def _receive(self, timeout: float) -> bool:
        """Read one message within `timeout` into its queue; False if none came."""
        try:
            message = json.loads(self.connection.recv(timeout=max(timeout, 0.001)))
        except TimeoutError:
            return False
        self.seen.append(message)
        if message["type"] == "ping":
            self.connection.send(json.dumps({"type": "pong"}))
        elif message["type"] == "event":
            self._events.append(message)
        else:
            self._stream.append(message)
        return True

    def next_in_stream(self, timeout: float = WAIT) -> dict[str, Any]:
        """The next notification (or reload) this socket receives."""
        deadline = time.monotonic() + timeout
        while not self._stream:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no notification within {timeout:g}s; seen: {self.seen}")
            self._receive(left)
        return self._stream.popleft()

    def event(self, matches: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
        """Whether an event `matches` arrives within `timeout` (others are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            while self._events:
                if matches(self._events.popleft()):
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._receive(left)

    def nothing_more(self, seconds: float = QUIET) -> list[dict[str, Any]]:
        """What else reaches the stream within `seconds` (expected: nothing)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._receive(left)
        extra = list(self._stream)
        self._stream.clear()
        return extra


def wait_until_heard(client: LiveClient, settings: Settings, company_id: uuid.UUID) -> None:
    """Until the socket's process hears the live bus: a probe event for the company,
    published straight onto Redis again and again, reaches the socket. (A process
    subscribes to `arv:live` only when its first socket signs in, and what is published
    before the subscription is confirmed never reaches that socket live.)"""
    probe = uuid.uuid4().hex
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        at = utcnow().isoformat()
        live.company_event(settings, company_id, "test.probe", {"probe": probe}, at)
        if client.event(lambda m: m["event"]["data"].get("probe") == probe, 0.3):
            return
    raise TimeoutError(f"the socket's process never heard the live bus; seen: {client.seen}")


# -- what causes notifications --------------------------------------------------------------


def publish_event(settings: Settings, members: Members, version: int) -> uuid.UUID:
    """Committed code emits `content.published`: the worker's `outbox.deliver` dispatches
    it to the owner and the admin. Returns the outbox row's id."""
    company_events = select(OutboxMessage.id).where(
        OutboxMessage.recipient == f"company:{members.company_id}"
    )
    with session_scope() as db:
        before = set(db.scalars(company_events))
        notifications.emit(
            db,
            settings,
            "content.published",
            {"title": "Postcard", "version": version},
            company_id=members.company_id,
        )
        [message_id] = set(db.scalars(company_events)) - before
    return message_id


def change_password_on(base: str, members: Members, round_: int) -> None:
    """The admin changes their password through `base` (keeping this session): the
    request emits `security.password_changed` to the admin."""
    new = f"live-scale-out-{round_}-{uuid.uuid4().hex[:6]}"
    response = httpx2.post(
        f"{base}/api/v1/users/me/password",
        json={"current_password": members.admin_password, "new_password": new},
        headers={"Authorization": f"Bearer {members.admin_token}"},
        timeout=WAIT,
    )
    assert response.status_code == 204, response.text
    members.admin_password = new


def stored_offsets(user_id: uuid.UUID) -> list[tuple[int, str]]:
    with session_scope() as db:
        rows = db.execute(
            select(Notification.sequence, Notification.type)
            .where(Notification.user_id == user_id)
            .order_by(Notification.sequence)
        ).all()
    return [(int(sequence), kind) for sequence, kind in rows]


def assert_notification(
    message: dict[str, Any], epoch: str, offset: int, kind: str, **payload: object
) -> None:
    assert message["type"] == "notification", message
    assert (message["epoch"], message["offset"]) == (epoch, offset), message
    assert message["notification"]["type"] == kind, message
    for name, value in payload.items():
        assert message["notification"]["payload"][name] == value, message


# -- the tests ------------------------------------------------------------------------------


def test_a_client_hears_the_worker_and_the_other_instance_and_replays_on_the_other(
    cluster: Cluster, members: Members, settings: Settings
) -> None:
    on_a = LiveClient.sign_in(cluster.ws(cluster.a), members.admin_token)
    epoch = on_a.ready["epoch"]
    assert on_a.ready["offset"] == 0
    wait_until_heard(on_a, settings, members.company_id)

    # (a) made by a task: committed code emits, the worker dispatches and publishes.
    publish_event(settings, members, version=1)
    assert_notification(on_a.next_in_stream(), epoch, 1, "content.published", version=1)
    # (b) made by a request to B.
    change_password_on(cluster.b, members, 1)
    assert_notification(on_a.next_in_stream(), epoch, 2, "security.password_changed")
    assert on_a.nothing_more() == []
    on_a.close()

    # Three happen while the client is away: by the worker, by B, by the worker.
    publish_event(settings, members, version=2)
    change_password_on(cluster.b, members, 2)
    publish_event(settings, members, version=3)
    wait_until(
        lambda: len(stored_offsets(members.admin_id)) == 5, WAIT, "the 3 missed to be stored"
    )

    on_b = LiveClient.sign_in(cluster.ws(cluster.b), members.admin_token, epoch, 2)
    assert (on_b.ready["epoch"], on_b.ready["offset"]) == (epoch, 5)
    missed = [on_b.next_in_stream() for _ in range(3)]
    assert_notification(missed[0], epoch, 3, "content.published", version=2)
    assert_notification(missed[1], epoch, 4, "security.password_changed")
    assert_notification(missed[2], epoch, 5, "content.published", version=3)

    # Then a live one, once B hears the bus.
    wait_until_heard(on_b, settings, members.company_id)
    publish_event(settings, members, version=4)
    assert_notification(on_b.next_in_stream(), epoch, 6, "content.published", version=4)
    assert on_b.nothing_more() == []
    on_b.close()
    assert [kind for _, kind in stored_offsets(members.admin_id)] == [
        "content.published",
        "security.password_changed",
        "content.published",
        "security.password_changed",
        "content.published",
        "content.published",
    ]


def test_a_worker_killed_while_it_holds_a_delivery_tells_each_member_once(
    cluster: Cluster, members: Members, settings: Settings, engine: Engine
) -> None:
    on_a = LiveClient.sign_in(cluster.ws(cluster.a), members.admin_token)
    epoch = on_a.ready["epoch"]
    wait_until_heard(on_a, settings, members.company_id)
    publish_event(settings, members, version=1)  # the admin's stream row exists from here
    assert_notification(on_a.next_in_stream(), epoch, 1, "content.published", version=1)

    # Hold the admin's stream row: the dispatcher of the next event blocks on it inside its
    # transaction, after the outbox row is claimed and before anything is committed.
    with engine.connect() as holder:
        holding = holder.begin()
        holder.execute(
            text("SELECT 1 FROM user_streams WHERE user_id = :user FOR UPDATE"),
            {"user": members.admin_id},
        )
        message_id = publish_event(settings, members, version=2)
        wait_until(
            lambda: _status(message_id) == OutboxStatus.SENDING and _blocked_on_a_lock(holder),
            WAIT,
            "the worker to claim the event and block inside its dispatch",
        )
        with session_scope() as db:  # a sent message's payload is emptied
            event_id = db.get_one(OutboxMessage, message_id).payload["event_id"]
        assert cluster.worker is not None
        [pool_process] = child_pids(cluster.worker.pid)
        os.kill(pool_process, signal.SIGKILL)
        wait_until(lambda: "WorkerLostError" in cluster.logs["worker"].read_text(), WAIT, "loss")
        holding.rollback()

    # The task comes back (acks late, rejected on worker loss) and delivers it once.
    assert_notification(on_a.next_in_stream(), epoch, 2, "content.published", version=2)
    assert on_a.nothing_more(3.0) == []
    assert _status(message_id) == OutboxStatus.SENT
    with session_scope() as db:
        attempts = db.get_one(OutboxMessage, message_id).attempts
        told = db.execute(
            select(Notification.user_id, func.count())
            .where(Notification.event_id == uuid.UUID(event_id))
            .group_by(Notification.user_id)
        ).all()
    assert attempts == 2
    assert dict(told) == {members.owner_id: 1, members.admin_id: 1}
    assert stored_offsets(members.admin_id) == [(1, "content.published"), (2, "content.published")]
    on_a.close()


def _status(message_id: uuid.UUID) -> OutboxStatus:
    with session_scope() as db:
        return db.get_one(OutboxMessage, message_id).status


def _blocked_on_a_lock(holder: Connection) -> bool:
    """Whether another session of this database waits for a lock (the worker's dispatch,
    on the stream row `holder` holds)."""
    waiting = holder.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    ).scalar_one()
    return bool(waiting)
