"""The hot path's rate limiter: decided in each process's memory, shared through Redis a
few times a second, so two processes together hold one limit."""

import asyncio
import math
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import redis

from app.core.batched_rate_limit import BatchedRateLimiter, get_batched_rate_limiter
from app.core.config import Settings
from app.core.rate_limit import MemoryRateLimiter
from tests.support.rate_limiting import RATE_LIMIT_REDIS_URL, FakeClock

WINDOW = 60


def limiter(clock: FakeClock, prefix: str, url: str = RATE_LIMIT_REDIS_URL) -> BatchedRateLimiter:
    return BatchedRateLimiter(redis.Redis.from_url(url), prefix=prefix, clock=clock)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        await scenario()

    asyncio.run(main())


async def allowed(one: BatchedRateLimiter, times: int, limit: int = 10) -> list[bool]:
    return [(await one.hit_async("k", limit, WINDOW)).allowed for _ in range(times)]


def test_refuses_at_the_limit_and_says_when_to_come_back(
    clock: FakeClock, redis_prefix: str
) -> None:
    one = limiter(clock, redis_prefix)

    async def scenario() -> None:
        decisions = [await one.hit_async("k", 3, WINDOW) for _ in range(3)]
        refused = await one.hit_async("k", 3, WINDOW)
        other_key = await one.hit_async("other", 3, WINDOW)

        assert [d.remaining for d in decisions] == [2, 1, 0]
        assert not refused.allowed
        # All 3 in this window: in the next, they weigh 3 x (1 - how far into it), under 3
        # as soon as it starts.
        assert refused.retry_after_seconds == math.ceil(WINDOW - clock.now % WINDOW)
        clock.advance(refused.retry_after_seconds)
        assert (await one.hit_async("k", 3, WINDOW)).allowed
        assert other_key.allowed

    run(scenario)


def test_two_processes_hold_one_limit_once_they_have_shared(
    clock: FakeClock, redis_prefix: str
) -> None:
    one, other = limiter(clock, redis_prefix), limiter(clock, redis_prefix)

    async def scenario() -> None:
        assert await allowed(one, 6) == [True] * 6
        one.flush()
        # A process learns a key's shared total at its first flush after it meets the key.
        assert await allowed(other, 1) == [True]
        other.flush()
        assert await allowed(other, 4) == [True] * 3 + [False]
        other.flush()
        one.flush()
        assert await allowed(one, 1) == [False]

    run(scenario)


def test_counts_are_sent_once_however_often_they_are_flushed(
    clock: FakeClock, redis_prefix: str, redis_client: redis.Redis
) -> None:
    one = limiter(clock, redis_prefix)

    async def scenario() -> None:
        await allowed(one, 4)
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda _: one.flush(), range(3)))

    run(scenario)
    window = int(clock.now // WINDOW)
    assert int(redis_client.get(f"{redis_prefix}k:{window}") or 0) == 4


def test_the_previous_window_fades_out(clock: FakeClock, redis_prefix: str) -> None:
    one = limiter(clock, redis_prefix)
    clock.advance(WINDOW - clock.now % WINDOW)  # the start of a window

    async def scenario() -> None:
        assert await allowed(one, 11) == [True] * 10 + [False]
        clock.advance(WINDOW * 1.5)  # half-way through the next window: 10 x 0.5 = 5
        assert await allowed(one, 6) == [True] * 5 + [False]
        one.flush()

    run(scenario)


def test_windows_that_no_longer_count_are_forgotten(
    clock: FakeClock, redis_prefix: str, redis_client: redis.Redis
) -> None:
    one = limiter(clock, redis_prefix)

    async def scenario() -> None:
        await allowed(one, 10)
        one.flush()
        clock.advance(2 * WINDOW)
        one.flush()
        assert await allowed(one, 10) == [True] * 10

    run(scenario)
    keys = {key.decode() for key in redis_client.scan_iter(match=f"{redis_prefix}*")}
    window = int(clock.now // WINDOW)
    assert keys == {f"{redis_prefix}k:{window - 2}"}  # sent before; Redis expires it
    assert redis_client.ttl(f"{redis_prefix}k:{window - 2}") <= 2 * WINDOW


def test_without_redis_each_process_counts_alone_and_sends_later(
    clock: FakeClock, redis_prefix: str
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead_url = f"redis://127.0.0.1:{unused.getsockname()[1]}/0"
    one = limiter(clock, redis_prefix, dead_url)

    async def scenario() -> None:
        assert await allowed(one, 11) == [True] * 10 + [False]
        try:
            one.flush()
        except (redis.RedisError, OSError):
            pass
        else:
            raise AssertionError("a flush to a server that is not there succeeded")
        assert await allowed(one, 1) == [False]  # nothing counted was lost

    run(scenario)


def test_the_flusher_shares_counts_without_being_asked(
    clock: FakeClock, redis_prefix: str, redis_client: redis.Redis
) -> None:
    one = limiter(clock, redis_prefix)
    window = int(clock.now // WINDOW)

    async def scenario() -> None:
        await allowed(one, 3)
        for _ in range(50):
            if redis_client.get(f"{redis_prefix}k:{window}") == b"3":
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the counts were not sent within 2.5 s")

    run(scenario)


def test_one_limiter_per_configuration(settings: Settings) -> None:
    assert isinstance(get_batched_rate_limiter(settings), BatchedRateLimiter)
    assert get_batched_rate_limiter(settings) is get_batched_rate_limiter(settings)
    alone = settings.model_copy(update={"REDIS_URL": None})
    assert isinstance(get_batched_rate_limiter(alone), MemoryRateLimiter)
