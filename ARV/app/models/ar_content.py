"""AR content (a marker that plays a video when a viewer app sees it) and its video
schedule: which video plays over the marker, when."""

import secrets
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    and_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import (
    Base,
    PubliclyReadable,
    SchemaJSON,
    SoftDeletable,
    TenantOwned,
    Timestamped,
    UUIDPrimaryKey,
    string_enum,
)
from app.models.project import InProject, Project
from app.models.video import Video
from app.schemas.scene import SceneSettings

# 9 random bytes: 72 bits, 12 URL-safe characters.
PUBLIC_ID_BYTES = 9
PUBLIC_ID_LENGTH = 12


def new_public_id() -> str:
    return secrets.token_urlsafe(PUBLIC_ID_BYTES)


class ContentStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"
    ARCHIVED = "archived"


class ARContent(
    UUIDPrimaryKey, TenantOwned, InProject, Timestamped, SoftDeletable, PubliclyReadable, Base
):
    __tablename__ = "ar_contents"

    @classmethod
    def public_rows(cls) -> ColumnElement[bool]:
        """Viewers see a content while it is published, in a project that is not deleted
        (an archived project's contents stay on the air); never a draft."""
        live_projects = select(Project.id).where(Project.deleted_at.is_(None))
        return and_(
            cls.status == ContentStatus.PUBLISHED,
            cls.published_version.is_not(None),
            cls.project_id.in_(live_projects),
        )

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # What QR codes and viewer links carry: unguessable, and the same for every version.
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), unique=True, index=True, default=new_public_id
    )
    status: Mapped[ContentStatus] = mapped_column(
        string_enum(ContentStatus, "content_status"), default=ContentStatus.DRAFT, index=True
    )
    scene: Mapped[SceneSettings] = mapped_column(SchemaJSON(SceneSettings), default=SceneSettings)
    # The version viewers are served while the content is published (`ARContentVersion`).
    published_version: Mapped[int | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class ScheduledVideo(UUIDPrimaryKey, TenantOwned, Timestamped, Base):
    """A video attached to an AR content for a half-open window [starts_at, ends_at).

    An open end means "since forever" or "for ever". Where two windows overlap, the higher
    `priority` plays; overlapping windows of equal priority are refused when written."""

    __tablename__ = "scheduled_videos"
    __table_args__ = (
        CheckConstraint(
            "starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at", name="window_order"
        ),
    )

    ar_content_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ar_contents.id", ondelete="CASCADE"), index=True
    )
    video_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    # The IANA zone the window was written in: how it is shown back, not how it is stored.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    priority: Mapped[int] = mapped_column(default=0)

    video: Mapped[Video] = relationship(lazy="raise")


class ARContentVersion(UUIDPrimaryKey, TenantOwned, InProject, Timestamped, PubliclyReadable, Base):
    """What one publish froze: the marker (its row is immutable), and a snapshot of the
    title, scene settings and schedule. Never changed once written; a rollback writes a
    new version equal to an old one."""

    __tablename__ = "ar_content_versions"
    __table_args__ = (UniqueConstraint("ar_content_id", "number"),)

    ar_content_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ar_contents.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    marker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("markers.id", ondelete="RESTRICT"))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # Set on a rollback: the version this one copies.
    copied_from: Mapped[int | None]

    @classmethod
    def served_by_its_content(cls) -> ColumnElement[bool]:
        """Joins a content to the version it serves (`published_version`)."""
        return and_(cls.ar_content_id == ARContent.id, cls.number == ARContent.published_version)

    @classmethod
    def public_rows(cls) -> ColumnElement[bool]:
        """Of each content viewers see, the one version it serves."""
        return (
            select(ARContent.id)
            .where(
                ARContent.public_rows(),
                ARContent.deleted_at.is_(None),
                cls.served_by_its_content(),
            )
            .exists()
        )


class ARContentVersionVideo(TenantOwned, Base):
    """The videos a version schedules, so a video a published version plays cannot be
    deleted from under it."""

    __tablename__ = "ar_content_version_videos"

    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ar_content_versions.id", ondelete="CASCADE"), primary_key=True
    )
    # No cascade: a video a version plays is never removed from under it (deleting a
    # company removes both in one statement, which the default NO ACTION allows).
    video_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("videos.id"), primary_key=True, index=True
    )
