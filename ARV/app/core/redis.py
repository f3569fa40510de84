"""Redis clients: sync ones, one connection pool per URL per process; asyncio ones, one
pool per URL per event loop."""

import asyncio
import weakref
from functools import lru_cache

import redis
import redis.asyncio as aioredis

SOCKET_TIMEOUT_SECONDS = 2.0


@lru_cache
def get_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


# A connection belongs to the loop that opened it: each loop gets its own clients.
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = (
    weakref.WeakKeyDictionary()
)


def get_async_redis(url: str) -> aioredis.Redis:
    """The client for `url` of the running event loop."""
    clients = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = clients.get(url)
    if client is None:
        client = clients[url] = aioredis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        )
    return client
