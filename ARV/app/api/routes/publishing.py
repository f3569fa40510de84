"""Publishing an AR content: publish, unpublish, archive and unarchive, its published
versions, how one differs from the draft, and rolling back to one."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from app.api.deps import PageParamsDep, project_service
from app.api.openapi import raises
from app.api.routes.ar_contents import CONTENT, ContentId
from app.core.exceptions import (
    ContentArchivedError,
    ContentTransitionError,
    NotFoundError,
    PublishRefusedError,
)
from app.core.permissions import Action
from app.models.ar_content import ARContent
from app.schemas.common import Page
from app.schemas.publishing import (
    ContentStateResponse,
    VersionDiff,
    VersionResponse,
    VersionSummary,
)
from app.services.publishing_service import PublishingService, VersionView

router = APIRouter(tags=["publishing"])
VERSIONS = f"{CONTENT}/versions"
VERSION = f"{VERSIONS}/{{number}}"
VersionNumber = Annotated[
    int, Path(ge=1, le=2**31 - 1, description="The version's number: 1 for the first publish.")
]
ContentPublisher = Annotated[
    PublishingService, project_service(PublishingService, Action.CONTENT_PUBLISH)
]
Lifecycle = Annotated[PublishingService, project_service(PublishingService, Action.CONTENT_WRITE)]
VersionsReader = Annotated[
    PublishingService, project_service(PublishingService, Action.CONTENT_READ)
]


def _state(content: ARContent) -> ContentStateResponse:
    return ContentStateResponse.model_validate(content)


def _version(view: VersionView) -> VersionResponse:
    return VersionResponse.model_validate(view)


@router.post(
    f"{CONTENT}/publish",
    status_code=status.HTTP_201_CREATED,
    summary="Publish the draft as a new version",
)
@raises(NotFoundError, ContentArchivedError, PublishRefusedError)
def publish_content(content_id: ContentId, publishing: ContentPublisher) -> VersionResponse:
    """Checks every condition at once: a marker that is processed (`ready`), scores at least
    the project's `publish_threshold`, has its target compiled and is not a near-duplicate
    of a marker another content of the company publishes; and a default video (scheduled
    with no window) that plays (`playable` or `ready`). Any unmet answers 409
    `publish_refused` with each in `details.unmet`.

    Then freezes the draft (marker, title, description, scene settings, schedule) into the
    next version, which viewers are served from now on. Publishing a published content
    again makes another version."""
    return _version(publishing.publish(content_id))


@router.post(f"{CONTENT}/unpublish", summary="Take a published content off the air")
@raises(NotFoundError, ContentArchivedError, ContentTransitionError)
def unpublish_content(content_id: ContentId, publishing: ContentPublisher) -> ContentStateResponse:
    """Viewers are served nothing from now on. The versions stay; `published_version` keeps
    the number of the last one published. Only a published content can be unpublished."""
    return _state(publishing.unpublish(content_id))


@router.post(f"{CONTENT}/archive", summary="Archive a content")
@raises(NotFoundError, ContentArchivedError, ContentTransitionError)
def archive_content(content_id: ContentId, publishing: Lifecycle) -> ContentStateResponse:
    """A draft or unpublished content becomes read-only (409 `content_archived` on any
    change) until unarchived. A published content is unpublished first (409
    `content_invalid_transition`)."""
    return _state(publishing.archive(content_id))


@router.post(f"{CONTENT}/unarchive", summary="Unarchive a content")
@raises(NotFoundError, ContentTransitionError)
def unarchive_content(content_id: ContentId, publishing: Lifecycle) -> ContentStateResponse:
    """Back to `unpublished` if it was ever published, else to `draft`."""
    return _state(publishing.unarchive(content_id))


@router.get(VERSIONS, summary="List the published versions")
@raises(NotFoundError)
def list_versions(
    content_id: ContentId, publishing: VersionsReader, page: PageParamsDep
) -> Page[VersionSummary]:
    """Newest first, each with who published it and when, the version it copies (for a
    rollback) and whether viewers are served it now."""
    result = publishing.list_versions(content_id, page)
    return Page[VersionSummary].model_validate(result, from_attributes=True)


@router.get(VERSION, summary="A published version")
@raises(NotFoundError)
def read_version(
    content_id: ContentId, number: VersionNumber, publishing: VersionsReader
) -> VersionResponse:
    """With its snapshot: what viewers were (or are) served while it was current."""
    return _version(publishing.get_version(content_id, number))


@router.get(f"{VERSION}/diff", summary="How the draft differs from a version")
@raises(NotFoundError)
def diff_version(
    content_id: ContentId, number: VersionNumber, publishing: VersionsReader
) -> VersionDiff:
    """The fields that differ (title, description, marker, each scene setting by its path)
    and the schedule entries added, removed or changed in the draft since that version."""
    return publishing.diff(content_id, number)


@router.post(
    f"{VERSION}/rollback",
    status_code=status.HTTP_201_CREATED,
    summary="Publish an old version again",
)
@raises(NotFoundError, ContentArchivedError, PublishRefusedError)
def rollback_to_version(
    content_id: ContentId, number: VersionNumber, publishing: ContentPublisher
) -> VersionResponse:
    """Makes a new version equal to version `number` (`copied_from` names it), served from
    now on, after the checks of a publish (409 `publish_refused`, including
    `video_deleted` for a video of that version deleted since). Works on an unpublished
    content too, publishing it.

    The draft is set back to that version as well (title, description, scene settings and
    schedule), except its marker, which stays the newest one uploaded: `diff` shows
    `marker` when that differs."""
    return _version(publishing.rollback(content_id, number))
