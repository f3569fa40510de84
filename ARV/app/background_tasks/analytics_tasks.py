"""Viewer analytics upkeep on the default queue: playback events per video and viewer
events per AR content, each through the same backlog, rollup and retention."""

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import ANALYTICS_PURGE_EVENTS, ANALYTICS_ROLL_UP
from app.core.config import get_settings
from app.core.database import get_session_factory, session_scope
from app.services import event_log
from app.services.scan_analytics_service import SCANS
from app.services.tenant import ScopedService, for_each_company
from app.services.video_analytics_service import PLAYBACK

# Bounds one run per kind; what is left waits for the next (a minute later).
MAX_BATCHES_PER_RUN = 20
LOGS = (PLAYBACK, SCANS)


@celery_app.task(name=ANALYTICS_ROLL_UP)
def roll_up() -> int:
    """Count newly reported events into the daily figures, one batch of one company per
    transaction."""
    return sum(_roll_up(log) for log in LOGS)


def _roll_up(log: event_log.EventLog) -> int:
    counted = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        with session_scope() as db:
            done = event_log.roll_up(db, log)
        counted += done
        if done == 0:
            break
    return counted


@celery_app.task(name=ANALYTICS_PURGE_EVENTS)
def purge_events() -> int:
    """Drop raw events past retention, one company per transaction."""
    return sum(_purge(log) for log in LOGS)


def _purge(log: event_log.EventLog) -> int:
    settings = get_settings()

    def purge(scope: ScopedService) -> int:
        return event_log.purge_expired_events(scope, log, settings)

    return for_each_company(
        get_session_factory(),
        event_log.expired_event_companies(log, settings),
        ANALYTICS_PURGE_EVENTS,
        purge,
    )
