"""What AR viewer apps call: public, no sign-in, rate-limited per address."""

from fastapi import APIRouter, Depends, status

from app.api.deps import DbSession, SettingsDep
from app.api.rate_limits import limit_per_ip, viewer_rule
from app.schemas.video_analytics import BatchResult, PlaybackBatch
from app.services import video_analytics_service

router = APIRouter(prefix="/viewer", tags=["viewer"])


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Report playback events",
    description="Up to 100 events from one device. Each event is judged on its own: "
    "those that cannot count are listed in `rejected` with the reason, the rest are kept. "
    "Sending a batch again is safe: events already stored count as duplicates. Daily "
    "figures include new events within a minute.",
    dependencies=[Depends(limit_per_ip("viewer-events", viewer_rule))],
)
def report_events(body: PlaybackBatch, db: DbSession, settings: SettingsDep) -> BatchResult:
    result = video_analytics_service.ingest(db, settings, body)
    return BatchResult.model_validate(result, from_attributes=True)
