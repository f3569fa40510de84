"""Playback analytics upkeep on the default queue."""

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import ANALYTICS_PURGE_EVENTS, ANALYTICS_ROLL_UP
from app.core.config import get_settings
from app.core.database import get_session_factory, session_scope
from app.services import video_analytics_service
from app.services.tenant import for_each_company

# Bounds one run; what is left waits for the next (a minute later).
MAX_BATCHES_PER_RUN = 20


@celery_app.task(name=ANALYTICS_ROLL_UP)
def roll_up() -> int:
    """Count newly reported events into the daily figures, one batch of one company per
    transaction."""
    counted = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        with session_scope() as db:
            done = video_analytics_service.roll_up(db)
        counted += done
        if done == 0:
            break
    return counted


@celery_app.task(name=ANALYTICS_PURGE_EVENTS)
def purge_events() -> int:
    settings = get_settings()
    return for_each_company(
        get_session_factory(),
        video_analytics_service.expired_event_companies(settings),
        ANALYTICS_PURGE_EVENTS,
        lambda scope: video_analytics_service.purge_expired_events(scope, settings),
    )
