"""AR contents, inside a project, and their video schedule: which video plays over the
marker, and when."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import AwareDatetime

from app.api.deps import PageParamsDep, project_service
from app.api.openapi import raises
from app.api.routes.projects import PROJECT
from app.core.exceptions import (
    ARContentLimitError,
    ContentArchivedError,
    ContentPublishedError,
    NotFoundError,
    ScheduleFullError,
    ScheduleOverlapError,
    ScheduleWindowError,
)
from app.core.permissions import Action
from app.models.ar_content import ContentStatus, ScheduledVideo
from app.schemas.ar_content import (
    NAME_MAX_LENGTH,
    ActiveVideoResponse,
    ARContentCreate,
    ARContentResponse,
    ARContentUpdate,
    ScheduledVideoResponse,
    ScheduleWrite,
)
from app.schemas.common import Page
from app.services.ar_content_service import ARContentService
from app.services.video_schedule_service import VideoScheduleService
from app.utils.clock import utcnow

router = APIRouter(tags=["ar-contents"])
CONTENTS = f"{PROJECT}/ar-contents"
CONTENT = f"{CONTENTS}/{{content_id}}"
SCHEDULE = f"{CONTENT}/schedule"
ENTRY = f"{SCHEDULE}/{{entry_id}}"
ContentId = Annotated[uuid.UUID, Path(description="The AR content's id.")]
EntryId = Annotated[uuid.UUID, Path(description="The scheduled video's id.")]
ContentsReader = Annotated[ARContentService, project_service(ARContentService, Action.CONTENT_READ)]
ContentsWriter = Annotated[
    ARContentService, project_service(ARContentService, Action.CONTENT_WRITE)
]
ScheduleReader = Annotated[
    VideoScheduleService, project_service(VideoScheduleService, Action.CONTENT_READ)
]
ScheduleWriter = Annotated[
    VideoScheduleService, project_service(VideoScheduleService, Action.CONTENT_WRITE)
]


def _entry(entry: ScheduledVideo) -> ScheduledVideoResponse:
    return ScheduledVideoResponse.model_validate(entry)


@router.post(
    CONTENTS,
    status_code=status.HTTP_201_CREATED,
    summary="Create an AR content",
)
@raises(ARContentLimitError)
def create_ar_content(body: ARContentCreate, contents: ContentsWriter) -> ARContentResponse:
    """A draft with a new public id. Scene settings left out come from the project's
    defaults. Counts against the plan's AR content limit."""
    content = contents.create(body.title, body.description, body.scene)
    return ARContentResponse.model_validate(content)


@router.get(CONTENTS, summary="List AR contents")
def list_ar_contents(
    contents: ContentsReader,
    page: PageParamsDep,
    title: Annotated[
        str | None, Query(max_length=NAME_MAX_LENGTH, description="Part of the title.")
    ] = None,
    content_status: Annotated[
        ContentStatus | None, Query(alias="status", description="Only contents in this state.")
    ] = None,
) -> Page[ARContentResponse]:
    """Newest first, filtered by title and status."""
    result = contents.list_contents(page, title, content_status)
    return Page[ARContentResponse].model_validate(result, from_attributes=True)


@router.get(CONTENT, summary="An AR content")
@raises(NotFoundError)
def read_ar_content(content_id: ContentId, contents: ContentsReader) -> ARContentResponse:
    """Its title, description, public id, status and scene settings."""
    return ARContentResponse.model_validate(contents.get(content_id))


@router.patch(CONTENT, summary="Change an AR content's title, description or scene settings")
@raises(NotFoundError, ContentArchivedError)
def update_ar_content(
    content_id: ContentId, body: ARContentUpdate, contents: ContentsWriter
) -> ARContentResponse:
    """Changes the fields sent; omitted fields stay as they are. The draft changes; a
    published version stays as it was published until the next publish."""
    return ARContentResponse.model_validate(contents.update(content_id, body.fields_sent()))


@router.delete(
    CONTENT,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an AR content",
)
@raises(NotFoundError, ContentArchivedError, ContentPublishedError)
def delete_ar_content(content_id: ContentId, contents: ContentsWriter) -> None:
    """Soft delete: from now on the content answers 404. Refused while it is published
    (unpublish it first) or archived (read-only)."""
    contents.delete(content_id)


@router.get(
    SCHEDULE,
    summary="The content's scheduled videos",
    description="Highest priority first, then by start.",
)
@raises(NotFoundError)
def list_schedule(
    content_id: ContentId, schedule: ScheduleReader, page: PageParamsDep
) -> Page[ScheduledVideoResponse]:
    result = schedule.list_entries(content_id, page)
    return Page[ScheduledVideoResponse].model_validate(result, from_attributes=True)


@router.post(
    SCHEDULE,
    status_code=status.HTTP_201_CREATED,
    summary="Attach a video for a time window",
    description="Leave both edges out for a video that always plays (the default), and "
    "give windowed videos a higher priority to play over it during their window.",
)
@raises(
    NotFoundError,
    ContentArchivedError,
    ScheduleFullError,
    ScheduleOverlapError,
    ScheduleWindowError,
)
def attach_video(
    content_id: ContentId, body: ScheduleWrite, schedule: ScheduleWriter
) -> ScheduledVideoResponse:
    return _entry(schedule.attach(content_id, body))


@router.get(ENTRY, summary="A scheduled video")
@raises(NotFoundError)
def read_schedule_entry(
    content_id: ContentId, entry_id: EntryId, schedule: ScheduleReader
) -> ScheduledVideoResponse:
    """The video, its window (with the zone it was given in) and its priority."""
    return _entry(schedule.get_entry(content_id, entry_id))


@router.put(ENTRY, summary="Change a scheduled video's window, video or priority")
@raises(NotFoundError, ContentArchivedError, ScheduleOverlapError, ScheduleWindowError)
def replace_schedule_entry(
    content_id: ContentId,
    entry_id: EntryId,
    body: ScheduleWrite,
    schedule: ScheduleWriter,
) -> ScheduledVideoResponse:
    """Replaces the window, video and priority at once; checked for overlaps like a new entry."""
    return _entry(schedule.replace(content_id, entry_id, body))


@router.delete(
    ENTRY,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Detach a scheduled video",
)
@raises(NotFoundError, ContentArchivedError)
def detach_video(content_id: ContentId, entry_id: EntryId, schedule: ScheduleWriter) -> None:
    """The video stays; it only stops being scheduled here."""
    schedule.detach(content_id, entry_id)


@router.get(
    f"{CONTENT}/active-video",
    summary="Which video plays at a given time",
    description="What a viewer app would be given at `at` (default: now).",
)
@raises(NotFoundError)
def read_active_video(
    content_id: ContentId,
    schedule: ScheduleReader,
    at: Annotated[
        AwareDatetime | None,
        Query(description="An instant with its offset, e.g. `2026-12-24T18:00:00+03:00`."),
    ] = None,
) -> ActiveVideoResponse:
    result = schedule.active(content_id, at or utcnow())
    return ActiveVideoResponse(
        at=result.at,
        scheduled=_entry(result.entry) if result.entry else None,
        next_change_at=result.next_change_at,
    )
