"""Sliding-window rate limits and temporary blocks, shared by every API instance.

`RedisRateLimiter` keeps one sorted set of event timestamps per key, so all instances
count together; `MemoryRateLimiter` serves a single process when REDIS_URL is unset.
Only allowed events are recorded: a client hammering a refused key neither grows the
stored log nor pushes its own retry time further out, and `retry_after_seconds` is exact.

Keys end up in Redis: build them with `hashed_key` so no email or IP is stored in clear.
"""

import hashlib
import math
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import anyio.to_thread
import redis
import redis.asyncio as aioredis

from app.core.config import Settings
from app.core.exceptions import ServiceUnavailableError
from app.core.redis import get_async_redis, get_redis

Clock = Callable[[], float]

HASHED_KEY_LENGTH = 32
_KEY_PART_SEPARATOR = "\x00"


def hashed_key(*parts: str) -> str:
    """A fixed-length key for `parts` (an email, an IP...) that keeps them out of storage.

    Unsalted, so it hides values from a casual reader, not from someone who can guess them.
    """
    digest = hashlib.sha256(_KEY_PART_SEPARATOR.join(parts).encode()).hexdigest()
    return digest[:HASHED_KEY_LENGTH]


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    remaining: int
    retry_after_seconds: int


class HitCounter(Protocol):
    async def hit_async(self, key: str, limit: int, window_seconds: int) -> RateLimitDecision:
        """Count one event for `key` if fewer than `limit` fall in the window."""
        ...


class RateLimiter(ABC):
    @abstractmethod
    def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitDecision:
        """Count one event for `key` if fewer than `limit` fall in the window."""

    async def hit_async(self, key: str, limit: int, window_seconds: int) -> RateLimitDecision:
        """`hit` for the event loop (async routes and dependencies): no trip through the
        threadpool. This default never waits on I/O; a limiter that does overrides it."""
        return self.hit(key, limit, window_seconds)

    @abstractmethod
    def count(self, key: str, window_seconds: int) -> int:
        """Events counted for `key` within the last `window_seconds`."""

    @abstractmethod
    def reset(self, key: str) -> None:
        """Forget the events counted for `key`; a block on `key` stays."""

    @abstractmethod
    def block(self, key: str, seconds: int) -> None:
        """Block `key` for `seconds`, replacing any block already set."""

    @abstractmethod
    def blocked_for(self, key: str) -> int:
        """Whole seconds left on the block of `key`, rounded up; 0 when not blocked."""


def _check_hit_arguments(limit: int, window_seconds: int) -> None:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if window_seconds < 1:
        raise ValueError("window_seconds must be at least 1")


def _check_block_seconds(seconds: int) -> None:
    if seconds < 1:
        raise ValueError("a block lasts at least 1 second")


def _seconds_until(moment: float, now: float) -> int:
    return max(0, math.ceil(moment - now))


def _refused(oldest: float, window_seconds: int, now: float) -> RateLimitDecision:
    retry_after = max(1, _seconds_until(oldest + window_seconds, now))
    return RateLimitDecision(allowed=False, remaining=0, retry_after_seconds=retry_after)


def _allowed(limit: int, counted: int) -> RateLimitDecision:
    return RateLimitDecision(allowed=True, remaining=limit - counted, retry_after_seconds=0)


# KEYS[1] window set; ARGV now, cutoff (events at or before it have left the window),
# window seconds, limit, unique member. Returns {allowed, events counted, oldest score or ""}.
# Scores travel as strings: Lua would round numbers to 14 significant digits.
_HIT_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local counted = redis.call('ZCARD', KEYS[1])
if counted < tonumber(ARGV[4]) then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
    redis.call('EXPIRE', KEYS[1], ARGV[3])
    return {1, counted + 1, ''}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, counted, oldest[2]}
