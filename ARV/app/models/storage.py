"""Files a company stored: marker images, video originals and any other upload."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import (
    Base,
    SoftDeletable,
    TenantOwned,
    Timestamped,
    UUIDPrimaryKey,
    string_enum,
)


class FileStatus(StrEnum):
    # Bytes are on their way; `size_bytes` holds the quota reserved for them.
    UPLOADING = "uploading"
    AVAILABLE = "available"


class StoredFile(UUIDPrimaryKey, TenantOwned, Timestamped, SoftDeletable, Base):
    """One object in storage. A row counts against the company's quota from the moment an
    upload reserves it until it is deleted; `purged_at` marks its bytes removed."""

    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_company_id_status", "company_id", "status"),
        Index("ix_files_status_upload_expires_at", "status", "upload_expires_at"),
    )

    status: Mapped[FileStatus] = mapped_column(string_enum(FileStatus, "file_status"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(1024), unique=True)
    # Direct (multipart) uploads only: the provider's upload id and the part size agreed.
    upload_id: Mapped[str | None] = mapped_column(String(1024))
    part_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    upload_expires_at: Mapped[datetime | None]
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    purged_at: Mapped[datetime | None]
