"""Redis pub/sub: what one process tells every other API process and worker.

- Live messages to sockets (`core.live`), and cache deletions (`core.cache`).
- `listener(url)`: the one subscription of this process, dispatching each message to what
  the process registered for its channel.
  Pub/sub keeps nothing for a subscriber that is not connected, so a watcher also learns
  when its channel starts being heard (what came before may have been missed) and when it
  stops (the connection broke).
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.retry import Retry

from app.core.redis import SOCKET_TIMEOUT_SECONDS, get_redis

logger = logging.getLogger(__name__)

# How long one wait for a message lasts (channels watched meanwhile are subscribed after
# it), and how often the idle connection is pinged: a server gone silent is noticed within
# about this long plus the socket timeout.
POLL_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 5
# Between attempts to subscribe again after the connection broke.
RECONNECT_SECONDS = 0.5


def publish(redis_url: str, channel: str, message: bytes | str) -> None:
    """Tell every process listening on `channel` (sync: after-commit hooks run in the
    thread of the session that committed)."""
    get_redis(redis_url).publish(channel, message)


@dataclass(frozen=True, slots=True)
class Watch:
    """What to do with each message on a channel, and when the channel starts (True) or
    stops (False) being heard."""

    on_message: Callable[[bytes], None]
    on_hearing: Callable[[bool], None]


class Listener:
    """One connection, subscribed to every watched channel, read by one daemon thread of
    the process (a thread, not a task: it serves every event loop, and needs no cancelling
    at shutdown, where redis-py's asyncio reads can swallow a cancellation and hang the
    loop's close). Handlers run on that thread, under the listener's lock: they must be
    quick, thread-safe, and must not call the listener; to reach an event loop, use
    `loop.call_soon_threadsafe`."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._watches: dict[str, list[Watch]] = {}
        self._heard: set[str] = set()
        self._thread: threading.Thread | None = None

    def watch(
        self, channel: str, on_message: Callable[[bytes], None], on_hearing: Callable[[bool], None]
    ) -> None:
        """Call `on_message` with each message on `channel`, once the subscription is
        confirmed: `on_hearing(True)` says so, and `on_hearing(False)` that the connection
        broke (messages are missed until the next `on_hearing(True)`)."""
        with self._lock:
            self._watches.setdefault(channel, []).append(Watch(on_message, on_hearing))
            if channel in self._heard:
                on_hearing(True)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="redis-listener", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self._listen()
            except (redis.RedisError, OSError) as exc:
                logger.warning("pubsub connection lost", extra={"error": str(exc)})
            finally:
                self._lose_all()
            time.sleep(RECONNECT_SECONDS)

    def _listen(self) -> None:
        client = redis.Redis.from_url(
            self._url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS + POLL_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            health_check_interval=HEALTH_CHECK_SECONDS,
            retry=Retry(NoBackoff(), retries=0),  # this loop reconnects itself
        )
        with client, client.pubsub() as pubsub:  # type: ignore[no-untyped-call]
            subscribed: set[str] = set()
            while True:
                subscribed |= self._subscribe_new(pubsub, subscribed)
                message = pubsub.get_message(timeout=POLL_SECONDS)
                if message is not None:
                    self._dispatch(message)

    def _subscribe_new(self, pubsub: PubSub, subscribed: set[str]) -> set[str]:
        with self._lock:
            new = set(self._watches) - subscribed
        if new:
            pubsub.subscribe(*new)
        return new

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"].decode()
        # Under the lock: a watch added meanwhile sees every change of hearing in order.
        with self._lock:
            if message["type"] == "subscribe":
                self._heard.add(channel)
                self._tell(channel, hearing=True)
            elif message["type"] == "message":
                for watch in self._watches.get(channel, ()):
                    watch.on_message(message["data"])

    def _lose_all(self) -> None:
        with self._lock:
            lost, self._heard = self._heard, set()
            for channel in lost:
                self._tell(channel, hearing=False)

    def _tell(self, channel: str, hearing: bool) -> None:
        for watch in self._watches.get(channel, ()):
            watch.on_hearing(hearing)


@lru_cache
def listener(url: str) -> Listener:
    """This process's listener for the Redis at `url`."""
    return Listener(url)
