import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.permissions import Role
from app.models.base import (
    Base,
    SoftDeletable,
    TenantOwned,
    Timestamped,
    UUIDPrimaryKey,
    string_enum,
)
from app.models.user import EMAIL_MAX_LENGTH, User

ROLE_TYPE = string_enum(Role, "role")


class Company(UUIDPrimaryKey, Timestamped, SoftDeletable, Base):
    __tablename__ = "companies"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    plan: Mapped[str] = mapped_column(String(32), default="free")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Membership(UUIDPrimaryKey, TenantOwned, Timestamped, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("company_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(ROLE_TYPE)

    user: Mapped[User] = relationship(lazy="raise")


class Invitation(UUIDPrimaryKey, TenantOwned, Timestamped, Base):
    __tablename__ = "invitations"
    __table_args__ = (
        # At most one open invitation per address and company.
        Index(
            "uq_invitations_open_email",
            "company_id",
            "email",
            unique=True,
            postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
            sqlite_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
        ),
    )

    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    role: Mapped[Role] = mapped_column(ROLE_TYPE)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    sent_count: Mapped[int] = mapped_column(default=1)
