"""An AR content's marker: upload it (processed on the media queue), read its score,
hints and links, see earlier uploads, retry a failed one."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, status

from app.api.deps import PageParamsDep, project_service
from app.api.openapi import raises
from app.api.routes.ar_contents import CONTENT, ContentId
from app.core.exceptions import (
    ContentArchivedError,
    MarkerNotRetryableError,
    MarkerWidthRequiredError,
    NotAnImageError,
    NotFoundError,
    UploadIncompleteError,
)
from app.core.permissions import Action
from app.models.marker import Marker
from app.schemas.common import Page
from app.schemas.marker import MarkerCreate, MarkerResponse
from app.services.marker_service import MarkerService

router = APIRouter(tags=["markers"])
MARKER = f"{CONTENT}/marker"
MARKERS = f"{CONTENT}/markers"
ONE_MARKER = f"{MARKERS}/{{marker_id}}"
MarkerId = Annotated[uuid.UUID, Path(description="The marker's id.")]
MarkersReader = Annotated[MarkerService, project_service(MarkerService, Action.CONTENT_READ)]
MarkersWriter = Annotated[MarkerService, project_service(MarkerService, Action.CONTENT_WRITE)]


def _shown(markers: MarkerService, marker: Marker) -> MarkerResponse:
    return MarkerResponse.of(markers.view(marker))


@router.post(MARKER, status_code=status.HTTP_202_ACCEPTED, summary="Upload the content's marker")
@raises(
    NotFoundError,
    ContentArchivedError,
    UploadIncompleteError,
    NotAnImageError,
    MarkerWidthRequiredError,
)
def upload_marker(
    content_id: ContentId, body: MarkerCreate, markers: MarkersWriter
) -> MarkerResponse:
    """Makes the uploaded image the content's marker (the published version keeps its own
    until the next publish). It is checked, scored and compiled on the media queue: poll
    `GET .../marker` until `status` is `ready`, `rejected` (the image cannot be a marker:
    `rejection_code` says why) or `failed` (retry it)."""
    return _shown(markers, markers.upload(content_id, body.file_id, body.width_mm))


@router.get(MARKER, summary="The content's current marker")
@raises(NotFoundError)
def read_current_marker(content_id: ContentId, markers: MarkersReader) -> MarkerResponse:
    """The latest upload, with its score, sub-scores, hints, duplicates and, once ready,
    signed links to the normalised image, preview, heat-map and compiled target."""
    return _shown(markers, markers.current(content_id))


@router.get(MARKERS, summary="Every marker uploaded for the content")
@raises(NotFoundError)
def list_markers(
    content_id: ContentId, markers: MarkersReader, page: PageParamsDep
) -> Page[MarkerResponse]:
    """Newest first; the first is the current one. Published versions keep theirs. Links
    are given by the single-marker routes."""
    result = markers.history(content_id, page)
    return Page[MarkerResponse](
        items=[
            MarkerResponse.of(markers.view(marker, with_links=False)) for marker in result.items
        ],
        total=result.total,
        limit=result.limit,
        offset=result.offset,
    )


@router.get(ONE_MARKER, summary="One marker of the content")
@raises(NotFoundError)
def read_marker(
    content_id: ContentId, marker_id: MarkerId, markers: MarkersReader
) -> MarkerResponse:
    """With signed links to its outputs once ready."""
    return _shown(markers, markers.get(content_id, marker_id))


@router.post(
    f"{ONE_MARKER}/retry", status_code=status.HTTP_202_ACCEPTED, summary="Retry a failed marker"
)
@raises(NotFoundError, ContentArchivedError, MarkerNotRetryableError)
def retry_marker(
    content_id: ContentId, marker_id: MarkerId, markers: MarkersWriter
) -> MarkerResponse:
    """Queues a marker whose processing failed again, with its attempts renewed. A
    rejected image is not retried: upload a fixed one."""
    return _shown(markers, markers.retry(content_id, marker_id))
