"""Every model, imported so `Base.metadata` is complete for Alembic and the tests."""

from app.models.audit import AuditLog
from app.models.auth import AuthSession, OAuthState, OneTimeToken, RefreshToken, TokenPurpose
from app.models.base import Base
from app.models.company import Company, Invitation, Membership
from app.models.user import User, UserIdentity

__all__ = [
    "AuditLog",
    "AuthSession",
    "Base",
    "Company",
    "Invitation",
    "Membership",
    "OAuthState",
    "OneTimeToken",
    "RefreshToken",
    "TokenPurpose",
    "User",
    "UserIdentity",
]
