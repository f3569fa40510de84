"""Notifications: events told once to the people they concern, the inbox with its cursor,
read marks and filters, preferences (locked security types), email in the reader's
language with a one-click unsubscribe, push devices, and the delivery log."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.database import session_scope
from app.core.permissions import Role
from app.models import Language, Notification, OutboxMessage, PushDevice, PushPlatform, User
from app.services import notifications
from app.services.notification_preferences import unsubscribe_token
from app.services.notification_service import NotificationService, purge_read
from app.services.notification_types import event_type
from app.services.notifications import Dispatcher, Event
from app.utils.clock import utcnow
from tests.support.api import assert_error
from tests.support.factories import Tenant, add_member, make_tenant, make_user
from tests.support.notifications import deliver_events, emails_to, order_paid

INBOX = "/api/v1/notifications"


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


def inbox(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(INBOX, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_event_reaches_the_roles_it_names_in_their_inbox_and_email(
    client: TestClient,
    db: Session,
    settings: Settings,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
) -> None:
    tenant.users[Role.OWNER].language = Language.RU
    db.flush()
    order_paid(db, settings, tenant)
    assert deliver_events(session_factory, settings) == 1

    mine = inbox(client, tenant.headers[Role.OWNER])
    [told] = mine["items"]
    assert (told["type"], told["title"]) == ("order.paid", "Заказ A1B2C3D4 оплачен")
    assert told["company_id"] == str(tenant.company.id)
    assert told["read_at"] is None
    assert mine["unread"] == 1
    for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):  # billing is for owners
        assert inbox(client, tenant.headers[role])["items"] == []

    owner = tenant.users[Role.OWNER]
    [email] = emails_to(db, "order.paid", {owner.email})
    assert "оплачен" in email.payload["subject"]
    assert email.payload["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Отписаться" in email.payload["text"]


def test_an_event_dispatched_again_tells_nobody_twice(
    db: Session, settings: Settings, session_factory: sessionmaker[Session], tenant: Tenant
) -> None:
    """A worker that died after committing the dispatch: its redelivery finds everyone
    told already, and queues nothing more."""
    order_paid(db, settings, tenant)
    message = db.scalars(
        select(OutboxMessage).where(
            OutboxMessage.channel == "events",
            OutboxMessage.recipient == f"company:{tenant.company.id}",
        )
    ).one()
    event = Event.from_message(message)
    dispatcher = Dispatcher(settings)
    assert dispatcher.dispatch(session_factory, event) == 1
    assert dispatcher.dispatch(session_factory, event) == 0
    owner = tenant.users[Role.OWNER]
    assert len(db.scalars(select(Notification).where(Notification.user_id == owner.id)).all()) == 1
    assert len(emails_to(db, "order.paid", {owner.email})) == 1


def test_the_inbox_pages_by_cursor_and_filters(
    client: TestClient,
    db: Session,
    settings: Settings,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
) -> None:
    other = make_tenant(db, settings, name="Other")
    owner = tenant.users[Role.OWNER]
    add_member(db, other.company, owner, Role.OWNER)
    for number in range(5):
        order_paid(db, settings, tenant, number=f"N{number}")
    order_paid(db, settings, other, number="OTHER")
    deliver_events(session_factory, settings)
    headers = tenant.headers[Role.OWNER]

    first = inbox(client, headers, limit=2)
    assert [n["title"][6:8] for n in first["items"]] == ["OT", "N4"]
    second = inbox(client, headers, limit=2, before=first["next_cursor"])
    third = inbox(client, headers, limit=2, before=second["next_cursor"])
    assert [n["payload"]["order_number"] for n in second["items"] + third["items"]] == [
        "N3",
        "N2",
        "N1",
        "N0",
    ]
    assert (
        third["next_cursor"] is None
        or inbox(client, headers, before=third["next_cursor"])["items"] == []
    )
    only_other = inbox(client, headers, company_id=str(other.company.id))
    assert [n["payload"]["order_number"] for n in only_other["items"]] == ["OTHER"]
    count = client.get(f"{INBOX}/unread-count", headers=headers).json()
    assert count == {"unread": 6}

    ids = [n["id"] for n in first["items"]]
    marked = client.post(f"{INBOX}/read", json={"ids": ids}, headers=headers).json()
    assert marked == {"changed": 2}
    assert inbox(client, headers, unread="true")["unread"] == 4
    assert len(inbox(client, headers, unread="true")["items"]) == 4
    all_read = client.post(f"{INBOX}/read", json={}, headers=headers).json()
    assert all_read == {"changed": 4}
    unread_again = client.post(
        f"{INBOX}/read", json={"ids": ids[:1], "read": False}, headers=headers
    )
    assert unread_again.json() == {"changed": 1}

    deleted = client.delete(f"{INBOX}/{ids[0]}", headers=headers)
    assert deleted.status_code == 204
    assert ids[0] not in [n["id"] for n in inbox(client, headers, limit=100)["items"]]
    someone_else = client.delete(f"{INBOX}/{ids[1]}", headers=tenant.headers[Role.ADMIN])
    assert_error(someone_else, 404, "not_found")


def test_preferences_turn_channels_off_but_not_security_messages(
    client: TestClient,
    db: Session,
    settings: Settings,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
) -> None:
    headers = tenant.headers[Role.OWNER]
    listed = client.get(f"{INBOX}/preferences", headers=headers).json()
    paid = {p["channel"]: p for p in listed if p["type"] == "order.paid"}
    assert (paid["email"]["enabled"], paid["in_app"]["enabled"]) == (True, True)
    security = [p for p in listed if p["type"].startswith("security.")]
    assert len(security) == 3 * 2 + 2  # three types: two on every channel, one without email
    assert all(p["locked"] and p["enabled"] for p in security)

    off = {"preferences": [{"type": "order.paid", "channel": "email", "enabled": False}]}
    assert client.put(f"{INBOX}/preferences", json=off, headers=headers).status_code == 200
    locked = {
        "preferences": [{"type": "security.new_sign_in", "channel": "email", "enabled": False}]
    }
    assert_error(
        client.put(f"{INBOX}/preferences", json=locked, headers=headers), 409, "preference_locked"
    )
    unknown = {"preferences": [{"type": "no.such", "channel": "email", "enabled": False}]}
    assert_error(
        client.put(f"{INBOX}/preferences", json=unknown, headers=headers),
        422,
        "notification_type_unknown",
    )

    order_paid(db, settings, tenant)
    deliver_events(session_factory, settings)
    owner = tenant.users[Role.OWNER]
    assert emails_to(db, "order.paid", {owner.email}) == []
    assert len(inbox(client, headers)["items"]) == 1


def test_the_unsubscribe_link_turns_one_types_emails_off_without_signing_in(
    client: TestClient, db: Session, settings: Settings, tenant: Tenant
) -> None:
    owner = tenant.users[Role.OWNER]
    token = unsubscribe_token(settings, owner.id, "order.paid")
    page = client.get(f"{INBOX}/unsubscribe", params={"token": token})
    assert page.status_code == 200
    assert "<form method='post'" in page.text
    one_click = client.post(
        f"{INBOX}/unsubscribe",
        params={"token": token},
        data={"List-Unsubscribe": "One-Click"},
    )
    assert one_click.status_code == 200, one_click.text
    listed = client.get(f"{INBOX}/preferences", headers=tenant.headers[Role.OWNER]).json()
    [email] = [p for p in listed if p["type"] == "order.paid" and p["channel"] == "email"]
    assert email["enabled"] is False
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert_error(
        client.post(f"{INBOX}/unsubscribe", params={"token": forged}), 422, "token_invalid"
    )


def test_a_member_removed_hears_nothing_more_of_the_company(
    client: TestClient,
    db: Session,
    settings: Settings,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
) -> None:
    notifications.emit(
        db,
        settings,
        "content.published",
        {"content_id": "c", "title": "Postcard", "version": 2},
        company_id=tenant.company.id,
    )
    removed = client.delete(
        f"/api/v1/companies/{tenant.company.id}/members/{tenant.users[Role.EDITOR].id}",
        headers=tenant.headers[Role.OWNER],
    )
    assert removed.status_code == 204, removed.text
    deliver_events(session_factory, settings)
    assert inbox(client, tenant.headers[Role.EDITOR])["items"] == []
    assert len(inbox(client, tenant.headers[Role.ADMIN])["items"]) == 1
    # The viewer role makes nothing: content news is for owners, admins and editors.
    assert inbox(client, tenant.headers[Role.VIEWER])["items"] == []


def test_read_notifications_are_purged_after_the_retention(
    db: Session, settings: Settings, session_factory: sessionmaker[Session], tenant: Tenant
) -> None:
    order_paid(db, settings, tenant)
    order_paid(db, settings, tenant)
    deliver_events(session_factory, settings)
    owner = tenant.users[Role.OWNER]
    told = db.scalars(select(Notification).where(Notification.user_id == owner.id)).all()
    told[0].read_at = utcnow()
    db.flush()
    later = utcnow() + timedelta(days=settings.NOTIFICATION_READ_RETENTION_DAYS + 1)
    assert purge_read(db, settings, utcnow()) == 0
    assert purge_read(db, settings, later) == 1
    assert len(db.scalars(select(Notification).where(Notification.user_id == owner.id)).all()) == 1


def test_every_type_has_words_for_every_language() -> None:
    for name in ("order.paid", "video.ready", "security.new_sign_in"):
        kind = event_type(name)
        assert set(kind.words) == set(Language)


DEVICES = "/api/v1/push/devices"


def test_push_devices_are_registered_bounded_and_checked(
    client: TestClient, settings: Settings, tenant: Tenant
) -> None:
    headers = tenant.headers[Role.EDITOR]

    def register(device: dict[str, Any]) -> Any:
        return client.post(DEVICES, json=device, headers=headers)

    android = {"platform": "android", "token": "fcm-token-1", "app_version": "2.1.0"}
    made = register(android)
    assert made.status_code == 201, made.text
    again = register({**android, "app_version": "2.2.0"})
    assert again.json()["id"] == made.json()["id"]
    assert again.json()["app_version"] == "2.2.0"

    elsewhere = {
        "platform": "web",
        "token": "https://push.attacker.example/endpoint",
        "keys": {"p256dh": "BPk", "auth": "abc"},
    }
    assert_error(register(elsewhere), 422, "push_endpoint_refused")
    internal = {**elsewhere, "token": "http://10.0.0.5/push"}
    assert_error(register(internal), 422, "push_endpoint_refused")
    no_keys = {"platform": "web", "token": "https://fcm.googleapis.com/fcm/send/x"}
    assert_error(register(no_keys), 422, "validation_error")
    mozilla = {**elsewhere, "token": "https://updates.push.services.mozilla.com/wpush/v2/x"}
    assert register(mozilla).status_code == 201

    for number in range(settings.PUSH_MAX_DEVICES_PER_USER - 2):
        assert register({"platform": "ios", "token": f"apns-{number}"}).status_code == 201
    assert_error(register({"platform": "ios", "token": "one-more"}), 409, "push_device_limit")

    listed = client.get(DEVICES, headers=headers).json()
    assert len(listed) == settings.PUSH_MAX_DEVICES_PER_USER
    assert client.delete(f"{DEVICES}/{listed[0]['id']}", headers=headers).status_code == 204
    not_mine = client.delete(f"{DEVICES}/{listed[1]['id']}", headers=tenant.headers[Role.OWNER])
    assert_error(not_mine, 404, "not_found")


def test_the_same_device_registered_at_once_is_stored_once(
    engine: Engine, settings: Settings
) -> None:
    with session_scope() as db:
        user_id = make_user(db).id
    barrier = threading.Barrier(4)

    def register(_: int) -> uuid.UUID:
        with session_scope() as db:
            user = db.get_one(User, user_id)
            barrier.wait()
            service = NotificationService(db, user, settings)
            return service.register_device(PushPlatform.ANDROID, "one-phone", None, "1.0").id

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            ids = set(pool.map(register, range(4)))
        with session_scope() as db:
            stored = db.scalars(select(PushDevice).where(PushDevice.user_id == user_id)).all()
        assert [device.id for device in stored] == list(ids)
    finally:
        with session_scope() as db:
            db.execute(delete(User).where(User.id == user_id))
