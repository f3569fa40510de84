"""Per-client-IP rate limits for the unauthenticated endpoints.

`limit_per_ip(scope)` builds a dependency that counts one request per call and answers
429 with `Retry-After` once a client IP has made AUTH_RATE_LIMIT_PER_IP requests within
AUTH_RATE_LIMIT_WINDOW_SECONDS, counted exactly in Redis (or, with `rule=VIEWER_RULE`, the
VIEWER_RATE_LIMIT_* pair, counted in each process and shared through Redis a few times a
second: `core/batched_rate_limit.py`; the public hot path never waits on Redis).
Each scope is counted separately, so a client that exhausts "login" can still reach
"password-reset". Scopes in use: "login", "register", "password-reset", "refresh",
"oauth-login", "oauth-callback", and with the viewer rule "viewer-events" (playback and scan
events), "viewer-manifest", "viewer-bundle" (offline packs), "viewer-page" and "viewer-codes"
(QR codes, printable sheets).

    @router.post("/login", dependencies=[Depends(limit_per_ip("login"))])

The client IP is `request.client.host`: uvicorn's `--proxy-headers` has already replaced
it with the X-Forwarded-For address when the request came through a trusted proxy.
"""

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from app.api.deps import SettingsDep, get_client_ip
from app.api.openapi import raises
from app.core.batched_rate_limit import get_batched_rate_limiter
from app.core.config import Settings
from app.core.exceptions import RateLimitedError, ServiceUnavailableError
from app.core.rate_limit import HitCounter, get_rate_limiter, hashed_key


@dataclass(frozen=True, slots=True)
class IpRule:
    """How many requests an address may make in how many seconds, and what counts them."""

    limits: Callable[[Settings], tuple[int, int]]
    counter: Callable[[Settings], HitCounter]


AUTH_RULE = IpRule(
    lambda s: (s.AUTH_RATE_LIMIT_PER_IP, s.AUTH_RATE_LIMIT_WINDOW_SECONDS), get_rate_limiter
)
VIEWER_RULE = IpRule(
    lambda s: (s.VIEWER_RATE_LIMIT_PER_IP, s.VIEWER_RATE_LIMIT_WINDOW_SECONDS),
    get_batched_rate_limiter,
)


def limit_per_ip(
    scope: str, rule: IpRule = AUTH_RULE
) -> Callable[[Settings, Request], Coroutine[Any, Any, None]]:
    """Async: counting never takes a trip through the threadpool."""

    @raises(RateLimitedError, ServiceUnavailableError)
    async def enforce_ip_rate_limit(settings: SettingsDep, request: Request) -> None:
        limit, window_seconds = rule.limits(settings)
        decision = await rule.counter(settings).hit_async(
            hashed_key(scope, get_client_ip(request)), limit=limit, window_seconds=window_seconds
        )
        if not decision.allowed:
            raise RateLimitedError(decision.retry_after_seconds)

    return enforce_ip_rate_limit
