"""The shared cache: Redis (what every API instance sees) and this process's memory (one
process, `make run`) keep bytes until their TTL or a delete."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest

from app.core.cache import Cache, MemoryCache, RedisCache, get_cache, get_or_build, invalidate
from app.core.config import Settings
from tests.conftest import TEST_REDIS_URL


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Cache:
    return MemoryCache() if request.param == "memory" else RedisCache(TEST_REDIS_URL)


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
    assert isinstance(get_cache(settings), RedisCache)
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
