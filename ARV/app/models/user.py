from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped, UUIDPrimaryKey

EMAIL_MAX_LENGTH = 320


class User(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "users"

    # Stored normalised (trimmed, lower-case), so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True)
    hashed_password: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    email_verified_at: Mapped[datetime | None]
