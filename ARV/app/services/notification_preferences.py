"""What each user chose to hear, on which channel: the type's defaults, overridden by the
user's own rows; a locked type (security, account) keeps every channel it offers on, and
a channel a type does not offer stays off. Also the signed one-click unsubscribe link of
emails (RFC 8058), which turns one type's emails off without signing in."""

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.exceptions import (
    NotificationTypeUnknownError,
    PreferenceLockedError,
    TokenInvalidError,
)
from app.core.security import hmac_sign, hmac_verify, unsubscribe_key
from app.models.notification import NotificationChannel, NotificationPreference
from app.models.user import User
from app.services.notification_types import TYPES, EventType, event_type

UNSUBSCRIBE_PATH = "/api/v1/notifications/unsubscribe"


def effective_preferences(
    db: Session, user_id: uuid.UUID, kind: EventType
) -> dict[NotificationChannel, bool]:
    chosen = {
        row.channel: row.enabled
        for row in db.scalars(
            select(NotificationPreference).where(
                NotificationPreference.user_id == user_id,
                NotificationPreference.type == kind.name,
            )
        )
    }
    return {channel: _on(kind, channel, chosen.get(channel)) for channel in NotificationChannel}


def _on(kind: EventType, channel: NotificationChannel, chosen: bool | None) -> bool:
    if channel not in kind.offered:
        return False
    if kind.locked:
        return True
    return kind.default(channel) if chosen is None else chosen


@dataclass(frozen=True, slots=True)
class Preference:
    type: str
    channel: NotificationChannel
    enabled: bool
    locked: bool


def all_preferences(db: Session, user_id: uuid.UUID) -> list[Preference]:
    """Every type and channel it offers, as the user hears them now."""
    return [
        Preference(kind.name, channel, enabled, kind.locked)
        for kind in TYPES.values()
        for channel, enabled in effective_preferences(db, user_id, kind).items()
        if channel in kind.offered
    ]


def choose(
    db: Session, user_id: uuid.UUID, type_name: str, channel: NotificationChannel, enabled: bool
) -> None:
    kind = TYPES.get(type_name)
    if kind is None:
        raise NotificationTypeUnknownError(
            f"There is no notification type {type_name!r}.", details={"type": type_name}
        )
    if kind.locked or channel not in kind.offered:
        raise PreferenceLockedError(
            f"{type_name} on {channel.value} cannot be changed.",
            details={"type": type_name, "channel": channel.value},
        )
    row = db.scalar(
        select(NotificationPreference).where(
            NotificationPreference.user_id == user_id,
            NotificationPreference.type == type_name,
            NotificationPreference.channel == channel,
        )
    )
    if row is None:
        db.add(
            NotificationPreference(
                user_id=user_id, type=type_name, channel=channel, enabled=enabled
            )
        )
    else:
        row.enabled = enabled
    db.flush()


def unsubscribe_token(settings: Settings, user_id: uuid.UUID, type_name: str) -> str:
    message = f"{user_id}:{type_name}"
    return f"{message}:{hmac_sign(unsubscribe_key(settings), message.encode())}"


def unsubscribe_url(settings: Settings, user_id: uuid.UUID, type_name: str) -> str:
    query = urlencode({"token": unsubscribe_token(settings, user_id, type_name)})
    return f"{settings.API_PUBLIC_URL}{UNSUBSCRIBE_PATH}?{query}"


def unsubscribe(db: Session, settings: Settings, token: str) -> str:
    """Turn off the emails of the type the token names, for its user; the type's name."""
    user_part, _, rest = token.partition(":")
    type_name, _, signature = rest.rpartition(":")
    valid = hmac_verify(unsubscribe_key(settings), f"{user_part}:{type_name}".encode(), signature)
    user = db.get(User, uuid.UUID(user_part)) if valid else None
    if user is None or type_name not in TYPES:  # forged, or the account is gone
        raise TokenInvalidError("This unsubscribe link is not valid.")
    if not event_type(type_name).locked:
        choose(db, user.id, type_name, NotificationChannel.EMAIL, False)
    return type_name
