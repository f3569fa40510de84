"""Redis clients, one connection pool per URL per process."""

from functools import lru_cache

import redis

SOCKET_TIMEOUT_SECONDS = 2.0


@lru_cache
def get_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
    )
