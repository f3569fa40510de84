from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.background_tasks.celery_app import create_celery_app
from app.background_tasks.names import AUTH_PURGE_EXPIRED
from app.core.config import Settings
from app.core.security import hash_token, new_opaque_token
from app.models import AuthSession, OAuthState, OneTimeToken, RefreshToken, TokenPurpose
from app.services.auth_cleanup_service import purge_expired_auth_records
from app.utils.clock import utcnow
from tests.support.factories import make_user


def test_only_unusable_records_are_purged(db: Session) -> None:
    now = utcnow()
    user = make_user(db)

    def session(expires_in: timedelta, revoked_ago: timedelta | None = None) -> AuthSession:
        record = AuthSession(
            user_id=user.id,
            expires_at=now + expires_in,
            revoked_at=now - revoked_ago if revoked_ago else None,
        )
        db.add(record)
        db.flush()
        db.add(RefreshToken(session_id=record.id, token_hash=hash_token(new_opaque_token())))
        return record

    live = session(timedelta(days=10))
    recently_revoked = session(timedelta(days=10), revoked_ago=timedelta(days=1))
    long_revoked = session(timedelta(days=10), revoked_ago=timedelta(days=8))
    long_expired = session(-timedelta(days=8))
    for minutes in (-1, 10):
        db.add(
            OAuthState(
                provider="yandex",
                state_hash=hash_token(new_opaque_token()),
                code_verifier="v" * 43,
                expires_at=now + timedelta(minutes=minutes),
            )
        )
        db.add(
            OneTimeToken(
                user_id=user.id,
                purpose=TokenPurpose.VERIFY_EMAIL,
                token_hash=hash_token(new_opaque_token()),
                expires_at=now + timedelta(minutes=minutes),
            )
        )
    db.flush()

    deleted = purge_expired_auth_records(db, now)

    assert deleted["oauth_states"] >= 1
    assert deleted["one_time_tokens"] >= 1
    remaining = set(db.scalars(select(AuthSession.id).where(AuthSession.user_id == user.id)))
    assert remaining == {live.id, recently_revoked.id}
    assert long_revoked.id not in remaining
    assert long_expired.id not in remaining
    assert db.scalar(select(OAuthState.id).where(OAuthState.expires_at < now)) is None
    tokens = set(db.scalars(select(RefreshToken.session_id)))
    assert {live.id, recently_revoked.id} <= tokens
    assert long_revoked.id not in tokens
    assert purge_expired_auth_records(db, now) == {
        "oauth_states": 0,
        "one_time_tokens": 0,
        "auth_sessions": 0,
    }


def test_beat_runs_the_purge_hourly(settings: Settings) -> None:
    schedule = create_celery_app(settings).conf.beat_schedule
    entry = schedule["purge-expired-auth-records"]
    assert entry["task"] == AUTH_PURGE_EXPIRED
    assert entry["schedule"] == 3600.0
