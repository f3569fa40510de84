import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from app.api.deps import get_client_ip
from app.api.rate_limits import limit_per_ip
from app.core.config import Settings
from app.core.exceptions import ServiceUnavailableError
from app.core.rate_limit import (
    MemoryRateLimiter,
    RateLimitDecision,
    RateLimiter,
    RedisRateLimiter,
    get_rate_limiter,
    hashed_key,
)
from app.core.redis import get_async_redis
from app.main import create_app
from tests.support.rate_limiting import RATE_LIMIT_REDIS_URL, FakeClock


def hits(limiter: RateLimiter, key: str, times: int, limit: int, window: int) -> list[bool]:
    return [limiter.hit(key, limit, window).allowed for _ in range(times)]


def test_allows_up_to_the_limit_then_refuses(limiter: RateLimiter, clock: FakeClock) -> None:
    decisions = []
    for _ in range(3):
        decisions.append(limiter.hit("k", limit=3, window_seconds=60))
        clock.advance(1)
    clock.advance(7)
    refused = limiter.hit("k", limit=3, window_seconds=60)

    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.allowed and d.retry_after_seconds == 0 for d in decisions)
    assert refused == RateLimitDecision(allowed=False, remaining=0, retry_after_seconds=50)


def test_retry_after_rounds_up_to_a_whole_second(limiter: RateLimiter, clock: FakeClock) -> None:
    limiter.hit("k", limit=1, window_seconds=10)
    clock.advance(9.75)
    assert limiter.hit("k", limit=1, window_seconds=10).retry_after_seconds == 1


def test_window_slides(limiter: RateLimiter, clock: FakeClock) -> None:
    limiter.hit("k", limit=2, window_seconds=10)
    clock.advance(4)
    limiter.hit("k", limit=2, window_seconds=10)
    clock.advance(4)
    assert limiter.hit("k", limit=2, window_seconds=10).retry_after_seconds == 2

    clock.advance(2)  # the first event leaves the window
    assert limiter.count("k", window_seconds=10) == 1
    assert limiter.hit("k", limit=2, window_seconds=10).allowed
    assert limiter.hit("k", limit=2, window_seconds=10).retry_after_seconds == 4


def test_refused_hits_are_not_counted(limiter: RateLimiter, clock: FakeClock) -> None:
    limiter.hit("k", limit=1, window_seconds=10)
    for _ in range(5):
        clock.advance(1)
        assert not limiter.hit("k", limit=1, window_seconds=10).allowed
    assert limiter.count("k", window_seconds=10) == 1
    clock.advance(5)
    assert limiter.hit("k", limit=1, window_seconds=10).allowed


def test_count_sees_only_the_window(limiter: RateLimiter, clock: FakeClock) -> None:
    assert limiter.count("k", window_seconds=60) == 0
    hits(limiter, "k", 3, limit=10, window=60)
    clock.advance(30)
    hits(limiter, "k", 2, limit=10, window=60)
    assert limiter.count("k", window_seconds=60) == 5
    assert limiter.count("k", window_seconds=20) == 2


def test_keys_are_independent(limiter: RateLimiter) -> None:
    assert hits(limiter, "a", 3, limit=2, window=60) == [True, True, False]
    assert hits(limiter, "b", 2, limit=2, window=60) == [True, True]
    assert limiter.count("c", window_seconds=60) == 0


def test_reset_clears_the_count(limiter: RateLimiter) -> None:
    hits(limiter, "k", 2, limit=2, window=60)
    limiter.reset("k")
    assert limiter.count("k", window_seconds=60) == 0
    assert limiter.hit("k", limit=2, window_seconds=60).remaining == 1


def test_block_expires_by_itself(limiter: RateLimiter, clock: FakeClock) -> None:
    assert limiter.blocked_for("k") == 0
    limiter.block("k", 30)
    assert limiter.blocked_for("k") == 30
    clock.advance(29.5)
    assert limiter.blocked_for("k") == 1
    clock.advance(0.5)
    assert limiter.blocked_for("k") == 0


def test_block_is_separate_from_the_count(limiter: RateLimiter) -> None:
    limiter.block("k", 30)
    limiter.reset("k")
    assert limiter.blocked_for("k") == 30
    assert limiter.hit("k", limit=1, window_seconds=60).allowed
    assert limiter.blocked_for("other") == 0


