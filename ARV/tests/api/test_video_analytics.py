"""Playback analytics: the public batch endpoint viewer apps report to, the rollup into
daily figures, the stats endpoint members read, and raw-event retention."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.models import Company, Video, VideoStatus
from app.models.video_analytics import VideoDailyStats, VideoEvent, VideoStatsBacklog
from app.services.context import SystemActor
from app.services.tenant import ScopedService
from app.services.video_analytics_service import purge_expired_events, roll_up
from app.utils.clock import utcnow
from tests.conftest import ClientFactory
from tests.support.factories import Tenant, make_tenant, make_video

EVENTS_URL = "/api/v1/viewer/events"
DEVICE = "install-0001"


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    tenant = make_tenant(db, settings)
    tenant.company.plan = "pro"  # analytics included
    db.flush()
    return tenant


@pytest.fixture
def video(db: Session, tenant: Tenant) -> Video:
    return make_video(db, tenant.company, duration_seconds=30.0)


def event(
    video: Video,
    kind: str,
    *,
    session: uuid.UUID | None = None,
    at: datetime | None = None,
    watched: float = 0.0,
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "video_id": str(video.id),
        "session_id": str(session or uuid.uuid4()),
        "type": kind,
        "occurred_at": (at or utcnow() - timedelta(minutes=1)).isoformat(),
        "watched_seconds": watched,
    }


def playback(
    video: Video, *, at: datetime | None = None, complete: bool = True
) -> list[dict[str, Any]]:
    """One session: play, 10 s in, pause, resume, then 20 s more (and complete)."""
    session = uuid.uuid4()
    events = [
        event(video, "play", session=session, at=at),
        event(video, "pause", session=session, at=at, watched=10),
        event(video, "play", session=session, at=at),
        event(video, "progress", session=session, at=at, watched=15),
    ]
    if complete:
        events.append(event(video, "complete", session=session, at=at, watched=5))
    return events


def report(
    client: TestClient, events: list[dict[str, Any]], device: str = DEVICE
) -> dict[str, Any]:
    response = client.post(EVENTS_URL, json={"device_id": device, "events": events})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def stats(
    client: TestClient, tenant: Tenant, video: Video, role: Role = Role.VIEWER, **query: str
) -> Any:
    return client.get(
        f"/api/v1/companies/{tenant.company.id}/videos/{video.id}/stats",
        params=query,
        headers=tenant.headers[role],
    )


def daily(db: Session, video: Video) -> dict[date, VideoDailyStats]:
    db.expire_all()
    rows = db.scalars(select(VideoDailyStats).where(VideoDailyStats.video_id == video.id))
    return {row.day: row for row in rows}


def stored_events(db: Session, video: Video) -> int:
    count = db.scalar(
        select(func.count()).select_from(VideoEvent).where(VideoEvent.video_id == video.id)
    )
    return count or 0


def today() -> date:
    return utcnow().date()


# --- ingest ---------------------------------------------------------------------------


def test_a_batch_is_stored_without_signing_in(
    client: TestClient, db: Session, tenant: Tenant, video: Video
) -> None:
    body = report(client, playback(video))
    assert body == {"accepted": 5, "duplicates": 0, "rejected": []}
    assert stored_events(db, video) == 5
    row = db.scalars(select(VideoEvent).where(VideoEvent.video_id == video.id)).first()
    assert row is not None
    assert row.company_id == tenant.company.id


def test_a_batch_sent_again_counts_once(client: TestClient, db: Session, video: Video) -> None:
    events = playback(video)
    report(client, events)
    assert report(client, events) == {"accepted": 0, "duplicates": 5, "rejected": []}
    one_new = [*events, event(video, "play")]
    assert report(client, one_new) == {"accepted": 1, "duplicates": 5, "rejected": []}
    assert stored_events(db, video) == 6


def test_the_install_id_is_kept_only_as_a_keyed_hash(
    client: TestClient, db: Session, video: Video
) -> None:
    report(client, [event(video, "play")])
    row = db.scalars(select(VideoEvent).where(VideoEvent.video_id == video.id)).one()
    assert DEVICE not in row.device_hash
    assert len(row.device_hash) == 32
    int(row.device_hash, 16)


def test_events_that_cannot_count_are_refused_one_by_one(
    client: TestClient, db: Session, tenant: Tenant, video: Video
) -> None:
    deleted = make_video(db, tenant.company)
    deleted.soft_delete()
    unprobed = make_video(db, tenant.company, status=VideoStatus.PROCESSING, duration_seconds=None)
    db.flush()
    now = utcnow()
    events = [
        event(video, "play"),
        {**event(video, "play"), "video_id": str(uuid.uuid4())},
        event(deleted, "play"),
        event(unprobed, "play"),
        event(video, "play", at=now - timedelta(days=7, minutes=1)),
        event(video, "play", at=now + timedelta(minutes=10)),
        event(video, "progress", watched=31.5),
        event(video, "progress", watched=30.9),
    ]
    body = report(client, events)
    assert body["accepted"] == 2
    assert [(item["index"], item["reason"]) for item in body["rejected"]] == [
        (1, "unknown_video"),
        (2, "unknown_video"),
        (3, "unknown_video"),
        (4, "too_old"),
        (5, "in_future"),
        (6, "watched_exceeds_duration"),
    ]
    assert all(item["message"] for item in body["rejected"])
    assert stored_events(db, video) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"device_id": "short"}, "device_id"),
        ({"device_id": "has spaces in it"}, "device_id"),
        ({"events": []}, "events"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_malformed_batch_is_refused_whole(
    client: TestClient, db: Session, video: Video, change: dict[str, Any], field: str
) -> None:
    body = {"device_id": DEVICE, "events": [event(video, "play")], **change}
    response = client.post(EVENTS_URL, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in str(error["details"])
    assert stored_events(db, video) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"type": "rewind"},
        {"watched_seconds": -1},
        {"watched_seconds": 3601},
        {"occurred_at": "2026-11-21T10:00:00"},
        {"event_id": "not-a-uuid"},
    ],
)
def test_a_malformed_event_is_refused(
    client: TestClient, video: Video, change: dict[str, Any]
) -> None:
    body = {"device_id": DEVICE, "events": [{**event(video, "play"), **change}]}
    response = client.post(EVENTS_URL, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


def test_not_a_number_is_refused(client: TestClient, video: Video) -> None:
    payload = f'{{"device_id": "{DEVICE}", "events": [{{"event_id": "{uuid.uuid4()}", '
    payload += f'"video_id": "{video.id}", "session_id": "{uuid.uuid4()}", "type": "pause", '
    payload += f'"occurred_at": "{utcnow().isoformat()}", "watched_seconds": NaN}}]}}'
    response = client.post(
        EVENTS_URL, content=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text


def test_a_batch_is_bounded(client: TestClient, video: Video) -> None:
    response = client.post(
        EVENTS_URL,
        json={"device_id": DEVICE, "events": [event(video, "play") for _ in range(101)]},
    )
    assert response.status_code == 422
    assert report(client, [event(video, "play") for _ in range(100)])["accepted"] == 100


def test_reports_are_rate_limited_per_address(
    client_for: ClientFactory, settings: Settings, video: Video
) -> None:
    limited = client_for(settings.model_copy(update={"VIEWER_RATE_LIMIT_PER_IP": 2}))
    body = {"device_id": DEVICE, "events": [event(video, "play")]}
    assert [limited.post(EVENTS_URL, json=body).status_code for _ in range(3)] == [202, 202, 429]
    assert int(limited.post(EVENTS_URL, json=body).headers["Retry-After"]) >= 1


# --- rollup ---------------------------------------------------------------------------


def test_roll_up_counts_views_completions_watch_time_and_devices(
    client: TestClient, db: Session, video: Video
) -> None:
    report(client, playback(video) + playback(video, complete=False))
    report(client, playback(video), device="install-0002")
    assert roll_up(db) == 1
    figures = daily(db, video)[today()]
    assert figures.views == 3
    assert figures.completions == 2
    assert figures.watch_seconds == pytest.approx(30 + 25 + 30)
    assert figures.unique_devices == 2


def test_roll_up_recomputes_instead_of_adding(
    client: TestClient, db: Session, video: Video
) -> None:
    report(client, playback(video))
    roll_up(db)
    assert roll_up(db) == 0
    report(client, playback(video))
    report(client, playback(video))  # a resend from the same device adds nothing
    assert roll_up(db) == 1
    figures = daily(db, video)[today()]
    assert (figures.views, figures.completions, figures.unique_devices) == (3, 3, 1)


def test_events_fall_on_their_utc_day(client: TestClient, db: Session, video: Video) -> None:
    yesterday = today() - timedelta(days=1)
    late_evening_utc = datetime.combine(yesterday, datetime.min.time(), UTC).replace(
        hour=23, minute=59
    )
    # 01:30 in Moscow today is 22:30 UTC yesterday.
    moscow = datetime.fromisoformat(f"{today().isoformat()}T01:30:00+03:00")
    report(client, [event(video, "play", at=late_evening_utc), event(video, "play", at=moscow)])
    report(client, [event(video, "play")])
    assert roll_up(db) == 2
    figures = daily(db, video)
    assert figures[yesterday].views == 2
    assert figures[today()].views == 1


def test_a_roll_up_counts_one_company_at_a_time(
    client: TestClient, db: Session, settings: Settings, video: Video
) -> None:
    other = make_video(db, make_tenant(db, settings, name="Other").company, duration_seconds=30.0)
    report(client, playback(video))
    report(client, playback(other))
    first, second = roll_up(db), roll_up(db)
    assert (first, second, roll_up(db)) == (1, 1, 0)
    assert daily(db, video)[today()].views == 1
    assert daily(db, other)[today()].views == 1


# --- stats ----------------------------------------------------------------------------


def test_stats_list_every_day_of_the_range_with_totals(
    client: TestClient, db: Session, tenant: Tenant, video: Video
) -> None:
    report(client, playback(video) + playback(video, complete=False))
    start = today() - timedelta(days=2)
    response = stats(client, tenant, video, **{"from": start.isoformat()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pending"] is True
    assert [day["views"] for day in body["days"]] == [0, 0, 0]

    roll_up(db)
    body = stats(client, tenant, video, **{"from": start.isoformat()}).json()
    assert body["pending"] is False
    assert (body["start"], body["end"]) == (start.isoformat(), today().isoformat())
    assert [day["day"] for day in body["days"]] == [
        (start + timedelta(days=n)).isoformat() for n in range(3)
    ]
    assert body["days"][-1] == {
        "day": today().isoformat(),
        "views": 2,
        "completions": 1,
        "watch_seconds": 55.0,
        "unique_devices": 1,
    }
    assert body["totals"] == {
        "views": 2,
        "completions": 1,
        "watch_seconds": 55.0,
        "completion_rate": 0.5,
    }


def test_stats_default_to_the_last_thirty_days(
    client: TestClient, tenant: Tenant, video: Video
) -> None:
    body = stats(client, tenant, video).json()
    assert len(body["days"]) == 30
    assert body["end"] == today().isoformat()
    assert body["totals"]["completion_rate"] is None


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"from": "2026-11-10", "to": "2026-11-01"}, "stats_range_invalid"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "stats_range_invalid"),
        ({"from": "yesterday"}, "validation_error"),
        ({"to": "0001-01-05"}, "validation_error"),
        ({"from": "9999-12-31"}, "validation_error"),
    ],
)
def test_stats_refuse_a_bad_range(
    client: TestClient, tenant: Tenant, video: Video, query: dict[str, str], code: str
) -> None:
    response = stats(client, tenant, video, **query)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code


def test_stats_need_a_plan_with_analytics(
    client: TestClient, db: Session, tenant: Tenant, video: Video
) -> None:
    tenant.company.plan = "free"
    db.flush()
    response = stats(client, tenant, video)
    assert response.status_code == 402, response.text
    assert response.json()["error"]["details"]["feature"] == "analytics"


def test_another_companys_video_has_no_stats_here(
    client: TestClient, db: Session, settings: Settings, tenant: Tenant
) -> None:
    other = make_tenant(db, settings, name="Other Co")
    foreign = make_video(db, other.company)
    response = stats(client, tenant, foreign)
    assert response.status_code == 404
    assert response.json()["error"]["details"]["entity"] == "Video"


def test_stats_of_one_video_ignore_another(
    client: TestClient, db: Session, tenant: Tenant, video: Video
) -> None:
    second = make_video(db, tenant.company)
    report(client, playback(second))
    roll_up(db)
    assert stats(client, tenant, video).json()["totals"]["views"] == 0
    assert stats(client, tenant, second).json()["totals"]["views"] == 1


# --- retention ------------------------------------------------------------------------


def insert_event(db: Session, video: Video, day: date) -> None:
    db.add(
        VideoEvent(
            company_id=video.company_id,
            video_id=video.id,
            event_id=uuid.uuid4(),
            kind="play",
            session_id=uuid.uuid4(),
            device_hash="0" * 32,
            occurred_at=datetime.combine(day, datetime.min.time(), UTC),
            day=day,
        )
    )
    db.flush()


def system_scope_of(db: Session, video: Video) -> ScopedService:
    return ScopedService(db, SystemActor(video.company_id, task="analytics.purge_events"))


def test_purge_drops_raw_events_past_retention_and_keeps_figures(
    db: Session, settings: Settings, video: Video
) -> None:
    old = today() - timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS + 1)
    kept = today() - timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS)
    insert_event(db, video, old)
    insert_event(db, video, kept)
    db.add(VideoStatsBacklog(company_id=video.company_id, video_id=video.id, day=old))
    db.flush()
    roll_up(db)
    assert purge_expired_events(system_scope_of(db, video), settings) == 1
    assert stored_events(db, video) == 1
    assert daily(db, video)[old].views == 1


def test_purge_waits_for_a_day_not_yet_counted(
    db: Session, settings: Settings, video: Video
) -> None:
    old = today() - timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS + 3)
    insert_event(db, video, old)
    db.add(VideoStatsBacklog(company_id=video.company_id, video_id=video.id, day=old))
    db.flush()
    assert purge_expired_events(system_scope_of(db, video), settings) == 0
    roll_up(db)
    assert purge_expired_events(system_scope_of(db, video), settings) == 1


def test_company_plan_is_not_needed_to_report(
    client: TestClient, db: Session, tenant: Tenant, video: Video
) -> None:
    """Events of a plan without analytics are kept, so an upgrade shows recent history."""
    company: Company = tenant.company
    company.plan = "free"
    db.flush()
    assert report(client, [event(video, "play")])["accepted"] == 1
