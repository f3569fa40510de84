"""What viewer pages and apps report about one published AR content: public, no sign-in,
rate-limited per address like playback events."""

from fastapi import APIRouter, Depends, status

from app.api.deps import DbSession, SettingsDep
from app.api.openapi import raises
from app.api.rate_limits import VIEWER_RULE, limit_per_ip
from app.api.routes.viewer import ManifestPublicId
from app.core.exceptions import NotFoundError
from app.schemas.scan_analytics import ViewerEventBatch
from app.schemas.video_analytics import BatchResult
from app.services import scan_analytics_service

router = APIRouter(prefix="/viewer", tags=["viewer"])


@router.post(
    "/{public_id}/events",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Report viewer events of an AR content",
    description="Up to 100 events from one device about the published content: the viewer "
    "opened, the marker found (with the time it took) and lost, the video started, played "
    "and finished. Each event is judged on its own: those that cannot count are listed in "
    "`rejected` with the reason, the rest are kept. Sending a batch again is safe: events "
    "already stored count as duplicates. A content that is not published is not found. "
    "Daily figures include new events within a minute.",
    dependencies=[Depends(limit_per_ip("viewer-events", VIEWER_RULE))],
)
@raises(NotFoundError)
def report_viewer_events(
    public_id: ManifestPublicId, body: ViewerEventBatch, db: DbSession, settings: SettingsDep
) -> BatchResult:
    result = scan_analytics_service.ingest(db, settings, public_id, body)
    return BatchResult.model_validate(result, from_attributes=True)
