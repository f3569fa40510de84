"""A shared cache of bytes for the public hot path: Redis when REDIS_URL is set (every API
instance and worker sees the same entries, so one deleting a key invalidates it for all),
this process's memory otherwise (one API process: `make run`).

Reads and writes are `async` (the hot path serves a hit without leaving the event loop);
`delete` is plain, for after-commit hooks, which run in the thread of the sync session that
committed (a request's threadpool thread, a Celery task).
"""

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import cast

import redis

from app.core.config import Settings
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
    return RedisCache(redis_url) if redis_url else MemoryCache()


def get_cache(settings: Settings) -> Cache:
    """The cache every caller in this process with these settings shares."""
    return _cache_for(settings.REDIS_URL)
