"""What AR viewer apps call: public, no sign-in, rate-limited per address."""

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from app.api.delivery import Validators
from app.api.deps import DbSession, SettingsDep
from app.api.openapi import raises
from app.api.rate_limits import VIEWER_RULE, limit_per_ip
from app.core.exceptions import NotFoundError, RateLimitedError, ServiceUnavailableError
from app.models.ar_content import PUBLIC_ID_LENGTH
from app.schemas.video_analytics import BatchResult, PlaybackBatch
from app.schemas.viewer import Manifest
from app.services import video_analytics_service, viewer_service

router = APIRouter(prefix="/viewer", tags=["viewer"])
_limit_manifest = limit_per_ip("viewer-manifest", VIEWER_RULE)
ManifestPublicId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=PUBLIC_ID_LENGTH,
        description="The content's public id, as its QR code and viewer link carry it.",
    ),
]


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Report playback events",
    description="Up to 100 events from one device. Each event is judged on its own: "
    "those that cannot count are listed in `rejected` with the reason, the rest are kept. "
    "Sending a batch again is safe: events already stored count as duplicates. Daily "
    "figures include new events within a minute.",
    dependencies=[Depends(limit_per_ip("viewer-events", VIEWER_RULE))],
)
def report_events(body: PlaybackBatch, db: DbSession, settings: SettingsDep) -> BatchResult:
    result = video_analytics_service.ingest(db, settings, body)
    return BatchResult.model_validate(result, from_attributes=True)


@router.get(
    "/{public_id}",
    summary="The viewer manifest of a published AR content",
    description="What a viewer needs to show the content: the marker to track (image and "
    "compiled MindAR target), the video the published version's schedule plays now (MP4 "
    "renditions, one marked `texture` for WebGL, the stacked-alpha rendition, HLS, "
    "poster) and until when, the scene settings, and a deep link into the native app. "
    "Media links are signed and expire at `expires_at`. Cacheable: `Cache-Control` says "
    "how long (never past a schedule change or the links' expiry); revalidate with "
    "`If-None-Match` (304). Unknown, unpublished, archived and deleted contents are all "
    "not found alike. See ARV/docs/viewer.md.",
    response_class=Response,
    responses={
        200: {"model": Manifest, "description": "The manifest (`schema_version` 1)."},
        304: {"description": "The copy named by If-None-Match is current."},
    },
)
@raises(NotFoundError, RateLimitedError, ServiceUnavailableError)
async def read_manifest(public_id: ManifestPublicId, request: Request) -> Response:
    # The hot path: every phone scanning a print asks for this. It reads the settings,
    # storage and session factory from the app and counts the rate limit itself, with no
    # dependency to solve: each one costs a few percent of what a process serves
    # (ARV/docs/viewer.md#throughput).
    state = request.app.state
    await _limit_manifest(state.settings, request)
    served = await viewer_service.served_manifest(
        state.sessions, state.storage, state.settings, public_id
    )
    validators = Validators(served.etag)
    headers = {
        **validators.headers(),
        "Cache-Control": f"public, max-age={served.max_age(time.time())}",
    }
    if validators.not_modified(request):
        return Response(status_code=304, headers=headers)
    return Response(served.body, headers=headers, media_type="application/json")
