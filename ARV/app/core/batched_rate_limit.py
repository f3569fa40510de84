"""A rate limit for the public hot path that never waits on Redis during a request.

`BatchedRateLimiter` decides in this process's memory and shares its counts with every
other API process through Redis a few times a second. The exact limiter
(`core/rate_limit.py`) costs one awaited Redis round trip a request, which halves what a
process serves from its cache; sign-in and other guards of secrets keep it.

Counting is the sliding-window estimate over two fixed windows (`window_seconds` long): the
previous window's total weighted by how much of it still overlaps the sliding window, plus
the current window's total. A window's total is what Redis held at the last exchange plus
what this process counted since. Each process flushes its new counts with `INCRBY` on the
window's key every `FLUSH_SECONDS` and reads back the totals, so all processes together let
through at most the limit plus what the others counted since their last flush. When Redis
cannot be reached, each process goes on counting alone and sends its counts later.
"""

import logging
import math
import threading
import time
import weakref
from dataclasses import dataclass, field
from functools import lru_cache

import redis

from app.core.config import Settings
from app.core.rate_limit import Clock, HitCounter, RateLimitDecision, get_rate_limiter
from app.core.redis import get_redis

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2


@dataclass
class _WindowCount:
    shared: int = 0  # the total in Redis at the last exchange
    unsent: int = 0  # counted here since

    @property
    def total(self) -> int:
        return self.shared + self.unsent


@dataclass
class _KeyCounts:
    window_seconds: int
    windows: dict[int, _WindowCount] = field(default_factory=dict)

    def window(self, index: int) -> _WindowCount:
        return self.windows.setdefault(index, _WindowCount())


class BatchedRateLimiter:
    """Keyed counts in this process, sent to Redis by a daemon thread (`flush`): a thread,
    not an event loop task, so it serves every loop and needs no cancelling at shutdown,
    where redis-py's asyncio reads can swallow a cancellation and hang the loop's close."""

    def __init__(
        self, client: redis.Redis, prefix: str = "rl:batched:", clock: Clock = time.time
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._lock = threading.Lock()  # the counts
        self._flushing = threading.Lock()  # one exchange at a time
        self._keys: dict[str, _KeyCounts] = {}
        self._flusher: threading.Thread | None = None

    async def hit_async(self, key: str, limit: int, window_seconds: int) -> RateLimitDecision:
        """Count one event for `key` if the estimate is under `limit` (no I/O)."""
        self._start_flusher()
        with self._lock:
            key_counts = self._keys.setdefault(key, _KeyCounts(window_seconds))
            key_counts.window_seconds = window_seconds
            index, into = divmod(self._clock(), window_seconds)
            current = key_counts.window(int(index))
            previous = key_counts.windows.get(int(index) - 1, _WindowCount()).total
            estimate = previous * (1 - into / window_seconds) + current.total
            if estimate >= limit:
                wait = _seconds_until_under(limit, previous, current.total, into, window_seconds)
                return RateLimitDecision(allowed=False, remaining=0, retry_after_seconds=wait)
            current.unsent += 1
        remaining = max(0, limit - math.ceil(estimate) - 1)
        return RateLimitDecision(allowed=True, remaining=remaining, retry_after_seconds=0)

    def flush(self) -> None:
        """Send the new counts and read back the totals of the windows that still count;
        forget the others. Counts stay unsent when Redis cannot be reached."""
        with self._flushing:
            exchanged = self._to_exchange()
            if not exchanged:
                return
            pipeline = self._client.pipeline(transaction=False)
            for redis_key, window_seconds, _, sent in exchanged:
                pipeline.incrby(redis_key, sent)
                pipeline.expire(redis_key, 2 * window_seconds)
            results = pipeline.execute()
            with self._lock:
                for (_, _, window, sent), total in zip(exchanged, results[::2], strict=True):
                    window.unsent -= sent  # what was counted meanwhile stays unsent
                    window.shared = int(total)

    def _to_exchange(self) -> list[tuple[str, int, _WindowCount, int]]:
        """(Redis key, window length, window, count to send) of every window that still
        counts, or holds counts not sent yet; the others are forgotten."""
        now = self._clock()
        exchanged = []
        with self._lock:
            for key, key_counts in list(self._keys.items()):
                oldest_counting = int(now // key_counts.window_seconds) - 1
                for index, window in list(key_counts.windows.items()):
                    if index < oldest_counting and not window.unsent:
                        del key_counts.windows[index]
                        continue
                    redis_key = f"{self._prefix}{key}:{index}"
                    exchanged.append((redis_key, key_counts.window_seconds, window, window.unsent))
                if not key_counts.windows:
                    del self._keys[key]
        return exchanged

    def _start_flusher(self) -> None:
        if self._flusher is not None:
            return
        with self._lock:
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=_flush_forever,
                    args=(weakref.ref(self),),
                    name="rate-limit-flush",
                    daemon=True,
                )
                self._flusher.start()


def _flush_forever(limiter_ref: "weakref.ref[BatchedRateLimiter]") -> None:
    """Until the limiter is gone (never, for the process's own)."""
    while True:
        time.sleep(FLUSH_SECONDS)
        limiter = limiter_ref()
        if limiter is None:
            return
        try:
            limiter.flush()
        except (redis.RedisError, OSError) as exc:
            logger.warning("rate limit counts not shared", extra={"error": str(exc)})
        del limiter


def _seconds_until_under(
    limit: int, previous: int, current: int, into: float, window_seconds: int
) -> int:
    """Whole seconds until the estimate drops under `limit` with no new event: the
    previous window's share fades through this window, then this one's through the next."""
    if current < limit and previous:
        overlap_allowed = (limit - current) / previous
        return max(1, math.ceil((1 - overlap_allowed) * window_seconds - into))
    until_next = window_seconds - into
    fade = (1 - (limit / current if current else 1)) * window_seconds
    return max(1, math.ceil(until_next + fade))


@lru_cache
def _batched_limiter(url: str) -> BatchedRateLimiter:
    return BatchedRateLimiter(get_redis(url))


def get_batched_rate_limiter(settings: Settings) -> HitCounter:
    """Shared through Redis when configured; else this process's exact limiter (one
    process: nothing to share)."""
    if settings.REDIS_URL:
        return _batched_limiter(settings.REDIS_URL)
    return get_rate_limiter(settings)
