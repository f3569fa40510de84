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


class MemoryCache(Cache):
    """This process only: other processes (a worker) cannot invalidate its entries, which
    then live out their TTL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, bytes]] = {}

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

    def _sweep(self) -> None:
        now = time.monotonic()
        for key in [key for key, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]


@lru_cache
def _cache_for(redis_url: str | None) -> Cache:
    return RedisCache(redis_url) if redis_url else MemoryCache()


def get_cache(settings: Settings) -> Cache:
    """The cache every caller in this process with these settings shares."""
    return _cache_for(settings.REDIS_URL)
