"""Video events (`video.progress`, `video.playable`, `video.processed`, `video.failed`,
`video.cancelled`), pushed to the company's live sockets once the transaction that caused
them commits, and dropped if it rolls back. Every event but progress may change what a
published content's viewers are served (the video plays now, or plays other renditions or
stills): their cached manifests are dropped with it. A video processed to the end, or
failed, is also told to whoever uploaded it (`video.ready`, `video.failed`)."""

from typing import Any

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.events import on_commit
from app.models.video import Video, VideoStatus
from app.services import live, notifications
from app.services.viewer_service import forget_manifests_playing
from app.utils.clock import utcnow

PROGRESS = "video.progress"
PROCESSED = "video.processed"
FAILED = "video.failed"


def publish_after_commit(
    db: Session, settings: Settings, video: Video, event_type: str, **data: Any
) -> None:
    payload = {"video_id": str(video.id), "status": video.status.value, **data}
    company_id, at = video.company_id, utcnow().isoformat()
    on_commit(db, lambda: live.company_event(settings, company_id, event_type, payload, at))
    if event_type != PROGRESS:
        forget_manifests_playing(db, video)
    if (event_type == PROCESSED and video.status is VideoStatus.READY) or event_type == FAILED:
        _tell_uploader(db, settings, video, event_type, data)


def _tell_uploader(
    db: Session, settings: Settings, video: Video, event_type: str, data: dict[str, Any]
) -> None:
    failed = event_type == FAILED
    notifications.emit(
        db,
        settings,
        "video.failed" if failed else "video.ready",
        {"video_id": str(video.id), "title": video.title, "reason": data.get("reason", "")},
        company_id=video.company_id,
        user_id=video.created_by_id,
        link=notifications.app_link(settings, video.company_id, "videos", video.id),
    )
