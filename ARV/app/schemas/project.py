"""Projects, their templates and who may see a restricted one."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field, model_validator

from app.models.project import DEFAULT_PUBLISH_THRESHOLD, ProjectAccess, ProjectStatus
from app.schemas.common import RequestSchema, ResponseSchema
from app.schemas.scan_analytics import ScanFigures
from app.schemas.scene import SceneSettings

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000
MARKER_WIDTH_MM = (20, 5000)

MarkerWidthMm = Annotated[
    int,
    Field(
        ge=MARKER_WIDTH_MM[0],
        le=MARKER_WIDTH_MM[1],
        description="Printed width in millimetres (20-5,000): native trackers need it.",
    ),
]
THRESHOLD = "The lowest trackability score (0-100) a marker needs to be published."


class _RequiredNotCleared(RequestSchema):
    @model_validator(mode="after")
    def _required_fields_not_cleared(self) -> "_RequiredNotCleared":
        for field in ("name", "publish_threshold", "default_scene"):
            if field in self.model_fields_set and getattr(self, field, None) is None:
                raise ValueError(f"{field} cannot be null; leave it out to keep it.")
        return self


class DefaultsWrite(RequestSchema):
    default_scene: SceneSettings | None = Field(
        default=None, description="Scene settings new contents start with."
    )
    default_marker_width_mm: MarkerWidthMm | None = None
    publish_threshold: int | None = Field(default=None, ge=0, le=100, description=THRESHOLD)


class ProjectCreate(DefaultsWrite):
    """Defaults left out come from `template_id` when given, else the platform's."""

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH)
    template_id: uuid.UUID | None = Field(default=None, description="A template of this company.")


class ProjectUpdate(DefaultsWrite, _RequiredNotCleared):
    """Fields left out keep their value; a null `description` or marker width clears it."""

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH)


class DefaultsResponse(ResponseSchema):
    default_scene: SceneSettings
    default_marker_width_mm: int | None
    publish_threshold: int = Field(description=THRESHOLD, examples=[DEFAULT_PUBLISH_THRESHOLD])


class ProjectResponse(DefaultsResponse):
    id: uuid.UUID
    name: str
    description: str | None
    status: ProjectStatus
    restricted: bool = Field(
        description="Seen only by owners, admins and the members granted access."
    )
    template_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ProjectAccessWrite(RequestSchema):
    restricted: bool


class ProjectGrantWrite(RequestSchema):
    access: ProjectAccess = Field(
        description="`editor` or `viewer`; never more than the member's company role."
    )


class ProjectGrantResponse(ResponseSchema):
    user_id: uuid.UUID
    email: EmailStr
    access: ProjectAccess
    created_at: datetime


class ProjectSummary(ResponseSchema):
    project_id: uuid.UUID
    contents_total: int
    contents_by_status: dict[str, int] = Field(
        description="Every content status, with zero where there are none."
    )
    scans: ScanFigures | None = Field(
        description="Scan totals of the last 30 days (`GET .../stats` has them by day and "
        "by content); null on plans without analytics."
    )


class TemplateCreate(DefaultsWrite):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH)


class TemplateUpdate(DefaultsWrite, _RequiredNotCleared):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH)


class TemplateResponse(DefaultsResponse):
    id: uuid.UUID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
