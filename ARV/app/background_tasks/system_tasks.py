"""Tasks about the task system itself."""

import socket
from datetime import UTC, datetime

from app.background_tasks.celery_app import celery_app
from app.background_tasks.names import SYSTEM_PING


@celery_app.task(name=SYSTEM_PING)
def ping() -> dict[str, str]:
    """Round trip check: proves a worker consumes the default queue and results return."""
    return {"pong": "ok", "hostname": socket.gethostname(), "at": datetime.now(UTC).isoformat()}
