"""Push, end to end: a device registered through the API, an event dispatched to its owner,
the push queued in the outbox and delivered through the real providers to fake FCM and Web
Push services speaking the real protocols; what each answer does to the outbox row, the
device and the delivery log the user reads."""

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.permissions import Role
from app.models import OutboxStatus
from app.services import notifications
from app.services.push import FcmProvider, WebPushProvider
from app.utils.clock import utcnow
from tests.conftest import ClientFactory
from tests.support.factories import Tenant, make_tenant
from tests.support.fake_fcm import FakeFcm
from tests.support.fake_webpush import FakePushService
from tests.support.notifications import deliver_events, deliver_pushes, pushes

DEVICES = "/api/v1/push/devices"
DELIVERIES = "/api/v1/notifications/deliveries"
INBOX = "/api/v1/notifications"
FCM_TOKEN = "fcm-token-1:APA91bHPRgkF"
READY_TITLE = "Video “Greeting” is ready"
READY_BODY = "Every rendition of it plays now."


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


def register(client: TestClient, headers: dict[str, str], device: dict[str, Any]) -> str:
    made = client.post(DEVICES, json=device, headers=headers)
    assert made.status_code == 201, made.text
    device_id: str = made.json()["id"]
    return device_id


def video_ready(
    db: Session, settings: Settings, sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    """The editor's video is ready: the event, dispatched as the notifications worker does."""
    notifications.emit(
        db,
        settings,
        "video.ready",
        {"video_id": str(uuid.uuid4()), "title": "Greeting", "reason": ""},
        company_id=tenant.company.id,
        user_id=tenant.users[Role.EDITOR].id,
    )
    db.commit()
    assert deliver_events(sessions, settings) == 1


def editor(tenant: Tenant) -> uuid.UUID:
    """Who uploads the videos of these tests, and gets their pushes."""
    return tenant.users[Role.EDITOR].id


def deliveries(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    listed = client.get(DELIVERIES, headers=headers)
    assert listed.status_code == 200, listed.text
    found: list[dict[str, Any]] = listed.json()
    return found


# -- FCM --------------------------------------------------------------------------------------


def test_a_ready_video_is_pushed_to_the_uploaders_phone(
    client: TestClient,
    db: Session,
    settings: Settings,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
    fcm: FakeFcm,
    fcm_settings: Settings,
) -> None:
    headers = tenant.headers[Role.EDITOR]
    device_id = register(client, headers, {"platform": "android", "token": FCM_TOKEN})

    video_ready(db, settings, session_factory, tenant)
    [queued] = pushes(session_factory, editor(tenant))
    assert (queued.recipient, queued.status) == (device_id, OutboxStatus.PENDING)
    outcomes = deliver_pushes(
        session_factory, settings, [FcmProvider(fcm_settings)], editor(tenant)
    )

    assert [outcome.status for outcome in outcomes] == ["sent"]
    [notification] = client.get(INBOX, headers=headers).json()["items"]
    assert fcm.sent_to(FCM_TOKEN) == [
        {
            "token": FCM_TOKEN,
            "notification": {"title": READY_TITLE, "body": READY_BODY},
            "data": {"type": "video.ready", "id": notification["id"]},
        }
    ]
    [push] = deliveries(client, headers)
    assert push["notification_id"] == notification["id"]
    assert (push["type"], push["channel"], push["status"], push["reason"]) == (
        "video.ready",
        "push",
        "sent",
        None,
    )
    assert push["device_id"] == device_id
    # Nobody else in the company heard of the editor's video.
    assert fcm.messages == fcm.sent_to(FCM_TOKEN)
    assert deliveries(client, tenant.headers[Role.OWNER]) == []


def test_an_unregistered_token_dead_letters_the_push_and_removes_the_device(
    client: TestClient,
    db: Session,
    settings: Settings,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
    fcm: FakeFcm,
    fcm_settings: Settings,
) -> None:
    headers = tenant.headers[Role.EDITOR]
    register(client, headers, {"platform": "android", "token": FCM_TOKEN})
    kept = register(client, headers, {"platform": "ios", "token": "apns-token-2"})
    fcm.unregistered(FCM_TOKEN)

    video_ready(db, settings, session_factory, tenant)
    outcomes = deliver_pushes(
        session_factory, settings, [FcmProvider(fcm_settings)], editor(tenant)
    )

    assert sorted(outcome.status for outcome in outcomes) == ["dead", "sent"]
    queued = pushes(session_factory, editor(tenant))
    dead = [row for row in queued if row.status is OutboxStatus.DEAD]
    assert [row.last_error for row in dead] == ["gone: fcm 404 UNREGISTERED"]
    assert [device["id"] for device in client.get(DEVICES, headers=headers).json()] == [kept]
    log = {entry["status"]: entry for entry in deliveries(client, headers)}
    assert set(log) == {"failed", "sent"}
    assert log["failed"]["reason"] == "gone: fcm 404 UNREGISTERED"
    assert log["failed"]["device_id"] is None  # the device it went to is gone
    assert log["sent"]["device_id"] == kept
    assert len(fcm.sent_to("apns-token-2")) == 1


def test_an_fcm_outage_is_retried_later_and_the_push_then_goes_through(
    client: TestClient,
    db: Session,
    settings: Settings,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
    fcm: FakeFcm,
    fcm_settings: Settings,
) -> None:
    headers = tenant.headers[Role.EDITOR]
    register(client, headers, {"platform": "android", "token": FCM_TOKEN})
    fcm.fail_next(1, 503)
    # The shortest backoff the settings allow: the retry is due within a fraction of a second.
    quick = settings.model_copy(update={"OUTBOX_RETRY_BASE_SECONDS": 0.1})
    providers = [FcmProvider(fcm_settings)]

    video_ready(db, settings, session_factory, tenant)
    before = utcnow()
    outcomes = deliver_pushes(session_factory, quick, providers, editor(tenant))

    assert [outcome.status for outcome in outcomes] == ["retry"]
    [waiting] = pushes(session_factory, editor(tenant))
    assert (waiting.status, waiting.attempts) == (OutboxStatus.PENDING, 1)
    assert waiting.last_error == "retry: fcm 503 UNAVAILABLE"
    assert before < waiting.available_at <= before + timedelta(seconds=1)
    [queued] = deliveries(client, headers)
    assert (queued["status"], queued["reason"], queued["attempts"]) == (
        "queued",
        "retry: fcm 503 UNAVAILABLE",
        1,
    )
    assert fcm.sent_to(FCM_TOKEN) == []

    deadline = time.monotonic() + 5
    while not (retried := deliver_pushes(session_factory, quick, providers, editor(tenant))):
        assert time.monotonic() < deadline, "the retry never came due"
        time.sleep(0.02)  # not due yet
    assert [outcome.status for outcome in retried] == ["sent"]
    assert len(fcm.sent_to(FCM_TOKEN)) == 1
    [sent] = deliveries(client, headers)
    assert (sent["status"], sent["reason"], sent["attempts"]) == ("sent", None, 2)


# -- Web Push ---------------------------------------------------------------------------------


def test_a_browser_gets_the_push_and_an_expired_subscription_is_removed(
    client_for: ClientFactory,
    db: Session,
    settings: Settings,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
    push_service: FakePushService,
    webpush_settings: Settings,
    vapid: tuple[str, str],
) -> None:
    client = client_for(webpush_settings)
    headers = tenant.headers[Role.EDITOR]
    browser = push_service.subscribe(application_server_key=vapid[1])
    lapsed = push_service.subscribe(application_server_key=vapid[1])
    kept = register(
        client, headers, {"platform": "web", "token": browser["endpoint"], "keys": browser["keys"]}
    )
    register(
        client, headers, {"platform": "web", "token": lapsed["endpoint"], "keys": lapsed["keys"]}
    )
    push_service.expire(lapsed["endpoint"])

    video_ready(db, settings, session_factory, tenant)
    outcomes = deliver_pushes(
        session_factory, settings, [WebPushProvider(webpush_settings)], editor(tenant)
    )

    assert sorted(outcome.status for outcome in outcomes) == ["dead", "sent"]
    [notification] = client.get(INBOX, headers=headers).json()["items"]
    assert push_service.received(browser["endpoint"]) == [
        {
            "title": READY_TITLE,
            "body": READY_BODY,
            "link": None,
            "data": {"type": "video.ready", "id": notification["id"]},
        }
    ]
    assert push_service.received(lapsed["endpoint"]) == []
    assert [device["id"] for device in client.get(DEVICES, headers=headers).json()] == [kept]
    failed = [entry for entry in deliveries(client, headers) if entry["status"] == "failed"]
    assert [entry["reason"] for entry in failed] == ["gone: webpush 410"]


# -- preferences ------------------------------------------------------------------------------


def test_push_turned_off_for_a_type_queues_no_push(
    client: TestClient,
    db: Session,
    settings: Settings,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
) -> None:
    headers = tenant.headers[Role.EDITOR]
    register(client, headers, {"platform": "android", "token": FCM_TOKEN})
    video_ready(db, settings, session_factory, tenant)
    assert len(pushes(session_factory, editor(tenant))) == 1

    off = {"preferences": [{"type": "video.ready", "channel": "push", "enabled": False}]}
    assert client.put(f"{INBOX}/preferences", json=off, headers=headers).status_code == 200
    video_ready(db, settings, session_factory, tenant)

    assert len(pushes(session_factory, editor(tenant))) == 1
    assert len(deliveries(client, headers)) == 1
    # Still told in the app: only the push was turned off.
    assert len(client.get(INBOX, headers=headers).json()["items"]) == 2
