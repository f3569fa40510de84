"""Scan analytics: the public endpoint viewer pages and apps report events of one AR
content to, the rollup into daily figures per content, the stats members read per content
and per project, and raw-event retention."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.models import ARContent, ContentStatus, Project
from app.models.scan_analytics import ContentDailyStats, ContentStatsBacklog, ViewerEvent
from app.services import event_log
from app.services.context import SystemActor
from app.services.scan_analytics_service import SCANS
from app.services.tenant import ScopedService
from app.services.video_analytics_service import roll_up as roll_up_playback
from app.utils.clock import utcnow
from tests.conftest import ClientFactory
from tests.support.factories import Tenant, make_project, make_published_content, make_tenant

DEVICE = "browser-0001"


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    tenant = make_tenant(db, settings)
    tenant.company.plan = "pro"  # analytics included
    db.flush()
    return tenant


@pytest.fixture
def project(db: Session, tenant: Tenant) -> Project:
    return make_project(db, tenant.company)


def published(db: Session, project: Project, title: str = "Postcard") -> ARContent:
    return make_published_content(db, project, title, served=2)


@pytest.fixture
def content(db: Session, project: Project) -> ARContent:
    return published(db, project)


def event(
    kind: str,
    *,
    session: uuid.UUID | None = None,
    at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": str(session or uuid.uuid4()),
        "type": kind,
        "occurred_at": (at or utcnow() - timedelta(minutes=1)).isoformat(),
        **fields,
    }


def visit(
    *detect_ms: int, start: bool = False, complete: bool = False, watched: float = 0.0
) -> list[dict[str, Any]]:
    """One session: the page opens, the marker is found once per `detect_ms` (lost in
    between), the video maybe starts, plays `watched` seconds and completes."""
    session = uuid.uuid4()
    events = [event("page_open", session=session)]
    for ms in detect_ms:
        events.append(event("marker_found", session=session, time_to_detect_ms=ms))
        events.append(event("marker_lost", session=session))
    if start:
        events.append(event("video_start", session=session))
    if watched:
        events.append(event("video_progress", session=session, watched_seconds=watched))
    if complete:
        events.append(event("video_complete", session=session))
    return events


def url(content: ARContent | str) -> str:
    public_id = content if isinstance(content, str) else content.public_id
    return f"/api/v1/viewer/{public_id}/events"


def batch(events: list[dict[str, Any]], device: str = DEVICE, **fields: Any) -> dict[str, Any]:
    return {"device_id": device, "platform": "web", "events": events, **fields}


def report(
    client: TestClient, content: ARContent, events: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    response = client.post(url(content), json=batch(events, **fields))
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def stored(db: Session, content: ARContent) -> list[ViewerEvent]:
    db.expire_all()
    return list(db.scalars(select(ViewerEvent).where(ViewerEvent.ar_content_id == content.id)))


def roll_up(db: Session) -> int:
    return event_log.roll_up(db, SCANS)


def daily(db: Session, content: ARContent) -> dict[date, ContentDailyStats]:
    db.expire_all()
    rows = db.scalars(
        select(ContentDailyStats).where(ContentDailyStats.ar_content_id == content.id)
    )
    return {row.day: row for row in rows}


def today() -> date:
    return utcnow().date()


def get(client: TestClient, tenant: Tenant, path: str, **query: str) -> Any:
    base = f"/api/v1/companies/{tenant.company.id}"
    return client.get(f"{base}{path}", params=query, headers=tenant.headers[Role.VIEWER])


def content_stats(client: TestClient, tenant: Tenant, content: ARContent, **query: str) -> Any:
    return get(
        client, tenant, f"/projects/{content.project_id}/ar-contents/{content.id}/stats", **query
    )


def project_stats(client: TestClient, tenant: Tenant, project: Project, **query: str) -> Any:
    return get(client, tenant, f"/projects/{project.id}/stats", **query)


# --- ingest ---------------------------------------------------------------------------


def test_a_batch_is_stored_without_signing_in(
    client: TestClient, db: Session, tenant: Tenant, content: ARContent
) -> None:
    body = report(client, content, visit(850, start=True), client_version="Chrome 131")
    assert body == {"accepted": 4, "duplicates": 0, "rejected": []}
    rows = stored(db, content)
    assert {row.kind for row in rows} == {
        "page_open",
        "marker_found",
        "marker_lost",
        "video_start",
    }
    row = rows[0]
    assert (row.company_id, row.project_id, row.version) == (
        tenant.company.id,
        content.project_id,
        2,
    )
    assert (row.platform, row.client_version) == ("web", "Chrome 131")
    found = next(row for row in rows if row.kind == "marker_found")
    assert found.time_to_detect_ms == 850


def test_a_batch_sent_again_counts_once(
    client: TestClient, db: Session, content: ARContent
) -> None:
    events = visit(500)
    report(client, content, events)
    assert report(client, content, events) == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert report(client, content, [*events, event("page_open")])["accepted"] == 1
    assert len(stored(db, content)) == 4


def test_the_device_id_is_kept_only_as_a_keyed_hash(
    client: TestClient, db: Session, content: ARContent
) -> None:
    report(client, content, [event("page_open")])
    (row,) = stored(db, content)
    assert DEVICE not in row.device_hash
    assert len(row.device_hash) == 32
    int(row.device_hash, 16)


def test_events_that_cannot_count_are_refused_one_by_one(
    client: TestClient, db: Session, content: ARContent
) -> None:
    now = utcnow()
    events = [
        event("page_open"),
        event("page_open", at=now - timedelta(days=7, minutes=1)),
        event("page_open", at=now + timedelta(minutes=10)),
        event("marker_lost", time_to_detect_ms=300),
        event("marker_found", watched_seconds=2),
        event("video_progress", watched_seconds=2.5),
        event("marker_found"),
    ]
    body = report(client, content, events)
    assert body["accepted"] == 3
    assert [(item["index"], item["reason"]) for item in body["rejected"]] == [
        (1, "too_old"),
        (2, "in_future"),
        (3, "detect_time_without_found"),
        (4, "watched_without_video"),
    ]
    assert all(item["message"] for item in body["rejected"])
    assert len(stored(db, content)) == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"device_id": "short"}, "device_id"),
        ({"platform": "symbian"}, "platform"),
        ({"client_version": "x" * 41}, "client_version"),
        ({"client_version": "Chrome\n131"}, "client_version"),
        ({"events": []}, "events"),
        ({"events": [event("page_open") for _ in range(101)]}, "events"),
        ({"events": [event("marker_found", time_to_detect_ms=600_001)]}, "time_to_detect_ms"),
        ({"events": [event("marker_found", time_to_detect_ms=-1)]}, "time_to_detect_ms"),
        ({"events": [event("video_progress", watched_seconds=3601)]}, "watched_seconds"),
        ({"events": [event("scan")]}, "type"),
        ({"events": [{**event("page_open"), "occurred_at": "2026-11-21T10:00:00"}]}, "occurred"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_malformed_batch_is_refused_whole(
    client: TestClient, db: Session, content: ARContent, change: dict[str, Any], field: str
) -> None:
    response = client.post(url(content), json={**batch([event("page_open")]), **change})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in str(error["details"])
    assert stored(db, content) == []


@pytest.mark.parametrize("status", [ContentStatus.DRAFT, ContentStatus.UNPUBLISHED])
def test_a_content_not_on_the_air_takes_no_events(
    client: TestClient, db: Session, project: Project, status: ContentStatus
) -> None:
    content = published(db, project)
    content.status = status
    db.flush()
    response = client.post(url(content), json=batch([event("page_open")]))
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert stored(db, content) == []


def test_an_unknown_public_id_is_not_found(client: TestClient) -> None:
    response = client.post(url("nosuchcontnt"), json=batch([event("page_open")]))
    assert response.status_code == 404, response.text


def test_reports_are_rate_limited_per_address(
    client_for: ClientFactory, settings: Settings, content: ARContent
) -> None:
    limited = client_for(settings.model_copy(update={"VIEWER_RATE_LIMIT_PER_IP": 2}))
    body = batch([event("page_open")])
    codes = [limited.post(url(content), json=body).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert int(limited.post(url(content), json=body).headers["Retry-After"]) >= 1


# --- rollup ---------------------------------------------------------------------------


def test_roll_up_counts_scans_found_rate_and_times_to_detect(
    client: TestClient, db: Session, content: ARContent
) -> None:
    # Four visits, three of them found the marker (one twice); two devices.
    report(client, content, visit(100, 1000, start=True, watched=10, complete=True))
    report(client, content, visit(200, start=True, watched=2.5))
    report(client, content, visit(300) + visit(400), device="browser-0002")
    report(client, content, visit(), device="browser-0002")
    assert roll_up(db) == 1
    figures = daily(db, content)[today()]
    assert (figures.opens, figures.opened_sessions) == (5, 5)
    assert (figures.scans, figures.found_sessions) == (5, 4)
    assert figures.found_rate == pytest.approx(0.8)
    assert figures.unique_devices == 2
    # 100, 200, 300, 400, 1000: the median 300; the 90th percentile 400 + 0.6 * 600.
    assert figures.detect_ms_median == pytest.approx(300)
    assert figures.detect_ms_p90 == pytest.approx(760)
    assert (figures.starts, figures.completions) == (2, 1)
    assert figures.watched_seconds == pytest.approx(12.5)
    assert figures.project_id == content.project_id


def test_roll_up_recomputes_instead_of_adding(
    client: TestClient, db: Session, content: ARContent
) -> None:
    events = visit(250)
    report(client, content, events)
    roll_up(db)
    assert roll_up(db) == 0
    report(client, content, events)  # a resend adds nothing
    report(client, content, visit(750))
    assert roll_up(db) == 1
    figures = daily(db, content)[today()]
    assert (figures.opens, figures.scans) == (2, 2)
    assert figures.detect_ms_median == pytest.approx(500)


def test_a_day_without_detections_has_no_times(
    client: TestClient, db: Session, content: ARContent
) -> None:
    report(client, content, visit())
    roll_up(db)
    figures = daily(db, content)[today()]
    assert (figures.scans, figures.found_rate) == (0, 0.0)
    assert (figures.detect_ms_median, figures.detect_ms_p90) == (None, None)


def test_playback_and_scan_rollups_keep_to_their_own_backlog(
    client: TestClient, db: Session, content: ARContent
) -> None:
    report(client, content, visit(100))
    assert roll_up_playback(db) == 0
    assert roll_up(db) == 1


# --- stats ----------------------------------------------------------------------------


def test_content_stats_list_every_day_with_totals(
    client: TestClient, db: Session, tenant: Tenant, content: ARContent
) -> None:
    report(client, content, visit(100, start=True, complete=True) + visit())
    start = (today() - timedelta(days=2)).isoformat()
    body = content_stats(client, tenant, content, **{"from": start}).json()
    assert body["pending"] is True
    assert [day["scans"] for day in body["days"]] == [0, 0, 0]

    roll_up(db)
    response = content_stats(client, tenant, content, **{"from": start})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pending"] is False
    assert body["days"][0]["found_rate"] is None
    assert body["days"][-1] == {
        "day": today().isoformat(),
        "opens": 2,
        "scans": 1,
        "found_rate": 0.5,
        "unique_devices": 1,
        "detect_ms_median": 100.0,
        "detect_ms_p90": 100.0,
        "starts": 1,
        "completions": 1,
        "watched_seconds": 0.0,
    }
    assert body["totals"] == {
        "opens": 2,
        "scans": 1,
        "found_rate": 0.5,
        "starts": 1,
        "completions": 1,
        "watched_seconds": 0.0,
    }


def test_project_stats_sum_the_contents_worst_tracking_first(
    client: TestClient, db: Session, tenant: Tenant, project: Project, content: ARContent
) -> None:
    badly = published(db, project, "Glossy print")
    report(client, content, visit(100) + visit(200))
    report(client, badly, visit(900) + visit() + visit() + visit())
    roll_up(db)
    response = project_stats(client, tenant, project)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["days"]) == 30
    assert body["days"][-1]["opens"] == 6
    assert body["totals"]["scans"] == 3
    assert body["totals"]["found_rate"] == pytest.approx(3 / 6)
    assert [(item["title"], item["found_rate"]) for item in body["contents"]] == [
        ("Glossy print", 0.25),
        ("Postcard", 1.0),
    ]
    assert body["contents"][0]["ar_content_id"] == str(badly.id)


def test_stats_of_another_project_are_separate(
    client: TestClient, db: Session, tenant: Tenant, project: Project, content: ARContent
) -> None:
    other = make_project(db, tenant.company, name="Other")
    report(client, content, visit(100))
    roll_up(db)
    assert project_stats(client, tenant, other).json()["totals"]["opens"] == 0
    # A content is found only through its own project.
    misplaced = get(client, tenant, f"/projects/{other.id}/ar-contents/{content.id}/stats")
    assert misplaced.status_code == 404, misplaced.text


def test_the_project_summary_shows_the_last_thirty_days(
    client: TestClient, db: Session, tenant: Tenant, project: Project, content: ARContent
) -> None:
    report(client, content, visit(100, start=True) + visit())
    roll_up(db)
    response = get(client, tenant, f"/projects/{project.id}/summary")
    assert response.status_code == 200, response.text
    assert response.json()["scans"] == {
        "opens": 2,
        "scans": 1,
        "found_rate": 0.5,
        "starts": 1,
        "completions": 0,
        "watched_seconds": 0.0,
    }


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"from": "2026-11-10", "to": "2026-11-01"}, "stats_range_invalid"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "stats_range_invalid"),
        ({"from": "yesterday"}, "validation_error"),
    ],
)
def test_stats_refuse_a_bad_range(
    client: TestClient,
    tenant: Tenant,
    project: Project,
    content: ARContent,
    query: dict[str, str],
    code: str,
) -> None:
    for response in (
        content_stats(client, tenant, content, **query),
        project_stats(client, tenant, project, **query),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == code


def test_stats_need_a_plan_with_analytics(
    client: TestClient, db: Session, tenant: Tenant, project: Project, content: ARContent
) -> None:
    tenant.company.plan = "free"
    db.flush()
    for response in (
        content_stats(client, tenant, content),
        project_stats(client, tenant, project),
    ):
        assert response.status_code == 402, response.text
        assert response.json()["error"]["details"]["feature"] == "analytics"
    # Events are still kept, so an upgrade shows recent history.
    assert report(client, content, [event("page_open")])["accepted"] == 1


# --- retention ------------------------------------------------------------------------


def insert_event(db: Session, content: ARContent, day: date) -> None:
    db.add(
        ViewerEvent(
            company_id=content.company_id,
            project_id=content.project_id,
            ar_content_id=content.id,
            event_id=uuid.uuid4(),
            version=2,
            kind="page_open",
            session_id=uuid.uuid4(),
            device_hash="0" * 32,
            platform="ios",
            occurred_at=datetime.combine(day, datetime.min.time(), UTC),
            day=day,
        )
    )
    db.flush()


def test_purge_drops_raw_events_past_retention_once_counted(
    db: Session, settings: Settings, content: ARContent
) -> None:
    old = today() - timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS + 1)
    insert_event(db, content, old)
    insert_event(db, content, today())
    db.add(
        ContentStatsBacklog(
            company_id=content.company_id,
            project_id=content.project_id,
            ar_content_id=content.id,
            day=old,
        )
    )
    db.flush()
    scope = ScopedService(db, SystemActor(content.company_id, task="analytics.purge_events"))
    assert event_log.purge_expired_events(scope, SCANS, settings) == 0  # not yet counted
    roll_up(db)
    assert event_log.purge_expired_events(scope, SCANS, settings) == 1
    remaining = db.scalar(
        select(func.count()).select_from(ViewerEvent).where(ViewerEvent.ar_content_id == content.id)
    )
    assert remaining == 1
    assert daily(db, content)[old].opens == 1
