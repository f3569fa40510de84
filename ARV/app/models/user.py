import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped, UUIDPrimaryKey, string_enum

EMAIL_MAX_LENGTH = 320


class Language(StrEnum):
    """The languages the emails are written in."""

    EN = "en"
    RU = "ru"


class User(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "users"

    # Stored normalised (trimmed, lower-case), so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True)
    hashed_password: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    email_verified_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    language: Mapped[Language] = mapped_column(
        string_enum(Language, "language", length=8), default=Language.EN, server_default="en"
    )

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None


class UserIdentity(UUIDPrimaryKey, Timestamped, Base):
    """A login at an external provider (Yandex), linked by the provider's stable user id."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX_LENGTH))
