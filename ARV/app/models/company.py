import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.core.permissions import Role
from app.models.base import (
    Base,
    SchemaJSON,
    SoftDeletable,
    TenantOwned,
    Timestamped,
    UUIDPrimaryKey,
    string_enum,
)
from app.models.user import EMAIL_MAX_LENGTH, User
from app.schemas.company_settings import CompanySettings

ROLE_TYPE = string_enum(Role, "role")


class Plan(StrEnum):
    """The plans there are; their limits are rows of `plans` (`PlanDefinition`). Stored checked:
    the database refuses any other value (adding a plan takes a migration)."""

    FREE = "free"
    PRO = "pro"
    BUSINESS = "business"


class Company(UUIDPrimaryKey, Timestamped, SoftDeletable, Base):
    __tablename__ = "companies"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    plan: Mapped[Plan] = mapped_column(
        string_enum(Plan, "plan", length=32, checked=True), default=Plan.FREE
    )
    settings: Mapped[CompanySettings] = mapped_column(
        SchemaJSON(CompanySettings), default=CompanySettings
    )

    @validates("plan")
    def _known_plan(self, _key: str, plan: str) -> Plan:
        return Plan(plan)  # ValueError, at assignment, for a plan that does not exist

    @validates("settings")
    def _valid_settings(self, _key: str, settings: object) -> CompanySettings:
        # In memory too, `settings` is the model, whatever was assigned.
        return CompanySettings.model_validate(settings)


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
