"""What the application pushes to live sockets, through the live bus (`core.live`):
a user's notifications (with their stream offset, for replay), a company's passing events
(video progress: not stored, not replayed), and the controls that change open sockets at
once (a member removed, a session ended). Sent after the commit that makes them true."""

import uuid
from collections.abc import Callable
from typing import Any

from app.core import live
from app.core.config import Settings
from app.models.notification import Notification


def notification_message(epoch: str, notification: Notification) -> dict[str, Any]:
    return {
        "type": "notification",
        "epoch": epoch,
        "offset": notification.sequence,
        "notification": {
            "id": str(notification.id),
            "type": notification.type,
            "title": notification.title,
            "body": notification.body,
            "payload": notification.payload,
            "link": notification.link,
            "company_id": str(notification.company_id) if notification.company_id else None,
            "created_at": notification.created_at.isoformat(),
        },
    }


def notify_later(
    settings: Settings, user_id: uuid.UUID, epoch: str, notification: Notification
) -> Callable[[], None]:
    """What tells the user's sockets of `notification` once it is committed (built now,
    while the row's values are at hand)."""
    envelope = {"user_id": str(user_id), "message": notification_message(epoch, notification)}
    return lambda: live.send(settings.REDIS_URL, envelope)


def company_event(
    settings: Settings, company_id: uuid.UUID, event_type: str, data: dict[str, Any], at: str
) -> None:
    envelope = {
        "company_id": str(company_id),
        "message": {
            "type": "event",
            "company_id": str(company_id),
            "event": {"type": event_type, "at": at, "data": data},
        },
    }
    live.send(settings.REDIS_URL, envelope)


def left_company(settings: Settings, user_id: uuid.UUID, company_id: uuid.UUID) -> None:
    live.send(
        settings.REDIS_URL,
        {"user_id": str(user_id), "control": {"left_company": str(company_id)}},
    )


def session_ended(settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    live.send(
        settings.REDIS_URL,
        {"user_id": str(user_id), "control": {"session_ended": str(session_id)}},
    )
