"""Per-client-IP rate limits for the unauthenticated auth endpoints.

`limit_per_ip(scope)` builds a dependency that counts one request per call and answers
429 with `Retry-After` once a client IP has made AUTH_RATE_LIMIT_PER_IP requests within
AUTH_RATE_LIMIT_WINDOW_SECONDS. Each scope is counted separately, so a client that
exhausts "login" can still reach "password-reset". Scopes in use: "login", "register",
"password-reset", "refresh", "oauth-login", "oauth-callback".

    @router.post("/login", dependencies=[Depends(limit_per_ip("login"))])

The client IP is `request.client.host`: uvicorn's `--proxy-headers` has already replaced
it with the X-Forwarded-For address when the request came through a trusted proxy.
"""

from collections.abc import Callable

from app.api.deps import ClientIp, SettingsDep
from app.core.config import Settings
from app.core.exceptions import RateLimitedError
from app.core.rate_limit import get_rate_limiter, hashed_key


def limit_per_ip(scope: str) -> Callable[[Settings, str], None]:
    def enforce_ip_rate_limit(settings: SettingsDep, client_ip: ClientIp) -> None:
        decision = get_rate_limiter(settings).hit(
            hashed_key(scope, client_ip),
            limit=settings.AUTH_RATE_LIMIT_PER_IP,
            window_seconds=settings.AUTH_RATE_LIMIT_WINDOW_SECONDS,
        )
        if not decision.allowed:
            raise RateLimitedError(decision.retry_after_seconds)

    return enforce_ip_rate_limit
