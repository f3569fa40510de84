"""One live socket's life (`/api/v1/ws`): sign in by the first message, catch up on what
was missed, then pass on live messages while keeping the connection honest.

    client: {"type": "auth", "token": "<access JWT>", "epoch": "...", "offset": 41}
    server: {"type": "ready", "epoch": "...", "offset": 45}
    server: {"type": "notification", "epoch": "...", "offset": 42, "notification": {...}}
            ... 43, 44, 45, then live ones as they come
    server: {"type": "reload", "epoch": "...", "offset": 45}   (instead, when the gap is
            too old, the epoch is another, or the offset unknown: fetch the inbox)
    server: {"type": "event", "company_id": "...", "event": {"type": "video.progress", ...}}
    server: {"type": "ping"}  every WS_HEARTBEAT_SECONDS; any client message counts as alive

The token travels in the first message, never in the URL (URLs are logged). The socket is
registered with the process's hub before the database is read, so nothing committed
meanwhile is missed; offsets already sent are dropped, and a gap (two commits published
out of order) is filled from the database before the later one is sent."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from anyio import to_thread
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.core.config import Settings
from app.core.database import session_scope
from app.core.realtime import CLOSE_IDLE, CLOSE_UNAUTHORISED, PING, RESYNC, Socket, hub_for
from app.services import live
from app.services.notification_service import Listener, missed, signed_in, stream_position

T = TypeVar("T")


class Hello(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern="^auth$")
    token: str = Field(min_length=1, max_length=4096)
    epoch: str | None = Field(default=None, max_length=32)
    offset: int | None = Field(default=None, ge=0)


class LiveSocket:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.settings: Settings = websocket.app.state.settings
        self.sessions: sessionmaker[Session] = websocket.app.state.sessions
        self.sent = 0  # the last stream offset sent
        self.epoch = ""
        self.close_code: tuple[int, str] | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        await self.websocket.accept()
        hello = await self._hello()
        who = await self._db(signed_in, self.settings, hello.token) if hello else None
        if hello is None or who is None:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # it may have left
                await self.websocket.close(CLOSE_UNAUTHORISED, "sign in with a valid access token")
            return
        socket = self._socket(who)
        hub = hub_for(self.settings.REDIS_URL)
        hub.add(socket)
        try:
            await self._catch_up(who.user_id, hello)
            await self._serve(socket)
        finally:
            hub.remove(socket)
            socket.closed = True

    async def _hello(self) -> Hello | None:
        try:
            raw = await asyncio.wait_for(
                self.websocket.receive_text(), self.settings.WS_AUTH_TIMEOUT_SECONDS
            )
            return Hello.model_validate_json(raw)
        except (TimeoutError, ValidationError, WebSocketDisconnect, KeyError):
            return None

    def _socket(self, who: Listener) -> Socket:
        return Socket(
            user_id=who.user_id,
            session_id=who.session_id,
            company_ids=who.company_ids,
            loop=asyncio.get_running_loop(),
            outbox=asyncio.Queue(maxsize=self.settings.WS_SEND_QUEUE_SIZE),
            on_close=self._close_soon,
        )

    def _close_soon(self, code: int, reason: str) -> None:
        """On the socket's loop: end its tasks; `_serve` then closes it with `code`."""
        self.close_code = (code, reason)
        for task in self.tasks:
            task.cancel()

    async def _catch_up(self, user_id: uuid.UUID, hello: Hello) -> None:
        self.epoch, last = await self._db(stream_position, user_id)
        await self._send({"type": "ready", "epoch": self.epoch, "offset": last})
        self.sent = last
        if hello.epoch is None:
            return  # a first connection: nothing to catch up on
        offset = hello.offset
        if (
            hello.epoch != self.epoch
            or offset is None
            or offset > last
            or last - offset > self.settings.NOTIFICATION_REPLAY_MAX
        ):
            await self._send({"type": "reload", "epoch": self.epoch, "offset": last})
            return
        self.sent = offset
        await self._fill(user_id, last)

    async def _fill(self, user_id: uuid.UUID, up_to: int) -> None:
        """Send what the database holds after the last offset sent, up to `up_to`."""
        limit = self.settings.NOTIFICATION_REPLAY_MAX
        for message in await self._db(
            _missed_messages, user_id, self.epoch, self.sent, up_to, limit
        ):
            await self._send(message)
        self.sent = max(self.sent, up_to)

    async def _serve(self, socket: Socket) -> None:
        """Two tasks a socket: one writes, one reads (and keeps time for the heartbeat);
        the first to end, or a close from the hub, ends both. Nothing is allocated per
        message beyond the message: a broadcast to thousands of sockets leaves little for
        the garbage collector to walk."""
        if self.close_code is None:  # else the hub closed it during the catch-up
            self.tasks = [
                asyncio.create_task(self._write(socket)),
                asyncio.create_task(self._read(socket)),
            ]
        try:
            if self.tasks:
                await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.close_code is not None:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await self.websocket.close(*self.close_code)

    async def _write(self, socket: Socket) -> None:
        while True:
            message = await socket.outbox.get()
            if message is RESYNC:
                _, last = await self._db(stream_position, socket.user_id)
                await self._fill(socket.user_id, last)
                continue
            if message.kind == "notification" and message.offset is not None:
                if message.offset <= self.sent:
                    continue  # sent already, by the catch-up or a gap's fill
                if message.offset > self.sent + 1:
                    await self._fill(socket.user_id, message.offset - 1)
                self.sent = message.offset
            await self.websocket.send_text(message.text)

    async def _read(self, socket: Socket) -> None:
        """Anything the client sends keeps it alive; silence past the idle timeout ends it.
        Every heartbeat of silence, the client is pinged (it answers, if alive)."""
        heartbeat, idle = self.settings.WS_HEARTBEAT_SECONDS, self.settings.WS_IDLE_TIMEOUT_SECONDS
        silent = 0.0
        while True:
            wait = min(heartbeat, idle - silent)
            try:
                received = await asyncio.wait_for(self.websocket.receive(), wait)
            except TimeoutError:
                silent += wait
                if silent >= idle:
                    self._close_soon(CLOSE_IDLE, "no sign of life")
                    return
                socket.offer(PING)
                continue
            if received["type"] == "websocket.disconnect":
                return
            silent = 0.0

    async def _send(self, message: dict[str, Any]) -> None:
        await self.websocket.send_text(json.dumps(message, default=str))

    async def _db(self, work: Callable[..., T], *args: Any) -> T:
        """`work(db, *args)` in a unit of work of its own, off the event loop."""

        def in_session() -> T:
            with session_scope(self.sessions) as db:
                return work(db, *args)

        return await to_thread.run_sync(in_session)


def _missed_messages(
    db: Session, user_id: uuid.UUID, epoch: str, after: int, up_to: int, limit: int
) -> list[dict[str, Any]]:
    return [
        live.notification_message(epoch, notification)
        for notification in missed(db, user_id, after, up_to, limit)
    ]
