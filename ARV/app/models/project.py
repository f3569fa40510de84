"""Projects: how a company organises its AR contents, the templates new projects copy
their defaults from, and who may see a restricted project."""

import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from app.models.base import (
    Base,
    SchemaJSON,
    SoftDeletable,
    TenantOwned,
    Timestamped,
    UUIDPrimaryKey,
    string_enum,
)
from app.models.user import User
from app.schemas.scene import SceneSettings


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    # Read-only, with everything in it, until unarchived.
    ARCHIVED = "archived"


class ProjectAccess(StrEnum):
    """What a member granted access to a restricted project may do there (never more than
    their company role allows)."""

    EDITOR = "editor"
    VIEWER = "viewer"


DEFAULT_PUBLISH_THRESHOLD = 60


class ProjectDefaults:
    """What a template holds and a project created from it copies."""

    default_scene: Mapped[SceneSettings] = mapped_column(
        SchemaJSON(SceneSettings), default=SceneSettings
    )
    default_marker_width_mm: Mapped[int | None]
    # The lowest trackability score (0-100) a marker needs to be published.
    publish_threshold: Mapped[int] = mapped_column(default=DEFAULT_PUBLISH_THRESHOLD)


class ProjectTemplate(UUIDPrimaryKey, TenantOwned, ProjectDefaults, Timestamped, Base):
    __tablename__ = "project_templates"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)


class Project(UUIDPrimaryKey, TenantOwned, ProjectDefaults, Timestamped, SoftDeletable, Base):
    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ProjectStatus] = mapped_column(
        string_enum(ProjectStatus, "project_status"), default=ProjectStatus.ACTIVE, index=True
    )
    # Seen only by owners, admins and the members granted access (`ProjectGrant`).
    restricted: Mapped[bool] = mapped_column(default=False)
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("project_templates.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def is_archived(self) -> bool:
        return self.status is ProjectStatus.ARCHIVED


class ProjectGrant(TenantOwned, Timestamped, Base):
    """A member's access to a restricted project."""

    __tablename__ = "project_grants"

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    access: Mapped[ProjectAccess] = mapped_column(string_enum(ProjectAccess, "project_access"))

    user: Mapped[User] = relationship(lazy="raise")


class InProject:
    """Rows that live in a project: a member who may not see the project sees none of
    them (`services.tenant.readable`)."""

    @declared_attr
    def project_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
