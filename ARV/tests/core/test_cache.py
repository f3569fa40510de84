"""The shared cache: Redis (what every API instance sees) and this process's memory (one
process, `make run`) keep bytes until their TTL or a delete."""

import asyncio
import time
import uuid

import pytest

from app.core.cache import Cache, MemoryCache, RedisCache, get_cache
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
