"""Publishing: the snapshot each publish freezes into a version, the versions as listed
and read, and how a version differs from the draft."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas.ar_content import ARContentResponse
from app.schemas.common import ResponseSchema
from app.schemas.scene import SceneSettings


class MarkerSnapshot(ResponseSchema):
    """The marker a version tracks (its row never changes once processed)."""

    id: uuid.UUID
    width_mm: int
    sha256: str | None
    score: int | None
    mind_key: str | None = Field(description="Storage key of the compiled MindAR target.")
    image_key: str | None = Field(description="Storage key of the normalised marker image.")


class ScheduleEntrySnapshot(ResponseSchema):
    """One entry of the schedule as it was published; `id` is the draft entry it was."""

    id: uuid.UUID
    video_id: uuid.UUID
    starts_at: datetime | None = Field(description="UTC; null: since ever.")
    ends_at: datetime | None = Field(description="UTC, exclusive; null: for ever.")
    timezone: str = Field(description="The IANA zone the window was written in.")
    priority: int


class Snapshot(ResponseSchema):
    """What a viewer is served: frozen into every version; the draft is compared with it."""

    title: str
    description: str | None
    scene: SceneSettings
    marker: MarkerSnapshot | None = Field(
        description="Always set in a version; null only for a draft without a marker."
    )
    schedule: list[ScheduleEntrySnapshot] = Field(
        description="Highest priority first, then by start."
    )


class Publisher(ResponseSchema):
    id: uuid.UUID
    email: str
    full_name: str


class VersionSummary(ResponseSchema):
    number: int = Field(description="1 for the first publish, then one more for each.")
    marker_id: uuid.UUID
    published_by: Publisher | None = Field(
        description="Who published it; null once their account is deleted."
    )
    copied_from: int | None = Field(description="Set on a rollback: the version it copies.")
    is_current: bool = Field(description="Whether viewers are served this version now.")
    created_at: datetime = Field(description="When it was published.")


class VersionResponse(VersionSummary):
    snapshot: Snapshot


class FieldChange(ResponseSchema):
    field: str = Field(
        description="`title`, `description`, `marker` (its id), or a scene setting by its "
        "path, e.g. `scene.placement.scale`."
    )
    version: Any = Field(description="The value in the version.")
    draft: Any = Field(description="The value in the draft.")


class ScheduleEntryChange(ResponseSchema):
    id: uuid.UUID
    version: ScheduleEntrySnapshot
    draft: ScheduleEntrySnapshot


class ScheduleDiff(ResponseSchema):
    added: list[ScheduleEntrySnapshot] = Field(description="In the draft, not in the version.")
    removed: list[ScheduleEntrySnapshot] = Field(description="In the version, not in the draft.")
    changed: list[ScheduleEntryChange] = Field(
        description="The same entry with another video, window, zone or priority."
    )


class VersionDiff(ResponseSchema):
    number: int
    identical: bool = Field(description="Whether publishing the draft would change nothing.")
    changes: list[FieldChange]
    schedule: ScheduleDiff


class ContentStateResponse(ARContentResponse):
    published_version: int | None = Field(
        description="The version viewers are served while the content is published; kept "
        "after unpublishing as the last one published."
    )
