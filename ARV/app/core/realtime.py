"""This process's live sockets, and the routing of live messages to them.

One `Hub` per process holds every signed-in socket by user. It hears the live bus
(`core.live`) on the bus's thread, serialises each message once, and hands it to each event
loop that has sockets it is for, in one callback per loop: a message for a user goes to
that user's sockets, a company's event to the sockets of its members. Each socket has a
bounded queue: a client that falls that far behind is dropped (it replays on reconnect),
never slowing the others.

Control messages change sockets at once: a member removed from a company stops hearing
it, a revoked session's sockets are closed. The hub takes the bus as unheard until Redis
confirms it, and after each break: every socket then catches up from the database."""

import asyncio
import json
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from app.core.live import receive

logger = logging.getLogger(__name__)

# Close codes (4000-4999 are the application's).
CLOSE_UNAUTHORISED = 4401
CLOSE_SESSION_ENDED = 4403
CLOSE_IDLE = 4408
CLOSE_TOO_SLOW = 4429


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message as the socket sends it (`text`), with what the socket needs to know of it:
    its `kind` and, for a notification, its stream `offset`."""

    kind: str
    text: str
    offset: int | None = None

    @classmethod
    def of(cls, message: dict[str, Any]) -> "Outgoing":
        offset = message.get("offset")
        return cls(
            str(message["type"]),
            json.dumps(message, default=str),
            offset if isinstance(offset, int) else None,
        )


# Sent every heartbeat; and told to every socket when the bus is heard again after a
# break (notifications published meanwhile were missed: the socket reads them back).
PING = Outgoing.of({"type": "ping"})
RESYNC = Outgoing("resync", "")


@dataclass(eq=False)
class Socket:
    """One signed-in socket: whom it serves, and what waits to be sent to it. `on_close`
    is called (on its loop) to close it with a code."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    company_ids: set[uuid.UUID]
    loop: asyncio.AbstractEventLoop
    outbox: asyncio.Queue[Outgoing]
    on_close: Callable[[int, str], None]
    closed: bool = field(default=False)

    def offer(self, message: Outgoing) -> None:
        """On the socket's loop: queue `message`, or drop a client that fell too far
        behind."""
        if self.closed:
            return
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.close(CLOSE_TOO_SLOW, "too slow: reconnect and replay")

    def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.on_close(code, reason)


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_user: dict[uuid.UUID, set[Socket]] = {}
        # Whether live messages arrive now; and whether some may have been missed since
        # (until Redis first confirms the subscription, they may have been).
        self.hearing = False
        self._lost = True

    def add(self, socket: Socket) -> None:
        with self._lock:
            self._by_user.setdefault(socket.user_id, set()).add(socket)

    def remove(self, socket: Socket) -> None:
        with self._lock:
            sockets = self._by_user.get(socket.user_id)
            if sockets is not None:
                sockets.discard(socket)
                if not sockets:
                    del self._by_user[socket.user_id]

    def on_message(self, data: bytes) -> None:
        """On the bus's thread: route one live message."""
        try:
            envelope = json.loads(data)
        except ValueError:
            logger.warning("live message not JSON")
            return
        user = _uuid(envelope.get("user_id"))
        sockets = self._of(user) if user is not None else self._all()
        control = envelope.get("control")
        if control is not None:
            _on_their_loops(sockets, lambda socket: _apply(socket, control))
            return
        message = Outgoing.of(envelope["message"])
        company = _uuid(envelope.get("company_id"))
        _on_their_loops(sockets, lambda socket: _deliver(socket, message, company))

    def on_hearing(self, hearing: bool) -> None:
        """On the bus's thread: after a break, every socket catches up from the database."""
        self.hearing = hearing
        if not hearing:
            self._lost = True
            return
        if self._lost:
            self._lost = False
            _on_their_loops(self._all(), lambda socket: socket.offer(RESYNC))

    def _of(self, user: uuid.UUID) -> list[Socket]:
        with self._lock:
            return list(self._by_user.get(user, ()))

    def _all(self) -> list[Socket]:
        with self._lock:
            return [socket for group in self._by_user.values() for socket in group]


def _on_their_loops(sockets: Iterable[Socket], act: Callable[[Socket], None]) -> None:
    """Run `act` for each socket on its own loop: one callback per loop, not per socket
    (a broadcast to thousands of sockets schedules one)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Socket]] = defaultdict(list)
    for socket in sockets:
        by_loop[socket.loop].append(socket)
    for loop, group in by_loop.items():
        loop.call_soon_threadsafe(_each, group, act)


def _each(sockets: list[Socket], act: Callable[[Socket], None]) -> None:
    for socket in sockets:
        act(socket)


def _deliver(socket: Socket, message: Outgoing, company: uuid.UUID | None) -> None:
    # Checked on the socket's loop, where removals are applied: a member removed a moment
    # before is never offered the company's event.
    if company is None or company in socket.company_ids:
        socket.offer(message)


def _apply(socket: Socket, control: dict[str, Any]) -> None:
    left = _uuid(control.get("left_company"))
    if left is not None:
        socket.company_ids.discard(left)
    if control.get("session_ended") == str(socket.session_id):
        socket.close(CLOSE_SESSION_ENDED, "this session has ended")


def _uuid(value: object) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


@lru_cache
def hub_for(redis_url: str | None) -> Hub:
    """This process's hub for the live bus at `redis_url` (None: in-process), listening
    from its first use."""
    hub = Hub()
    receive(redis_url, hub.on_message, hub.on_hearing)
    return hub
