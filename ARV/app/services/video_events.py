"""Video events (`video.progress`, `video.playable`, `video.processed`, `video.failed`,
`video.cancelled`), published on the company's channel once the transaction that caused
them commits, and dropped if it rolls back. Every event but progress may change what a
published content's viewers are served (the video plays now, or plays other renditions or
stills): their cached manifests are dropped with it."""

from typing import Any

from sqlalchemy.orm import Session

from app.core.events import on_commit
from app.core.pubsub import publish_event
from app.models.video import Video
from app.services.viewer_service import forget_manifests_playing

PROGRESS = "video.progress"


def publish_after_commit(db: Session, video: Video, event_type: str, **data: Any) -> None:
    payload = {"video_id": str(video.id), "status": video.status.value, **data}
    company_id = video.company_id
    on_commit(db, lambda: publish_event(company_id, event_type, payload))
    if event_type != PROGRESS:
        forget_manifests_playing(db, video)
