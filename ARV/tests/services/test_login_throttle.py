import logging

import pytest
import redis

from app.core.config import Settings
from app.core.exceptions import RateLimitedError
from app.core.logging import JsonFormatter
from app.core.rate_limit import RateLimiter, RedisRateLimiter
from app.services.login_throttle import LOCKED_MESSAGE, LoginThrottle, account_key
from tests.support.rate_limiting import FakeClock

EMAIL = "Alice.Lock@Example.com"
MAX_FAILURES = 3
FAILURE_WINDOW = 60
LOCKOUT = 120


@pytest.fixture
def throttle(limiter: RateLimiter, settings: Settings) -> LoginThrottle:
    throttle_settings = settings.model_copy(
        update={
            "LOGIN_MAX_FAILURES": MAX_FAILURES,
            "LOGIN_FAILURE_WINDOW_SECONDS": FAILURE_WINDOW,
            "LOGIN_LOCKOUT_SECONDS": LOCKOUT,
        }
    )
    return LoginThrottle(limiter, throttle_settings)


def fail(throttle: LoginThrottle, times: int, email: str = EMAIL) -> None:
    for _ in range(times):
        throttle.record_failure(email)


def is_locked(throttle: LoginThrottle, email: str = EMAIL) -> bool:
    try:
        throttle.ensure_not_locked(email)
    except RateLimitedError:
        return True
    return False


def test_max_failures_lock_the_account(throttle: LoginThrottle) -> None:
    fail(throttle, MAX_FAILURES - 1)
    assert not is_locked(throttle)
    fail(throttle, 1)

    with pytest.raises(RateLimitedError) as raised:
        throttle.ensure_not_locked(EMAIL)
    assert raised.value.message == LOCKED_MESSAGE
    assert raised.value.details == {"retry_after_seconds": LOCKOUT}
    assert raised.value.headers == {"Retry-After": str(LOCKOUT)}


def test_retry_after_counts_down(throttle: LoginThrottle, clock: FakeClock) -> None:
    fail(throttle, MAX_FAILURES)
    clock.advance(100)
    with pytest.raises(RateLimitedError) as raised:
        throttle.ensure_not_locked(EMAIL)
    assert raised.value.details == {"retry_after_seconds": LOCKOUT - 100}


def test_email_is_normalised(throttle: LoginThrottle) -> None:
    throttle.record_failure("  alice.lock@example.com")
    throttle.record_failure("ALICE.LOCK@EXAMPLE.COM ")
    throttle.record_failure(EMAIL)
    assert is_locked(throttle, " alice.lock@EXAMPLE.com ")


def test_other_accounts_are_not_locked(throttle: LoginThrottle) -> None:
    fail(throttle, MAX_FAILURES)
    assert is_locked(throttle)
    assert not is_locked(throttle, "bob@example.com")


def test_success_before_the_limit_resets_the_count(throttle: LoginThrottle) -> None:
    fail(throttle, MAX_FAILURES - 1)
    throttle.record_success(EMAIL)
    fail(throttle, MAX_FAILURES - 1)
    assert not is_locked(throttle)
    fail(throttle, 1)
    assert is_locked(throttle)


def test_success_does_not_lift_an_active_lock(throttle: LoginThrottle) -> None:
    fail(throttle, MAX_FAILURES)
    throttle.record_success(EMAIL)
    assert is_locked(throttle)


def test_failures_outside_the_window_are_forgotten(
    throttle: LoginThrottle, clock: FakeClock
) -> None:
    fail(throttle, MAX_FAILURES - 1)
    clock.advance(FAILURE_WINDOW)
    fail(throttle, MAX_FAILURES - 1)
    assert not is_locked(throttle)


def test_lock_expires_and_attempts_start_afresh(throttle: LoginThrottle, clock: FakeClock) -> None:
    fail(throttle, MAX_FAILURES)
    clock.advance(LOCKOUT - 1)
    assert is_locked(throttle)
    clock.advance(1)
    assert not is_locked(throttle)
    fail(throttle, MAX_FAILURES - 1)
    assert not is_locked(throttle)
    fail(throttle, 1)
    assert is_locked(throttle)


def test_lock_is_logged_without_the_email(
    throttle: LoginThrottle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app.services.login_throttle")
    fail(throttle, MAX_FAILURES)

    [record] = [r for r in caplog.records if r.getMessage() == "account temporarily locked"]
    assert record.levelno == logging.WARNING
    assert record.__dict__["account"] == account_key(EMAIL)
    assert record.__dict__["lockout_seconds"] == LOCKOUT
    logged = caplog.text + JsonFormatter().format(record) + repr(record.__dict__)
    for form in (EMAIL, EMAIL.lower(), "alice.lock"):
        assert form.lower() not in logged.lower()


def test_no_email_in_redis_keys(
    settings: Settings, redis_client: redis.Redis, redis_prefix: str, clock: FakeClock
) -> None:
    throttle = LoginThrottle(
        RedisRateLimiter(redis_client, prefix=redis_prefix, clock=clock), settings
    )
    fail(throttle, settings.LOGIN_MAX_FAILURES + 1)

    keys = [key.decode() for key in redis_client.scan_iter(match=f"{redis_prefix}*")]
    assert len(keys) == 2  # the lock, and one failure counted after it
    assert all("alice" not in key.lower() for key in keys)
