"""The live bus: what is pushed to open sockets, from any process to every API process.

With Redis, one channel (`arv:live`) carries every live message, and each API process's
one subscriber (`core.pubsub.listener`) hands each to its local sockets (`core.realtime`),
which pick the ones addressed to their user or company. Every API process sees every live
message: simple, and cheap up to tens of thousands of messages a second; channels per
user would be the step beyond. Without Redis (`make run`), messages reach the sockets of
the process that publishes them.

Best-effort by design: a live message only spares a client a fetch. Notifications are in
the database first, and a socket that missed some replays them from there."""

import json
import threading
from collections.abc import Callable
from typing import Any

from app.core.pubsub import listener, publish

LIVE_CHANNEL = "arv:live"

Handler = Callable[[bytes], None]
_local: list[Handler] = []
_local_lock = threading.Lock()


def send(redis_url: str | None, envelope: dict[str, Any]) -> None:
    """Publish `envelope` (JSON-able: `user_id` or `company_id` it is for, and what to
    tell them) to every API process."""
    data = json.dumps(envelope, default=str)
    if redis_url:
        publish(redis_url, LIVE_CHANNEL, data)
        return
    with _local_lock:
        handlers = list(_local)
    for handler in handlers:
        handler(data.encode())


def receive(redis_url: str | None, on_message: Handler, on_hearing: Callable[[bool], None]) -> None:
    """Call `on_message` with every live message published from now on; `on_hearing` says
    when messages start or stop arriving (a broken Redis connection loses some)."""
    if redis_url:
        listener(redis_url).watch(LIVE_CHANNEL, on_message, on_hearing)
        return
    with _local_lock:
        _local.append(on_message)
    on_hearing(True)
