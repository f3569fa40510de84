import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from app.models.ar_content import ContentStatus
from app.models.video import VideoStatus
from app.schemas.common import RequestSchema, ResponseSchema
from app.schemas.scene import SceneSettings
from app.utils.timezones import zone

NAME_MAX_LENGTH = 200
PRIORITY_BOUND = 1000
WINDOW_EDGE = (
    "ISO 8601. With an offset (`2026-12-24T18:00:00+03:00`) it is that instant; without "
    "one it is wall-clock time in `timezone`. Null: no bound."
)


class ARContentCreate(RequestSchema):
    title: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=2000)
    scene: SceneSettings | None = Field(
        default=None, description="Left out: the project's default scene settings."
    )


class ARContentUpdate(RequestSchema):
    """Fields left out keep their value; a null `description` clears it."""

    title: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=2000)
    scene: SceneSettings | None = Field(default=None, description="Replaces the settings whole.")

    @model_validator(mode="after")
    def _required_not_cleared(self) -> "ARContentUpdate":
        for field in ("title", "scene"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null; leave it out to keep it.")
        return self


class ARContentResponse(ResponseSchema):
    id: uuid.UUID
    project_id: uuid.UUID
    public_id: str = Field(
        description="What QR codes and viewer links carry: 12 URL-safe characters, "
        "unguessable, the same for every published version."
    )
    title: str
    description: str | None
    status: ContentStatus
    scene: SceneSettings
    created_at: datetime
    updated_at: datetime


# Years a schedule can sensibly name; also keeps every zone conversion inside datetime's range.
FIRST_YEAR, LAST_YEAR = 1970, 2999


def _within_years(value: datetime | None) -> datetime | None:
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"Pick a time between the years {FIRST_YEAR} and {LAST_YEAR}.")
    return value


WindowEdge = Annotated[datetime | None, AfterValidator(_within_years)]


def _known_zone(name: str) -> str:
    zone(name)
    return name


TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_known_zone),
    Field(description="IANA zone the window is written in, and shown back in."),
]


class ScheduleWrite(RequestSchema):
    """An entry of the schedule, written whole (on create and on replace)."""

    video_id: uuid.UUID = Field(description="A video of this company.")
    starts_at: WindowEdge = Field(default=None, description=WINDOW_EDGE)
    ends_at: WindowEdge = Field(default=None, description=WINDOW_EDGE + " Exclusive.")
    timezone: TimeZoneName = "UTC"
    priority: int = Field(
        default=0,
        ge=-PRIORITY_BOUND,
        le=PRIORITY_BOUND,
        description="Where windows overlap, the higher priority plays. Overlapping windows "
        "of equal priority are refused.",
    )


class ScheduledVideoSummary(ResponseSchema):
    id: uuid.UUID
    title: str
    status: VideoStatus
    duration_seconds: float | None


class ScheduledVideoResponse(ResponseSchema):
    id: uuid.UUID
    ar_content_id: uuid.UUID
    video: ScheduledVideoSummary
    starts_at: datetime | None = Field(description="In `timezone`; null: since ever.")
    ends_at: datetime | None = Field(description="In `timezone`, exclusive; null: for ever.")
    timezone: str
    priority: int
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _edges_in_own_zone(self) -> "ScheduledVideoResponse":
        tz = zone(self.timezone)
        self.starts_at = self.starts_at.astimezone(tz) if self.starts_at else None
        self.ends_at = self.ends_at.astimezone(tz) if self.ends_at else None
        return self


class ActiveVideoResponse(ResponseSchema):
    at: datetime
    scheduled: ScheduledVideoResponse | None = Field(
        description="The entry that plays at `at`, or null when none does. Only videos "
        "that play (status `playable` or `ready`) are considered."
    )
    next_change_at: datetime | None = Field(
        description="The next window edge after `at`, when the answer may change; "
        "null when none is scheduled. Viewer apps may cache the answer until then."
    )
