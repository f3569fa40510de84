"""A shared cache of bytes for the public hot path: Redis when REDIS_URL is set (every API
instance and worker sees the same entries, so one deleting a key invalidates it for all),
this process's memory otherwise (one API process: `make run`).

With Redis, each API process also keeps what it read in its own memory (`LayeredCache`):
an awaited Redis round trip costs the hot path about half its throughput. A delete is
published on `CACHE_CHANNEL`, and every process's listener drops its copy; while a process
does not hear that channel (starting, reconnecting), it keeps no copies and reads Redis.

Reads and writes are `async` (the hot path serves a hit without leaving the event loop);
`delete` is plain, for after-commit hooks, which run in the thread of the sync session that
committed (a request's threadpool thread, a Celery task).
"""

import math
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import cast

import redis

from app.core.config import Settings
from app.core.pubsub import listener, publish
from app.core.redis import get_async_redis, get_redis


class Cache(ABC):
    @abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The value stored at `key`, or None (never stored, expired, deleted)."""

    @abstractmethod
    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        """Store `value` at `key` for `ttl_seconds` (at least 1)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Forget `key`, if it is stored."""

    @abstractmethod
    def bump(self, key: str) -> None:
        """Count one more change of what `key` caches (see `generation`)."""

    @abstractmethod
    async def generation(self, key: str) -> int:
        """How many times `key` was bumped (kept a week after the last bump)."""


class RedisCache(Cache):
    """Reads and writes through the event loop's client; deletes through the process's
    sync one."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._sync: redis.Redis = get_redis(url)

    async def get(self, key: str) -> bytes | None:
        # Without decode_responses, values come back as the bytes stored.
        return cast(bytes | None, await get_async_redis(self._url).get(key))

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        await get_async_redis(self._url).set(key, value, ex=max(1, ttl_seconds))

    async def get_with_ttl(self, key: str) -> tuple[bytes | None, float]:
        """The value at `key` and the seconds it has left (infinity for a value stored
        with no TTL), in one round trip."""
        pipeline = get_async_redis(self._url).pipeline(transaction=False)
        pipeline.get(key)
        pipeline.pttl(key)
        value, milliseconds = await pipeline.execute()
        seconds_left = math.inf if milliseconds == -1 else max(0, milliseconds) / 1000
        return cast(bytes | None, value), seconds_left

    def delete(self, key: str) -> None:
        self._sync.delete(key)

    def bump(self, key: str) -> None:
        generation = _generation_key(key)
        pipeline = self._sync.pipeline()
        pipeline.incr(generation)
        pipeline.expire(generation, GENERATION_TTL_SECONDS)
        pipeline.execute()

    async def generation(self, key: str) -> int:
        value = await get_async_redis(self._url).get(_generation_key(key))
        return int(value or 0)


class MemoryCache(Cache):
    """This process only: other processes (a worker) cannot invalidate its entries, which
    then live out their TTL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._generations: dict[str, int] = {}

    async def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= time.monotonic():
                del self._entries[key]
                return None
            return value

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with self._lock:
            self._sweep()
            self._entries[key] = (time.monotonic() + max(1, ttl_seconds), value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def bump(self, key: str) -> None:
        with self._lock:
            self._generations[key] = self._generations.get(key, 0) + 1

    async def generation(self, key: str) -> int:
        with self._lock:
            return self._generations.get(key, 0)

    def _sweep(self) -> None:
        now = time.monotonic()
        for key in [key for key, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]


CACHE_CHANNEL = "arv:cache:deleted"
# A process's copy is read again from Redis after this long at most (a safety net: deletes
# reach it through the listener), and a process keeps this many copies.
LOCAL_COPY_SECONDS = 30
LOCAL_COPIES = 4096


class _LocalCopies:
    """A process's copies of Redis entries. `deletes` counts every delete heard, so a
    read from Redis that a delete overtook is not kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.deletes = 0
        self.heard = False

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= time.monotonic():
                return None
            return entry[1]

    def keep(self, key: str, value: bytes, seconds: float, deletes_before: int) -> None:
        with self._lock:
            if self.deletes != deletes_before:
                return
            self._entries[key] = (time.monotonic() + min(seconds, LOCAL_COPY_SECONDS), value)
            self._entries.move_to_end(key)
            while len(self._entries) > LOCAL_COPIES:
                self._entries.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self.deletes += 1
            self._entries.pop(key, None)

    def hearing(self, heard: bool) -> None:
        """Deletes reach these copies (True) or may be missed (False): either way, what is
        kept may have missed one."""
        with self._lock:
            self.deletes += 1
            self._entries.clear()
            self.heard = heard


