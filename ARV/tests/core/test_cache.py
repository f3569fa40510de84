"""The shared cache: Redis (what every API instance sees), with each process's copies of
what it read (dropped when any process deletes), and this process's memory (one process,
`make run`) keep bytes until their TTL or a delete."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest

from app.core.cache import (
    Cache,
    LayeredCache,
    MemoryCache,
    RedisCache,
    get_cache,
    get_or_build,
    invalidate,
)
from app.core.config import Settings
from app.core.redis import get_redis
from tests.conftest import TEST_REDIS_URL

CACHES: dict[str, Callable[[], Cache]] = {
    "memory": MemoryCache,
    "redis": lambda: RedisCache(TEST_REDIS_URL),
    "layered": lambda: LayeredCache(TEST_REDIS_URL),
}


@pytest.fixture(params=list(CACHES))
def cache(request: pytest.FixtureRequest) -> Cache:
    return CACHES[request.param]()


def test_values_live_until_deleted_or_expired(cache: Cache) -> None:
    key = f"test:{uuid.uuid4().hex}"

    async def stored() -> bytes | None:
        return await cache.get(key)

    assert asyncio.run(stored()) is None
    asyncio.run(cache.set(key, b"\x00bytes", ttl_seconds=60))
    assert asyncio.run(stored()) == b"\x00bytes"
    cache.delete(key)
    assert asyncio.run(stored()) is None

    asyncio.run(cache.set(key, b"short", ttl_seconds=1))
    time.sleep(1.1)
    assert asyncio.run(stored()) is None


def test_one_cache_per_configuration(settings: Settings) -> None:
    assert isinstance(get_cache(settings), LayeredCache)
    assert get_cache(settings) is get_cache(settings)
    memory = settings.model_copy(update={"REDIS_URL": None})
    assert isinstance(get_cache(memory), MemoryCache)
    assert get_cache(memory) is get_cache(memory)


def test_a_build_that_an_invalidation_overtook_is_not_kept(cache: Cache) -> None:
    key = f"test:{uuid.uuid4().hex}"

    async def old_answer_then_a_change_commits() -> bytes:
        # The build read the database before the change; the change commits meanwhile.
        invalidate(cache, key)
        return b"old"

    async def new_answer() -> bytes:
        return b"new"

    def fresh(value: bytes) -> int:
        return 60

    async def scenario() -> tuple[bytes, bytes | None, bytes]:
        served = await get_or_build(cache, key, fresh, old_answer_then_a_change_commits)
        kept = await cache.get(key)
        rebuilt = await get_or_build(cache, key, fresh, new_answer)
        return served, kept, rebuilt

    served, kept, rebuilt = asyncio.run(scenario())
    # The request that built it gets what it read; no later request does.
    assert (served, kept, rebuilt) == (b"old", None, b"new")


def test_a_fresh_value_is_served_without_building_and_a_stale_one_is_rebuilt(
    cache: Cache,
) -> None:
    key = f"test:{uuid.uuid4().hex}"
    builds: list[bytes] = []

    def build_returning(value: bytes) -> Callable[[], Awaitable[bytes]]:
        async def build() -> bytes:
            builds.append(value)
            return value

        return build

    def fresh(value: bytes) -> int:
        return 0 if value == b"stale" else 60

    async def scenario() -> list[bytes]:
        await cache.set(key, b"stale", 60)
        first = await get_or_build(cache, key, fresh, build_returning(b"one"))
        second = await get_or_build(cache, key, fresh, build_returning(b"two"))
        invalidate(cache, key)
        third = await get_or_build(cache, key, fresh, build_returning(b"three"))
        return [first, second, third]

    assert asyncio.run(scenario()) == [b"one", b"one", b"three"]
    assert builds == [b"one", b"three"]


# -- copies per process ---------------------------------------------------------------------


async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.01)


async def keeps_copies(cache: LayeredCache) -> bool:
    await cache.get("test:starts-listening")
    return cache.keeps_copies()


def test_a_process_serves_its_copy_until_another_process_deletes() -> None:
    key = f"test:{uuid.uuid4().hex}"
    behind_its_back = get_redis(TEST_REDIS_URL)

    async def scenario() -> None:
        here, there = LayeredCache(TEST_REDIS_URL), LayeredCache(TEST_REDIS_URL)
        await here.set(key, b"v1", 60)
        await until(lambda: keeps_copies(here), "listening")
        assert await here.get(key) == b"v1"
        behind_its_back.set(key, b"changed without a delete")
        assert await here.get(key) == b"v1"  # its copy

        there.delete(key)

        async def dropped() -> bool:
            return await here.get(key) is None

        await until(dropped, "the copy dropped")

    asyncio.run(scenario())


def test_a_process_that_may_have_missed_a_delete_drops_its_copies() -> None:
    key = f"test:{uuid.uuid4().hex}"
    behind_its_back = get_redis(TEST_REDIS_URL)

    async def scenario() -> None:
        here = LayeredCache(TEST_REDIS_URL)
        await here.set(key, b"v1", 60)
        await until(lambda: keeps_copies(here), "listening")
        assert await here.get(key) == b"v1"
        behind_its_back.set(key, b"v2")  # a delete it will not hear

        behind_its_back.client_kill_filter(_type="pubsub")

        async def reads_redis() -> bool:
            return await here.get(key) == b"v2"

        await until(reads_redis, "the copies dropped when the connection broke")
        await until(lambda: keeps_copies(here), "listening again")
        assert await here.get(key) == b"v2"
        behind_its_back.set(key, b"v3")
        assert await here.get(key) == b"v2"  # kept again

    asyncio.run(scenario())


def test_a_read_that_a_delete_overtook_is_not_kept() -> None:
    key = f"test:{uuid.uuid4().hex}"

    async def scenario() -> None:
        here = LayeredCache(TEST_REDIS_URL)
        await here.set(key, b"old", 60)
        await until(lambda: keeps_copies(here), "listening")
        copies = here._copies
        deletes_before = copies.deletes
        here.delete(key)  # lands while the read of "old" is on its way back
        copies.keep(key, b"old", 60, deletes_before)
        assert await here.get(key) is None

    asyncio.run(scenario())
