"""The one Celery app: `celery -A app.background_tasks.celery_app:celery_app worker`.

With `REDIS_URL` set, Redis is broker and result backend. With nothing configured, a real
worker still runs, on kombu's filesystem transport under `VAR_DIR/celery` (one machine
only; never eager mode, so local runs exercise the same code paths as production).
"""

from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import setup_logging, worker_process_init, worker_shutting_down
from kombu import Queue

from app.background_tasks import shutdown
from app.background_tasks.names import (
    ALL_QUEUES,
    ANALYTICS_PURGE_EVENTS,
    ANALYTICS_ROLL_UP,
    AUTH_PURGE_EXPIRED,
    BILLING_PERIODS,
    INVOICE_WATCHDOG,
    MARKER_WATCHDOG,
    NOTIFICATIONS_PURGE_READ,
    OUTBOX_SWEEP,
    PAYMENTS_POLL,
    QUEUE_DEFAULT,
    STORAGE_PURGE_ABANDONED_UPLOADS,
    VIDEO_PURGE_SUPERSEDED,
    VIDEO_WATCHDOG,
)
from app.core.config import Settings, get_settings
from app.core.database import get_engine
from app.core.logging import configure_logging

TASK_MODULES = [
    "app.background_tasks.system_tasks",
    "app.background_tasks.auth_tasks",
    "app.background_tasks.storage_tasks",
    "app.background_tasks.video_tasks",
    "app.background_tasks.marker_tasks",
    "app.background_tasks.analytics_tasks",
    "app.background_tasks.notification_tasks",
    "app.background_tasks.payment_tasks",
]
HOURLY = 3600.0
WATCHDOG_EVERY_SECONDS = 60.0
PURGE_EVERY_SECONDS = 600.0
ROLLUP_EVERY_SECONDS = 60.0
OUTBOX_SWEEP_EVERY_SECONDS = 60.0
PAYMENTS_POLL_EVERY_SECONDS = 300.0


def _broker_options(settings: Settings) -> dict[str, Any]:
    if settings.REDIS_URL:
        # Redis re-delivers an unacknowledged message after visibility_timeout. With acks_late
        # a long transcode is unacknowledged until it ends, so the timeout must outlast the
        # hard time limit, and Celery reads it from three places (broker, result backend,
        # and the top-level option used by some code paths): set all of them.
        transport = {"visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT}
        return {
            "broker_url": settings.REDIS_URL,
            "result_backend": settings.REDIS_URL,
            "broker_transport_options": transport,
            "result_backend_transport_options": transport,
            "visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT,
            "broker_connection_retry_on_startup": True,
        }
    queue_dir = _ensure_dir(settings.VAR_DIR / "celery" / "queue")
    return {
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": str(queue_dir),
            "data_folder_out": str(queue_dir),
            "control_folder": str(_ensure_dir(settings.VAR_DIR / "celery" / "control")),
        },
        "result_backend": f"file://{_ensure_dir(settings.VAR_DIR / 'celery' / 'results')}",
    }


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _periodic(task: str, every_seconds: float) -> dict[str, Any]:
    # A run that waited longer than its period is superseded by the next one.
    return {
        "task": task,
        "schedule": every_seconds,
        "options": {"queue": QUEUE_DEFAULT, "expires": every_seconds},
    }


def build_config(settings: Settings) -> dict[str, Any]:
    return {
        **_broker_options(settings),
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "result_expires": 24 * 3600,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
        "task_time_limit": settings.CELERY_TASK_TIME_LIMIT,
        "task_track_started": True,
        "task_default_queue": QUEUE_DEFAULT,
        "task_queues": [Queue(name) for name in ALL_QUEUES],
        "task_create_missing_queues": False,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "beat_schedule": {
            "purge-expired-auth-records": _periodic(AUTH_PURGE_EXPIRED, HOURLY),
            "purge-abandoned-uploads": _periodic(STORAGE_PURGE_ABANDONED_UPLOADS, HOURLY),
            "video-job-watchdog": _periodic(VIDEO_WATCHDOG, WATCHDOG_EVERY_SECONDS),
            "marker-job-watchdog": _periodic(MARKER_WATCHDOG, WATCHDOG_EVERY_SECONDS),
            "purge-superseded-video-outputs": _periodic(
                VIDEO_PURGE_SUPERSEDED, PURGE_EVERY_SECONDS
            ),
            "roll-up-playback-stats": _periodic(ANALYTICS_ROLL_UP, ROLLUP_EVERY_SECONDS),
            "purge-expired-playback-events": _periodic(ANALYTICS_PURGE_EVENTS, HOURLY),
            "sweep-outbox": _periodic(OUTBOX_SWEEP, OUTBOX_SWEEP_EVERY_SECONDS),
            "poll-pending-payments": _periodic(PAYMENTS_POLL, PAYMENTS_POLL_EVERY_SECONDS),
            "renew-and-end-plan-periods": _periodic(BILLING_PERIODS, HOURLY),
            "invoice-watchdog": _periodic(INVOICE_WATCHDOG, WATCHDOG_EVERY_SECONDS),
            "purge-read-notifications": _periodic(NOTIFICATIONS_PURGE_READ, HOURLY),
        },
        "timezone": "UTC",
        "enable_utc": True,
    }


def create_celery_app(settings: Settings) -> Celery:
    app = Celery("arvlite", include=TASK_MODULES)
    app.conf.update(build_config(settings))
    return app


@setup_logging.connect
def _use_json_logging(**_: Any) -> None:
    # Connecting this signal stops Celery from installing its own handlers.
    configure_logging(get_settings().LOG_LEVEL)


@worker_process_init.connect
def _dispose_inherited_connections(**_: Any) -> None:
    # A forked pool process inherits the parent's pooled sockets; sharing them corrupts
    # the protocol stream. Drop them (without closing the parent's) and reconnect lazily.
    get_engine().dispose(close=False)


@worker_process_init.connect
def _let_signals_interrupt_long_tasks(**_: Any) -> None:
    shutdown.mark_pool_process()


@worker_shutting_down.connect
def _pass_the_stop_to_pool_processes(**_: Any) -> None:
    # Warm or cold, a shutdown hands interruptible tasks back at once rather than waiting
    # for the end of an encode (see app.background_tasks.shutdown).
    shutdown.stop_interruptible_tasks()


celery_app = create_celery_app(get_settings())