class LayeredCache(Cache):
    """Redis, with copies in this process of what it read while the process's listener
    hears `CACHE_CHANNEL`. `delete` deletes in Redis and then publishes the key."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._remote = RedisCache(url)
        self._copies = _LocalCopies()
        self._lock = threading.Lock()
        self._listening = False

    async def get(self, key: str) -> bytes | None:
        copies = self._copies
        if copies.heard:
            copy = copies.get(key)
            if copy is not None:
                return copy
        elif not self._listening:
            self._listen()
        deletes_before = copies.deletes
        value, seconds_left = await self._remote.get_with_ttl(key)
        if value is not None and copies.heard:
            copies.keep(key, value, seconds_left, deletes_before)
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        deletes_before = self._copies.deletes
        await self._remote.set(key, value, ttl_seconds)
        if self._copies.heard:
            self._copies.keep(key, value, ttl_seconds, deletes_before)
        else:
            self._copies.drop(key)

    def delete(self, key: str) -> None:
        self._remote.delete(key)
        self._copies.drop(key)
        publish(self._url, CACHE_CHANNEL, key)

    def bump(self, key: str) -> None:
        self._remote.bump(key)

    async def generation(self, key: str) -> int:
        return await self._remote.generation(key)

    def keeps_copies(self) -> bool:
        """Whether this process keeps copies now (it hears every delete)."""
        return self._copies.heard

    def _listen(self) -> None:
        # Started by the first read: processes that only delete (workers) never listen.
        with self._lock:
            if self._listening:
                return
            self._listening = True
        listener(self._url).watch(
            CACHE_CHANNEL, lambda key: self._copies.drop(key.decode()), self._copies.hearing
        )


# Longer than any entry lives: a builder compares two readings taken seconds apart.
GENERATION_TTL_SECONDS = 7 * 24 * 3600


def _generation_key(key: str) -> str:
    return f"{key}:generation"


async def get_or_build(
    cache: Cache, key: str, fresh: Callable[[bytes], int], build: Callable[[], Awaitable[bytes]]
) -> bytes:
    """The value at `key` while `fresh(value)` (seconds it may still be served) is above
    0; otherwise `build()` it and store it for as long as it is fresh.

    A build that read the database just before a change committed would store the old
    answer after the change's `invalidate` deleted it. So the generation is read before
    and after the build: when it moved, the stored value may be stale, and is dropped."""
    cached = await cache.get(key)
    if cached is not None and fresh(cached) > 0:
        return cached
    before = await cache.generation(key)
    value = await build()
    await cache.set(key, value, fresh(value))
    if await cache.generation(key) != before:
        cache.delete(key)
    return value


def invalidate(cache: Cache, key: str) -> None:
    """What changed `key`'s answer has committed: forget it, and tell builders running now
    that what they read may be older (`get_or_build`)."""
    cache.bump(key)
    cache.delete(key)


@lru_cache
def _cache_for(redis_url: str | None) -> Cache:
    return LayeredCache(redis_url) if redis_url else MemoryCache()


def get_cache(settings: Settings) -> Cache:
    """The cache every caller in this process with these settings shares."""
    return _cache_for(settings.REDIS_URL)
