"""This process's live sockets, and the routing of live messages to them.

One `Hub` per process holds every signed-in socket by user. It hears the live bus
(`core.live`) on the bus's thread and hands each message to the event loop of each socket
it is for (`loop.call_soon_threadsafe`): a message for a user goes to that user's sockets,
a company's event to the sockets of its members. Each socket has a bounded queue: a client
that falls that far behind is dropped (it replays on reconnect), never slowing the others.

Control messages change sockets at once: a member removed from a company stops hearing
it, a revoked session's sockets are closed."""

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable
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


@dataclass(eq=False)
class Socket:
    """One signed-in socket: whom it serves, and what waits to be sent to it. `on_close`
    is called (on its loop) to close it with a code."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    company_ids: set[uuid.UUID]
    loop: asyncio.AbstractEventLoop
    outbox: asyncio.Queue[dict[str, Any]]
    on_close: Callable[[int, str], None]
    closed: bool = field(default=False)

    def offer(self, message: dict[str, Any]) -> None:
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
        self.hearing = False

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

    def count(self) -> int:
        with self._lock:
            return sum(len(sockets) for sockets in self._by_user.values())

    def on_message(self, data: bytes) -> None:
        """On the bus's thread: route one live message."""
        try:
            envelope = json.loads(data)
        except ValueError:
            logger.warning("live message not JSON")
            return
        for socket, act in self._targets(envelope):
            socket.loop.call_soon_threadsafe(act)

    def on_hearing(self, hearing: bool) -> None:
        self.hearing = hearing

    def _targets(self, envelope: dict[str, Any]) -> list[tuple[Socket, Callable[[], None]]]:
        company = _uuid(envelope.get("company_id"))
        user = _uuid(envelope.get("user_id"))
        with self._lock:
            if user is not None:
                sockets = list(self._by_user.get(user, ()))
            else:
                sockets = [s for group in self._by_user.values() for s in group]
        control = envelope.get("control")
        if control is not None:
            return [(s, _controlled(s, control)) for s in sockets]
        message = envelope["message"]
        return [
            (s, _offered(s, message))
            for s in sockets
            if company is None or company in s.company_ids
        ]


def _offered(socket: Socket, message: dict[str, Any]) -> Callable[[], None]:
    return lambda: socket.offer(message)


def _controlled(socket: Socket, control: dict[str, Any]) -> Callable[[], None]:
    def act() -> None:
        left = _uuid(control.get("left_company"))
        if left is not None:
            socket.company_ids.discard(left)
        if control.get("session_ended") == str(socket.session_id):
            socket.close(CLOSE_SESSION_ENDED, "this session has ended")

    return act


def _uuid(value: object) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


@lru_cache
def hub_for(redis_url: str | None) -> Hub:
    """This process's hub for the live bus at `redis_url` (None: in-process), listening
    from its first use."""
    hub = Hub()
    receive(redis_url, hub.on_message, hub.on_hearing)
    return hub
