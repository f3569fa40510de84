"""Removal of sign-in records nobody can use any more, so those tables stay small."""

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from app.models.auth import AuthSession, OAuthState, OneTimeToken

# Ended sessions stay listed in the database for a while, for investigating incidents.
ENDED_SESSION_RETENTION = timedelta(days=7)


def purge_expired_auth_records(db: Session, now: datetime) -> dict[str, int]:
    """Delete expired OAuth states and single-use tokens, and sessions that ended (expired
    or revoked) over a week ago; their refresh tokens go with them (ON DELETE CASCADE)."""
    ended_before = now - ENDED_SESSION_RETENTION
    statements = {
        "oauth_states": delete(OAuthState).where(OAuthState.expires_at < now),
        "one_time_tokens": delete(OneTimeToken).where(OneTimeToken.expires_at < now),
        "auth_sessions": delete(AuthSession).where(
            or_(AuthSession.expires_at < ended_before, AuthSession.revoked_at < ended_before)
        ),
    }
    return {
        table: len(db.scalars(statement.returning(statement.table.c.id)).all())
        for table, statement in statements.items()
    }
