"""Rate-limiter fixtures shared by the limiter and login-throttle tests: a controllable
clock and each backend, Redis on its own database with a prefix per test."""

import uuid
from collections.abc import Iterator

import pytest
import redis

from app.core.rate_limit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from tests.conftest import TEST_REDIS_URL

RATE_LIMIT_REDIS_URL = TEST_REDIS_URL.rsplit("/", 1)[0] + "/7"
START = 1_800_000_000.25


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(RATE_LIMIT_REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    prefix = f"rl-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest, clock: FakeClock) -> RateLimiter:
    if request.param == "memory":
        return MemoryRateLimiter(clock=clock)
    client: redis.Redis = request.getfixturevalue("redis_client")
    prefix: str = request.getfixturevalue("redis_prefix")
    return RedisRateLimiter(client, prefix=prefix, clock=clock)
