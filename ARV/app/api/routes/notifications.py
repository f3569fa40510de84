"""Your notifications: the inbox, read marks, preferences, the delivery log, push devices,
and the one-click unsubscribe link of emails. See ARV/docs/notifications.md."""

import html
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import HTMLResponse

from app.api.deps import CurrentUser, DbSession, SettingsDep
from app.api.openapi import raises
from app.core.exceptions import (
    NotFoundError,
    NotificationTypeUnknownError,
    PreferenceLockedError,
    PushDeviceLimitError,
    PushEndpointRefusedError,
    TokenInvalidError,
)
from app.schemas.notification import (
    DeliveryResponse,
    DeviceCreate,
    DeviceResponse,
    InboxResponse,
    Marked,
    MarkRead,
    NotificationResponse,
    PreferenceResponse,
    PreferencesUpdate,
    UnreadCount,
)
from app.services import notification_preferences
from app.services.notification_service import InboxFilters, NotificationService

router = APIRouter(tags=["notifications"])
MAX_PAGE = 100


def get_notification_service(
    user: CurrentUser, db: DbSession, settings: SettingsDep
) -> NotificationService:
    return NotificationService(db, user, settings)


Notifications = Annotated[NotificationService, Depends(get_notification_service)]
UnreadOnly = Annotated[bool, Query(alias="unread", description="Only unread ones.")]
CompanyFilter = Annotated[
    uuid.UUID | None, Query(alias="company_id", description="Only those about this company.")
]


@router.get("/notifications", summary="Your inbox")
def list_notifications(
    notifications: Notifications,
    unread_only: UnreadOnly = False,
    company_id: CompanyFilter = None,
    before: Annotated[
        int | None, Query(ge=1, description="The `next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many.")] = 20,
) -> InboxResponse:
    """Newest first, a page at a time: pass `next_cursor` as `before` for the next one (a
    cursor, so notifications arriving meanwhile never shift the pages)."""
    page = notifications.inbox(InboxFilters(unread_only, company_id), before, limit)
    return InboxResponse(
        items=[NotificationResponse.model_validate(item) for item in page.items],
        next_cursor=page.next_cursor,
        unread=page.unread,
    )


@router.get("/notifications/unread-count", summary="How many are unread")
def unread_count(notifications: Notifications, company_id: CompanyFilter = None) -> UnreadCount:
    """For the badge; `company_id` counts one company's only."""
    return UnreadCount(unread=notifications.unread(InboxFilters(company_id=company_id)))


@router.post("/notifications/read", summary="Mark notifications read (or unread)")
def mark_read(body: MarkRead, notifications: Notifications) -> Marked:
    """The ones named in `ids`, or all of yours; `read: false` marks them unread again.
    Answers how many changed."""
    return Marked(changed=notifications.mark_read(body.ids, body.read))


@router.delete(
    "/notifications/{notification_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a notification",
)
@raises(NotFoundError)
def delete_notification(
    notification_id: Annotated[uuid.UUID, Path(description="The notification's id.")],
    notifications: Notifications,
) -> None:
    """Yours only: another user's answers 404."""
    notifications.delete(notification_id)


@router.get("/notifications/deliveries", summary="Where your emails and pushes got")
def list_deliveries(
    notifications: Notifications,
    notification_id: Annotated[
        uuid.UUID | None, Query(description="Only this notification's.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many.")] = 50,
) -> list[DeliveryResponse]:
    """Newest first: each email and each push to one of your devices, `queued` (waiting, or
    retrying after a transient failure, with the reason), `sent` or `failed` (with why)."""
    return [
        DeliveryResponse.model_validate(delivery)
        for delivery in notifications.deliveries(notification_id, limit)
    ]


@router.get("/notifications/preferences", summary="What you hear, on which channel")
def read_preferences(notifications: Notifications) -> list[PreferenceResponse]:
    """Every event type on every channel it is sent on, as you hear it now: your choice,
    else the type's default. `locked` ones (security and account messages) stay on."""
    return [PreferenceResponse.model_validate(p) for p in notifications.preferences()]


@router.put("/notifications/preferences", summary="Choose what you hear")
@raises(PreferenceLockedError, NotificationTypeUnknownError)
def update_preferences(
    body: PreferencesUpdate, notifications: Notifications
) -> list[PreferenceResponse]:
    """Each item turns one type on one channel on or off. A locked one, or a channel the
    type is not sent on, answers 409 `preference_locked`, an unknown type 422
    `notification_type_unknown`; either way nothing changes."""
    for choice in body.preferences:
        notifications.choose(choice.type, choice.channel, choice.enabled)
    return read_preferences(notifications)


UnsubscribeToken = Annotated[
    str, Query(min_length=1, max_length=300, description="The token from the email's link.")
]


@router.get(
    notification_preferences.UNSUBSCRIBE_PATH.removeprefix("/api/v1"),
    summary="The unsubscribe page of an email",
    response_class=HTMLResponse,
)
def unsubscribe_page(token: UnsubscribeToken) -> HTMLResponse:
    """What the link in an email's footer opens: a button that turns those emails off (a
    GET changes nothing, so mail scanners that follow links unsubscribe nobody)."""
    action = html.escape(f"?token={token}", quote=True)
    return HTMLResponse(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ARVlite</title></head>"
        f"<body><form method='post' action='{action}'>"
        "<button type='submit'>Unsubscribe / Отписаться</button></form></body></html>"
    )


@router.post(
    notification_preferences.UNSUBSCRIBE_PATH.removeprefix("/api/v1"),
    summary="Unsubscribe in one click (RFC 8058)",
    response_class=HTMLResponse,
)
@raises(TokenInvalidError)
def unsubscribe(token: UnsubscribeToken, db: DbSession, settings: SettingsDep) -> HTMLResponse:
    """What mail clients post (`List-Unsubscribe=One-Click`) and the page's button: turns
    off the emails of the type the link was sent for, without signing in."""
    notification_preferences.unsubscribe(db, settings, token)
    return HTMLResponse(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ARVlite</title></head>"
        "<body><p>Unsubscribed. / Вы отписались.</p></body></html>"
    )


@router.post("/push/devices", status_code=status.HTTP_201_CREATED, summary="Get pushes on a device")
@raises(PushDeviceLimitError, PushEndpointRefusedError)
def register_device(body: DeviceCreate, notifications: Notifications) -> DeviceResponse:
    """An FCM registration token (`android`, `ios`), or a browser's Web Push subscription
    (`web`: its endpoint as `token`, and its `keys`). Registering the same token again
    updates it. A device the push service reports gone is removed by itself."""
    device = notifications.register_device(body.platform, body.token, body.keys, body.app_version)
    return DeviceResponse.model_validate(device)


@router.get("/push/devices", summary="Your devices that get pushes")
def list_devices(notifications: Notifications) -> list[DeviceResponse]:
    """Oldest first."""
    return [DeviceResponse.model_validate(device) for device in notifications.devices()]


@router.delete(
    "/push/devices/{device_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop pushes to a device",
)
@raises(NotFoundError)
def remove_device(
    device_id: Annotated[uuid.UUID, Path(description="The device's id.")],
    notifications: Notifications,
) -> None:
    """Yours only: another user's answers 404."""
    notifications.remove_device(device_id)