"""


def _hit_args(now: float, limit: int, window_seconds: int) -> list[str | int]:
    return [repr(now), repr(now - window_seconds), window_seconds, limit, uuid.uuid4().hex]


def _hit_decision(
    outcome: list[Any], limit: int, window_seconds: int, now: float
) -> RateLimitDecision:
    allowed, counted, oldest = outcome
    if allowed:
        return _allowed(limit, int(counted))
    return _refused(float(oldest), window_seconds, now)


@contextmanager
def _redis_unavailable_as_503() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise ServiceUnavailableError("Rate limiting is unavailable; try again shortly.") from exc


class RedisRateLimiter(RateLimiter):
    """Scores and block expiries come from `clock`; Redis TTLs only clean up behind them."""

    def __init__(
        self,
        redis_client: redis.Redis,
        prefix: str = "rl:",
        clock: Clock = time.time,
        async_client: Callable[[], aioredis.Redis] | None = None,
    ) -> None:
        """`async_client` gives the event loop's client to the same server, for
        `hit_async`; without it, `hit_async` runs `hit` in a worker thread."""
        self._redis = redis_client
        self._prefix = prefix
        self._clock = clock
        self._hit_script = redis_client.register_script(_HIT_SCRIPT)
        self._async_client = async_client

    def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitDecision:
        _check_hit_arguments(limit, window_seconds)
        now = self._clock()
        with _redis_unavailable_as_503():
            outcome = self._hit_script(
                keys=[self._window_key(key)], args=_hit_args(now, limit, window_seconds)
            )
        return _hit_decision(outcome, limit, window_seconds, now)

    async def hit_async(self, key: str, limit: int, window_seconds: int) -> RateLimitDecision:
        if self._async_client is None:
            return await anyio.to_thread.run_sync(self.hit, key, limit, window_seconds)
        _check_hit_arguments(limit, window_seconds)
        now = self._clock()
        script = self._async_client().register_script(_HIT_SCRIPT)
        with _redis_unavailable_as_503():
            outcome = await script(
                keys=[self._window_key(key)], args=_hit_args(now, limit, window_seconds)
            )
        return _hit_decision(outcome, limit, window_seconds, now)

    def count(self, key: str, window_seconds: int) -> int:
        since = self._clock() - window_seconds
        with _redis_unavailable_as_503():
            counted = self._redis.zcount(self._window_key(key), f"({since!r}", "+inf")
        return int(counted)

    def reset(self, key: str) -> None:
        with _redis_unavailable_as_503():
            self._redis.delete(self._window_key(key))

    def block(self, key: str, seconds: int) -> None:
        _check_block_seconds(seconds)
        until = self._clock() + seconds
        with _redis_unavailable_as_503():
            self._redis.set(self._block_key(key), repr(until), ex=seconds)

    def blocked_for(self, key: str) -> int:
        with _redis_unavailable_as_503():
            until = self._redis.get(self._block_key(key))
        if until is None:
            return 0
        return _seconds_until(float(until), self._clock())

    def _window_key(self, key: str) -> str:
        return f"{self._prefix}w:{key}"

    def _block_key(self, key: str) -> str:
        return f"{self._prefix}b:{key}"


@dataclass
class _Window:
    seconds: int
    events: deque[float] = field(default_factory=deque)

    def prune(self, now: float) -> None:
        while self.events and self.events[0] <= now - self.seconds:
            self.events.popleft()


class MemoryRateLimiter(RateLimiter):
    """One process only: other API instances keep their own counts."""

    SWEEP_EVERY_HITS = 1024

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._blocks: dict[str, float] = {}
        self._hits_since_sweep = 0

    def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitDecision:
        _check_hit_arguments(limit, window_seconds)
        with self._lock:
            now = self._clock()
            self._sweep_now_and_then(now)
            window = self._windows.setdefault(key, _Window(window_seconds))
            window.seconds = window_seconds
            window.prune(now)
            if len(window.events) >= limit:
                return _refused(window.events[0], window_seconds, now)
            window.events.append(now)
            return _allowed(limit, len(window.events))

    def count(self, key: str, window_seconds: int) -> int:
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                return 0
            since = self._clock() - window_seconds
            return sum(1 for moment in window.events if moment > since)

    def reset(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)

    def block(self, key: str, seconds: int) -> None:
        _check_block_seconds(seconds)
        with self._lock:
            self._blocks[key] = self._clock() + seconds

    def blocked_for(self, key: str) -> int:
        with self._lock:
            until = self._blocks.get(key)
            if until is None:
                return 0
            left = _seconds_until(until, self._clock())
            if not left:
                del self._blocks[key]
            return left

    def _sweep_now_and_then(self, now: float) -> None:
        self._hits_since_sweep += 1
        if self._hits_since_sweep < self.SWEEP_EVERY_HITS:
            return
        self._hits_since_sweep = 0
        for key, window in list(self._windows.items()):
            window.prune(now)
            if not window.events:
                del self._windows[key]
        for key, until in list(self._blocks.items()):
            if until <= now:
                del self._blocks[key]


_process_limiter = MemoryRateLimiter()


@lru_cache
def _redis_limiter(url: str) -> RedisRateLimiter:
    return RedisRateLimiter(get_redis(url), async_client=lambda: get_async_redis(url))


def get_rate_limiter(settings: Settings) -> RateLimiter:
    """Redis when configured, so every instance shares the counts; else this process's."""
    if settings.REDIS_URL:
        return _redis_limiter(settings.REDIS_URL)
    return _process_limiter
