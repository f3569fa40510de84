"""Per-account sign-in lock-out: after LOGIN_MAX_FAILURES failed attempts within
LOGIN_FAILURE_WINDOW_SECONDS the account is locked for LOGIN_LOCKOUT_SECONDS.

The lock expires by itself and a fresh set of attempts starts after it. Accounts are
identified by a hash of the normalised email, in storage and in logs alike.

    throttle = LoginThrottle(get_rate_limiter(settings), settings)
    throttle.ensure_not_locked(email)      # before checking the password
    throttle.record_failure(email)         # wrong password or unknown account
    throttle.record_success(email)
"""

import logging

from app.core.config import Settings
from app.core.exceptions import SignInLockedError
from app.core.rate_limit import RateLimiter, hashed_key

logger = logging.getLogger(__name__)

LOCKED_MESSAGE = "Too many failed sign-in attempts; try again later."


def account_key(email: str) -> str:
    return hashed_key("account", email.strip().lower())


class LoginThrottle:
    def __init__(self, limiter: RateLimiter, settings: Settings) -> None:
        self._limiter = limiter
        self._max_failures = settings.LOGIN_MAX_FAILURES
        self._failure_window = settings.LOGIN_FAILURE_WINDOW_SECONDS
        self._lockout_seconds = settings.LOGIN_LOCKOUT_SECONDS

    def ensure_not_locked(self, email: str) -> None:
        retry_after = self._limiter.blocked_for(_lock_key(account_key(email)))
        if retry_after:
            raise SignInLockedError(retry_after, message=LOCKED_MESSAGE)

    def record_failure(self, email: str) -> None:
        account = account_key(email)
        decision = self._limiter.hit(
            _failures_key(account), limit=self._max_failures, window_seconds=self._failure_window
        )
        if decision.allowed and decision.remaining > 0:
            return
        self._lock(account)

    def record_success(self, email: str) -> None:
        self._limiter.reset(_failures_key(account_key(email)))

    def _lock(self, account: str) -> None:
        self._limiter.block(_lock_key(account), self._lockout_seconds)
        self._limiter.reset(_failures_key(account))
        logger.warning(
            "account temporarily locked",
            extra={"account": account, "lockout_seconds": self._lockout_seconds},
        )


def _failures_key(account: str) -> str:
    return f"login-failures:{account}"


def _lock_key(account: str) -> str:
    return f"login-lock:{account}"
