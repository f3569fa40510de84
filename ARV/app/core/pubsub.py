"""Domain events published to Redis on `arv:companies:{company_id}:events`, for the live
delivery the notifications work will add (nothing subscribes yet). Publishing is best-effort
and happens after commit: the database stays the source of truth, an event only says "look
again"."""

import json
import logging
import uuid
from typing import Any

from app.core.config import get_settings
from app.core.redis import get_redis
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)


def company_channel(company_id: uuid.UUID) -> str:
    return f"arv:companies:{company_id}:events"


def publish_event(company_id: uuid.UUID, event_type: str, payload: dict[str, Any]) -> None:
    message = json.dumps(
        {"type": event_type, "at": utcnow().isoformat(), "data": payload}, default=str
    )
    redis_url = get_settings().REDIS_URL
    if not redis_url:
        logger.info("event", extra={"event": event_type, "company_id": str(company_id)})
        return
    get_redis(redis_url).publish(company_channel(company_id), message)
