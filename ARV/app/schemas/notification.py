"""The inbox, preferences, push devices and delivery log, as clients see them."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from app.models.notification import DeliveryStatus, NotificationChannel, PushPlatform
from app.schemas.common import RequestSchema, ResponseSchema

MAX_MARKED = 200


class NotificationResponse(ResponseSchema):
    id: uuid.UUID
    type: str = Field(description="The event type: `video.ready`, `order.paid`...")
    title: str
    body: str
    payload: dict[str, Any] = Field(description="The event's values (ids, names, amounts).")
    link: str | None
    company_id: uuid.UUID | None = Field(description="The company it is about, if any.")
    sequence: int = Field(description="Its offset in your stream (what sockets replay by).")
    created_at: datetime
    read_at: datetime | None


class InboxResponse(ResponseSchema):
    items: list[NotificationResponse]
    next_cursor: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )
    unread: int = Field(description="Unread notifications matching the filters.")


class UnreadCount(ResponseSchema):
    unread: int


class MarkRead(RequestSchema):
    ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=MAX_MARKED,
        description="The notifications to mark; all of yours when left out.",
    )
    read: bool = Field(default=True, description="False marks them unread again.")


class Marked(ResponseSchema):
    changed: int


class PreferenceResponse(ResponseSchema):
    type: str
    channel: NotificationChannel
    enabled: bool
    locked: bool = Field(description="Security and account messages cannot be turned off.")


class PreferenceUpdate(RequestSchema):
    type: str = Field(min_length=1, max_length=64)
    channel: NotificationChannel
    enabled: bool


class PreferencesUpdate(RequestSchema):
    preferences: list[PreferenceUpdate] = Field(min_length=1, max_length=100)


class DeviceCreate(RequestSchema):
    platform: PushPlatform
    token: str = Field(
        min_length=1,
        max_length=1000,
        description="The FCM registration token, or the Web Push subscription's endpoint.",
    )
    keys: dict[str, str] | None = Field(
        default=None,
        description="A Web Push subscription's `p256dh` and `auth` keys (web only).",
    )
    app_version: str | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _web_has_keys(self) -> "DeviceCreate":
        web = self.platform is PushPlatform.WEB
        if web and (not self.keys or set(self.keys) != {"p256dh", "auth"}):
            raise ValueError("a web subscription needs `keys` with `p256dh` and `auth`")
        if web and not self.token.startswith(("https://", "http://")):
            raise ValueError("a web subscription's endpoint is a URL")
        if not web and self.keys is not None:
            raise ValueError("only web subscriptions have keys")
        if self.keys and any(len(value) > 200 for value in self.keys.values()):
            raise ValueError("a key is at most 200 characters")
        return self


class DeviceResponse(ResponseSchema):
    id: uuid.UUID
    platform: PushPlatform
    app_version: str | None
    created_at: datetime
    last_used_at: datetime | None


class DeliveryResponse(ResponseSchema):
    notification_id: uuid.UUID
    type: str
    channel: NotificationChannel
    status: DeliveryStatus = Field(description="`queued`, `sent` or `failed`.")
    reason: str | None = Field(description="Why it failed, or why it is being retried.")
    attempts: int = Field(description="Attempts made so far.")
    device_id: uuid.UUID | None
    at: datetime
