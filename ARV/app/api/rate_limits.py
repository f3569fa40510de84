"""Per-client-IP rate limits for the unauthenticated endpoints.

`limit_per_ip(scope)` builds a dependency that counts one request per call and answers
429 with `Retry-After` once a client IP has made AUTH_RATE_LIMIT_PER_IP requests within
AUTH_RATE_LIMIT_WINDOW_SECONDS (or, with `rule=viewer_rule`, the VIEWER_RATE_LIMIT_*
pair). Each scope is counted separately, so a client that exhausts "login" can still reach
"password-reset". Scopes in use: "login", "register", "password-reset", "refresh",
"oauth-login", "oauth-callback", and with the viewer rule "viewer-events" (playback and scan
events), "viewer-manifest", "viewer-bundle" (offline packs), "viewer-page" and "viewer-codes"
(QR codes, printable sheets).

    @router.post("/login", dependencies=[Depends(limit_per_ip("login"))])

The client IP is `request.client.host`: uvicorn's `--proxy-headers` has already replaced
it with the X-Forwarded-For address when the request came through a trusted proxy.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request

from app.api.deps import SettingsDep, get_client_ip
from app.api.openapi import raises
from app.core.config import Settings
from app.core.exceptions import RateLimitedError, ServiceUnavailableError
from app.core.rate_limit import get_rate_limiter, hashed_key


def _auth_rule(settings: Settings) -> tuple[int, int]:
    return settings.AUTH_RATE_LIMIT_PER_IP, settings.AUTH_RATE_LIMIT_WINDOW_SECONDS


def viewer_rule(settings: Settings) -> tuple[int, int]:
    return settings.VIEWER_RATE_LIMIT_PER_IP, settings.VIEWER_RATE_LIMIT_WINDOW_SECONDS


def limit_per_ip(
    scope: str, rule: Callable[[Settings], tuple[int, int]] = _auth_rule
) -> Callable[[Settings, Request], Coroutine[Any, Any, None]]:
    """`rule` gives (requests allowed, window in seconds) from the settings. Async: the
    count costs a Redis round trip on the event loop, never a trip through the threadpool
    (the viewer routes are the public hot path)."""

    @raises(RateLimitedError, ServiceUnavailableError)
    async def enforce_ip_rate_limit(settings: SettingsDep, request: Request) -> None:
        limit, window_seconds = rule(settings)
        decision = await get_rate_limiter(settings).hit_async(
            hashed_key(scope, get_client_ip(request)), limit=limit, window_seconds=window_seconds
        )
        if not decision.allowed:
            raise RateLimitedError(decision.retry_after_seconds)

    return enforce_ip_rate_limit
