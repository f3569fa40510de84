import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey, string_enum
from app.utils.clock import utcnow


class ActorKind(StrEnum):
    """Who acts (see `services.context`)."""

    MEMBER = "member"  # a user, for themselves or in a company they belong to
    SUPPORT = "support"  # a platform superuser in a company they do not belong to
    SYSTEM = "system"  # a task, beat, an operator command, a verified webhook
    PUBLIC = "public"  # someone without identity: a viewer, a sign-in for no known account


class AuditLog(UUIDPrimaryKey, Base):
    """Who did what to which entity. `company_id` is empty for account-level events
    (login, password change), which belong to the user rather than a tenant."""

    __tablename__ = "audit_logs"
    __table_args__ = (Index("ix_audit_logs_company_created", "company_id", "created_at"),)

    company_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE")
    )
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    actor_kind: Mapped[ActorKind] = mapped_column(
        string_enum(ActorKind, "actor_kind"), server_default=ActorKind.MEMBER.value
    )
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