def test_a_new_block_replaces_the_old_one(limiter: RateLimiter) -> None:
    limiter.block("k", 300)
    limiter.block("k", 10)
    assert limiter.blocked_for("k") == 10


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (5, 0)])
def test_refuses_meaningless_limits(limiter: RateLimiter, limit: int, window: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        limiter.hit("k", limit, window)


def test_memory_limiter_forgets_idle_keys(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(clock=clock)
    limiter.hit("idle", limit=5, window_seconds=10)
    limiter.block("idle", 10)
    clock.advance(11)
    for _ in range(MemoryRateLimiter.SWEEP_EVERY_HITS):
        limiter.hit("busy", limit=1, window_seconds=10)
    assert set(limiter._windows) == {"busy"}
    assert limiter._blocks == {}


def test_redis_keys_expire_by_themselves(redis_client: redis.Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix)
    limiter.hit("k", limit=5, window_seconds=1)
    limiter.block("k", 1)
    assert 0 < redis_client.pttl(f"{redis_prefix}w:k") <= 1000
    assert 0 < redis_client.pttl(f"{redis_prefix}b:k") <= 1000
    time.sleep(1.2)
    assert limiter.count("k", window_seconds=1) == 0
    assert limiter.blocked_for("k") == 0
    assert not list(redis_client.scan_iter(match=f"{redis_prefix}*"))


def test_redis_instances_share_counts_under_concurrency(redis_prefix: str) -> None:
    instances = [
        RedisRateLimiter(redis.Redis.from_url(RATE_LIMIT_REDIS_URL), prefix=redis_prefix)
        for _ in range(2)
    ]
    start = threading.Barrier(8)
    allowed: list[bool] = []
    record = threading.Lock()

    def client(number: int) -> None:
        limiter = instances[number % 2]
        start.wait()
        outcomes = hits(limiter, "shared", 10, limit=25, window=60)
        with record:
            allowed.extend(outcomes)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(allowed) == 80
    assert allowed.count(True) == 25
    assert instances[0].count("shared", window_seconds=60) == 25


@pytest.mark.parametrize("on_the_loop", [True, False], ids=["async-client", "worker-thread"])
def test_hit_async_counts_with_hit(redis_prefix: str, on_the_loop: bool) -> None:
    limiter = RedisRateLimiter(
        redis.Redis.from_url(RATE_LIMIT_REDIS_URL),
        prefix=redis_prefix,
        async_client=(lambda: get_async_redis(RATE_LIMIT_REDIS_URL)) if on_the_loop else None,
    )

    async def three() -> list[RateLimitDecision]:
        return [await limiter.hit_async("k", limit=2, window_seconds=60) for _ in range(3)]

    first, second, refused = asyncio.run(three())
    assert (first.allowed, second.allowed, refused.allowed) == (True, True, False)
    assert 1 <= refused.retry_after_seconds <= 60
    assert limiter.hit("k", limit=3, window_seconds=60).allowed
    assert limiter.count("k", window_seconds=60) == 3


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_redis_down_answers_service_unavailable() -> None:
    client = redis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    limiter = RedisRateLimiter(client)
    with pytest.raises(ServiceUnavailableError):
        limiter.hit("k", limit=1, window_seconds=60)
    with pytest.raises(ServiceUnavailableError):
        limiter.blocked_for("k")


def test_hashed_key_hides_its_parts() -> None:
    key = hashed_key("login", "alice@example.com")
    assert len(key) == 32
    assert all(char in "0123456789abcdef" for char in key)
    assert "alice" not in key
    assert key == hashed_key("login", "alice@example.com")
    assert hashed_key("ab", "c") != hashed_key("a", "bc")


def test_factory_uses_redis_when_configured(settings: Settings) -> None:
    configured = settings.model_copy(update={"REDIS_URL": RATE_LIMIT_REDIS_URL})
    assert isinstance(get_rate_limiter(configured), RedisRateLimiter)
    assert get_rate_limiter(configured) is get_rate_limiter(configured)


def test_factory_falls_back_to_one_memory_limiter_per_process(settings: Settings) -> None:
    unconfigured = settings.model_copy(update={"REDIS_URL": None})
    limiter = get_rate_limiter(unconfigured)
    assert isinstance(limiter, MemoryRateLimiter)
    assert get_rate_limiter(unconfigured) is limiter


def request_from(client: tuple[str, int] | None) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "client": client})


def test_client_ip_comes_from_the_connection() -> None:
    assert get_client_ip(request_from(("203.0.113.7", 5000))) == "203.0.113.7"
    assert get_client_ip(request_from(None)) == "unknown"


AppFactory = Callable[[str | None], FastAPI]


@pytest.fixture
def limited_app(settings: Settings) -> Iterator[AppFactory]:
    scope = f"test-{uuid.uuid4().hex}"
    built: list[Settings] = []

    def build(redis_url: str | None) -> FastAPI:
        app_settings = settings.model_copy(
            update={"AUTH_RATE_LIMIT_PER_IP": 3, "REDIS_URL": redis_url}
        )
        built.append(app_settings)
        router = APIRouter()

        @router.get("/limited", dependencies=[Depends(limit_per_ip(scope))])
        def limited() -> dict[str, str]:
            return {"status": "ok"}

        app = create_app(app_settings)
        app.include_router(router)
        return app

    yield build
    for app_settings in built:
        for host in ("testclient", "198.51.100.1"):
            get_rate_limiter(app_settings).reset(hashed_key(scope, host))


@pytest.mark.parametrize("redis_url", [RATE_LIMIT_REDIS_URL, None], ids=["redis", "memory"])
def test_ip_limit_answers_429_with_retry_after(
    limited_app: AppFactory, redis_url: str | None
) -> None:
    with TestClient(limited_app(redis_url)) as client:
        statuses = [client.get("/limited").status_code for _ in range(4)]
        refused = client.get("/limited")

    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"] == {"retry_after_seconds": retry_after}


def test_ip_limit_counts_each_client_ip_separately(limited_app: AppFactory) -> None:
    app = limited_app(RATE_LIMIT_REDIS_URL)
    with TestClient(app) as first, TestClient(app, client=("198.51.100.1", 5000)) as second:
        assert [first.get("/limited").status_code for _ in range(4)][-1] == 429
        assert second.get("/limited").status_code == 200
