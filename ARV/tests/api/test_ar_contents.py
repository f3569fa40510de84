"""AR contents API: create, list, read, change and delete within the plan's limit, and
the video schedule: attach videos for windows written in a time zone, what plays when,
replacing and detaching entries, and tenancy.

Videos are put into the state a test needs directly through the test's session: the
pipeline has its own tests."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.models import (
    ARContent,
    ScheduledVideo,
    Video,
    VideoStatus,
)
from tests.support.api import assert_error
from tests.support.factories import Tenant, make_tenant, make_video

# The evening of 2026-12-24 in Moscow (UTC+3, no DST): 18:00-24:00 local, 15:00-21:00 UTC.
EVE_STARTS = "2026-12-24T18:00:00"
EVE_ENDS = "2026-12-25T00:00:00"
# The evening in Moscow, at a priority over a default video.
CHRISTMAS_EVE: dict[str, Any] = {
    "starts_at": EVE_STARTS,
    "ends_at": EVE_ENDS,
    "timezone": "Europe/Moscow",
    "priority": 1,
}


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


def contents_url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/v1/companies/{tenant.company.id}/ar-contents{suffix}"


def schedule_url(tenant: Tenant, content_id: str, suffix: str = "") -> str:
    return contents_url(tenant, f"/{content_id}/schedule{suffix}")


def active_url(tenant: Tenant, content_id: str) -> str:
    return contents_url(tenant, f"/{content_id}/active-video")


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def create_content(
    client: TestClient, tenant: Tenant, name: str = "Birthday card", **extra: Any
) -> dict[str, Any]:
    response = client.post(
        contents_url(tenant), json={"name": name, **extra}, headers=tenant.headers[Role.EDITOR]
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def content(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    return create_content(client, tenant)


def attach(
    client: TestClient, tenant: Tenant, content_id: str, video: Video, **window: Any
) -> httpx2.Response:
    return client.post(
        schedule_url(tenant, content_id),
        json={"video_id": str(video.id), **window},
        headers=tenant.headers[Role.EDITOR],
    )


def attached(
    client: TestClient, tenant: Tenant, content_id: str, video: Video, **window: Any
) -> dict[str, Any]:
    response = attach(client, tenant, content_id, video, **window)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def active_at(client: TestClient, tenant: Tenant, content_id: str, at: str) -> dict[str, Any]:
    response = client.get(
        active_url(tenant, content_id), params={"at": at}, headers=tenant.headers[Role.VIEWER]
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed_schedule(client: TestClient, tenant: Tenant, content_id: str) -> list[str]:
    response = client.get(schedule_url(tenant, content_id), headers=tenant.headers[Role.VIEWER])
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# -- AR contents --------------------------------------------------------------------------


def test_create_returns_the_new_content(client: TestClient, tenant: Tenant, db: Session) -> None:
    body = create_content(client, tenant, "Birthday card", description="Balloons")
    assert (body["name"], body["description"]) == ("Birthday card", "Balloons")
    assert set(body) == {"id", "name", "description", "created_at", "updated_at"}
    row = db.get_one(ARContent, uuid.UUID(body["id"]))
    assert row.company_id == tenant.company.id
    assert row.created_by_id == tenant.users[Role.EDITOR].id


def test_list_filters_by_name_and_paginates(client: TestClient, tenant: Tenant) -> None:
    names = ["Birthday card", "Wedding CARD", "Holiday 100%"]
    ids = [create_content(client, tenant, name)["id"] for name in names]
    viewer = tenant.headers[Role.VIEWER]

    def listed(**params: Any) -> dict[str, Any]:
        response = client.get(contents_url(tenant), params=params, headers=viewer)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    everything = listed()
    assert everything["total"] == 3
    assert [item["id"] for item in everything["items"]] == ids[::-1]  # newest first
    cards = listed(name="card")
    assert (cards["total"], {item["name"] for item in cards["items"]}) == (2, set(names[:2]))
    # The filter is a substring, not a pattern: "%" is a percent sign.
    assert [item["id"] for item in listed(name="0%")["items"]] == [ids[2]]
    assert listed(name="%")["total"] == 1
    page = listed(limit=1, offset=1)
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [item["id"] for item in page["items"]] == [ids[1]]


def test_read_and_partial_update(client: TestClient, tenant: Tenant) -> None:
    created = create_content(client, tenant, "Birthday card", description="Balloons")
    url = contents_url(tenant, f"/{created['id']}")
    read = client.get(url, headers=tenant.headers[Role.VIEWER])
    assert read.status_code == 200
    assert read.json() == created

    described = client.patch(url, json={"description": "Cake"}, headers=tenant.headers[Role.EDITOR])
    assert described.status_code == 200, described.text
    assert (described.json()["name"], described.json()["description"]) == ("Birthday card", "Cake")

    renamed = client.patch(url, json={"name": "Anniversary"}, headers=tenant.headers[Role.EDITOR])
    assert (renamed.json()["name"], renamed.json()["description"]) == ("Anniversary", "Cake")
    cleared = client.patch(url, json={"description": None}, headers=tenant.headers[Role.EDITOR])
    assert (cleared.json()["name"], cleared.json()["description"]) == ("Anniversary", None)
    again = client.get(url, headers=tenant.headers[Role.VIEWER]).json()
    assert (again["name"], again["description"]) == ("Anniversary", None)


def test_delete_hides_the_content(client: TestClient, tenant: Tenant, db: Session) -> None:
    created = create_content(client, tenant)
    url = contents_url(tenant, f"/{created['id']}")
    deleted = client.delete(url, headers=tenant.headers[Role.EDITOR])
    assert deleted.status_code == 204
    assert deleted.content == b""

    error = assert_error(client.get(url, headers=tenant.headers[Role.VIEWER]), 404, "not_found")
    assert error["details"] == {"entity": "AR content", "id": created["id"]}
    listed = client.get(contents_url(tenant), headers=tenant.headers[Role.VIEWER]).json()
    assert listed["total"] == 0
    schedule = client.get(schedule_url(tenant, created["id"]), headers=tenant.headers[Role.VIEWER])
    assert_error(schedule, 404, "not_found")
    assert_error(client.delete(url, headers=tenant.headers[Role.EDITOR]), 404, "not_found")
    db.expire_all()
    assert db.get_one(ARContent, uuid.UUID(created["id"])).deleted_at is not None


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"name": ""}, ["body", "name"], "string_too_short"),
        ({"name": "x" * 201}, ["body", "name"], "string_too_long"),
        ({}, ["body", "name"], "missing"),
        ({"name": "Card", "marker": "qr"}, ["body", "marker"], "extra_forbidden"),
    ],
    ids=["name-empty", "name-too-long", "name-missing", "extra-field"],
)
def test_create_validates_the_body(
    client: TestClient, tenant: Tenant, body: dict[str, Any], loc: list[str], kind: str
) -> None:
    response = client.post(contents_url(tenant), json=body, headers=tenant.headers[Role.EDITOR])
    error = assert_error(response, 422, "validation_error")
    assert {"loc": loc, "type": kind} in [
        {"loc": problem["loc"], "type": problem["type"]} for problem in error["details"]
    ]
    assert (
        client.get(contents_url(tenant), headers=tenant.headers[Role.VIEWER]).json()["total"] == 0
    )


def test_update_validates_the_body(
    client: TestClient, tenant: Tenant, content: dict[str, Any]
) -> None:
    url = contents_url(tenant, f"/{content['id']}")
    editor = tenant.headers[Role.EDITOR]
    assert_error(client.patch(url, json={"name": ""}, headers=editor), 422, "validation_error")
    assert_error(client.patch(url, json={"id": "x"}, headers=editor), 422, "validation_error")
    assert_error(client.patch(url, json={"name": None}, headers=editor), 422, "validation_error")
    assert client.get(url, headers=editor).json()["name"] == content["name"]


def test_viewer_reads_but_cannot_change_anything(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "Default")
    entry = attached(client, tenant, content["id"], video)
    viewer = tenant.headers[Role.VIEWER]
    url = contents_url(tenant, f"/{content['id']}")
    entry_url = schedule_url(tenant, content["id"], f"/{entry['id']}")
    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", contents_url(tenant), {"name": "Mine"}),
        ("PATCH", url, {"name": "Mine"}),
        ("DELETE", url, None),
        ("POST", schedule_url(tenant, content["id"]), {"video_id": str(video.id)}),
        ("PUT", entry_url, {"video_id": str(video.id), "priority": 5}),
        ("DELETE", entry_url, None),
    ]
    for method, path, body in writes:
        response = client.request(method, path, json=body, headers=viewer)
        assert_error(response, 403, "permission_denied")

    assert client.get(contents_url(tenant), headers=viewer).json()["total"] == 1
    assert client.get(url, headers=viewer).json()["name"] == content["name"]
    assert client.get(entry_url, headers=viewer).json()["priority"] == 0
    assert listed_schedule(client, tenant, content["id"]) == [entry["id"]]


def test_the_free_plan_allows_five_contents(client: TestClient, tenant: Tenant) -> None:
    assert tenant.company.plan == "free"
    ids = [create_content(client, tenant, f"Card {number}")["id"] for number in range(5)]
    sixth = client.post(
        contents_url(tenant), json={"name": "Card 6"}, headers=tenant.headers[Role.EDITOR]
    )
    error = assert_error(sixth, 402, "ar_content_limit_reached")
    assert error["details"]["limit"] == 5
    assert error["details"]["used"] == 5
    assert (
        client.get(contents_url(tenant), headers=tenant.headers[Role.VIEWER]).json()["total"] == 5
    )

    deleted = client.delete(contents_url(tenant, f"/{ids[0]}"), headers=tenant.headers[Role.EDITOR])
    assert deleted.status_code == 204
    create_content(client, tenant, "Card 6")


def test_a_larger_plan_allows_more_contents(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    tenant.company.plan = "pro"
    db.flush()
    for number in range(6):
        create_content(client, tenant, f"Card {number}")


# -- the schedule -------------------------------------------------------------------------


def test_attach_shows_a_wall_time_window_in_its_own_zone(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    default_video = make_video(db, tenant.company, "Default")
    holiday_video = make_video(db, tenant.company, "Holiday")
    default = attached(client, tenant, content["id"], default_video)
    assert (default["starts_at"], default["ends_at"]) == (None, None)
    assert (default["timezone"], default["priority"]) == ("UTC", 0)

    holiday = attached(
        client,
        tenant,
        content["id"],
        holiday_video,
        **CHRISTMAS_EVE,
    )
    assert holiday["starts_at"] == "2026-12-24T18:00:00+03:00"
    assert holiday["ends_at"] == "2026-12-25T00:00:00+03:00"
    assert (holiday["timezone"], holiday["priority"]) == ("Europe/Moscow", 1)
    assert holiday["ar_content_id"] == content["id"]
    assert holiday["video"] == {
        "id": str(holiday_video.id),
        "title": "Holiday",
        "status": "ready",
        "duration_seconds": 30.0,
    }

    row = db.get_one(ScheduledVideo, uuid.UUID(holiday["id"]))
    assert row.starts_at == datetime(2026, 12, 24, 15, 0, tzinfo=UTC)
    assert row.ends_at == datetime(2026, 12, 24, 21, 0, tzinfo=UTC)
    read = client.get(
        schedule_url(tenant, content["id"], f"/{holiday['id']}"),
        headers=tenant.headers[Role.VIEWER],
    )
    assert read.json() == holiday


def test_an_aware_edge_is_kept_as_its_instant(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "Holiday")
    entry = attached(
        client,
        tenant,
        content["id"],
        video,
        starts_at="2026-12-24T15:00:00Z",
        ends_at="2026-12-24T23:00:00+05:00",
        timezone="Europe/Moscow",
    )
    assert entry["starts_at"] == "2026-12-24T18:00:00+03:00"
    assert entry["ends_at"] == "2026-12-24T21:00:00+03:00"


def test_active_video_follows_the_window(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    default = attached(client, tenant, content["id"], make_video(db, tenant.company, "Default"))
    holiday = attached(
        client,
        tenant,
        content["id"],
        make_video(db, tenant.company, "Holiday"),
        **CHRISTMAS_EVE,
    )

    before = active_at(client, tenant, content["id"], "2026-12-24T17:59:59+03:00")
    assert before["scheduled"]["id"] == default["id"]
    assert instant(before["next_change_at"]) == instant("2026-12-24T18:00:00+03:00")

    at_start = active_at(client, tenant, content["id"], "2026-12-24T15:00:00Z")
    assert at_start["scheduled"] == holiday
    assert instant(at_start["at"]) == instant("2026-12-24T15:00:00Z")
    assert instant(at_start["next_change_at"]) == instant("2026-12-24T21:00:00Z")

    inside = active_at(client, tenant, content["id"], "2026-12-24T20:00:00+03:00")
    assert inside["scheduled"]["id"] == holiday["id"]
    assert instant(inside["next_change_at"]) == instant("2026-12-25T00:00:00+03:00")

    at_end = active_at(client, tenant, content["id"], "2026-12-25T00:00:00+03:00")
    assert at_end["scheduled"]["id"] == default["id"]
    assert at_end["next_change_at"] is None


def test_active_video_defaults_to_now(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    default = attached(client, tenant, content["id"], make_video(db, tenant.company, "Default"))
    before = datetime.now(UTC)
    response = client.get(active_url(tenant, content["id"]), headers=tenant.headers[Role.VIEWER])
    after = datetime.now(UTC)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scheduled"]["id"] == default["id"]
    assert before <= instant(body["at"]) <= after
    assert body["next_change_at"] is None


def test_active_video_is_null_when_nothing_plays(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    empty = active_at(client, tenant, content["id"], "2026-12-24T20:00:00+03:00")
    assert (empty["scheduled"], empty["next_change_at"]) == (None, None)

    processing = make_video(db, tenant.company, "Processing", VideoStatus.PROCESSING)
    attached(client, tenant, content["id"], processing)
    later = make_video(db, tenant.company, "Later")
    attached(client, tenant, content["id"], later, starts_at="2026-12-31T00:00:00Z", priority=1)
    nothing = active_at(client, tenant, content["id"], "2026-12-24T20:00:00+03:00")
    assert nothing["scheduled"] is None
    assert instant(nothing["next_change_at"]) == instant("2026-12-31T00:00:00Z")


def test_a_failed_windowed_video_gives_way_to_the_default(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    default = attached(client, tenant, content["id"], make_video(db, tenant.company, "Default"))
    broken = make_video(db, tenant.company, "Broken", VideoStatus.FAILED)
    attached(
        client,
        tenant,
        content["id"],
        broken,
        **CHRISTMAS_EVE,
    )
    inside = active_at(client, tenant, content["id"], "2026-12-24T20:00:00+03:00")
    assert inside["scheduled"]["id"] == default["id"]


def test_active_video_needs_an_offset_on_at(
    client: TestClient, tenant: Tenant, content: dict[str, Any]
) -> None:
    response = client.get(
        active_url(tenant, content["id"]),
        params={"at": "2026-12-24T20:00:00"},
        headers=tenant.headers[Role.VIEWER],
    )
    error = assert_error(response, 422, "validation_error")
    assert ["query", "at"] in [problem["loc"] for problem in error["details"]]


def test_an_equal_priority_overlap_is_refused(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    first = attached(
        client,
        tenant,
        content["id"],
        make_video(db, tenant.company, "Holiday"),
        **CHRISTMAS_EVE,
    )
    clash = attach(
        client,
        tenant,
        content["id"],
        make_video(db, tenant.company, "Party"),
        starts_at="2026-12-24T20:59:59Z",
        ends_at="2026-12-26T00:00:00Z",
        priority=1,
    )
    error = assert_error(clash, 409, "schedule_overlap")
    assert [conflict["id"] for conflict in error["details"]["conflicts"]] == [first["id"]]
    conflict = error["details"]["conflicts"][0]
    assert conflict["priority"] == 1
    assert instant(conflict["starts_at"]) == instant("2026-12-24T15:00:00Z")
    assert listed_schedule(client, tenant, content["id"]) == [first["id"]]


def test_an_unbounded_entry_overlaps_every_window_of_its_priority(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    default = attached(client, tenant, content["id"], make_video(db, tenant.company, "Default"))
    clash = attach(
        client,
        tenant,
        content["id"],
        make_video(db, tenant.company, "Holiday"),
        starts_at=EVE_STARTS,
        ends_at=EVE_ENDS,
        timezone="Europe/Moscow",
    )
    error = assert_error(clash, 409, "schedule_overlap")
    assert error["details"]["conflicts"][0]["id"] == default["id"]


def test_touching_windows_of_equal_priority_are_accepted(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "Holiday")
    evening = attached(
        client,
        tenant,
        content["id"],
        video,
        **CHRISTMAS_EVE,
    )
    # 00:00 in Moscow is 21:00 UTC: the next window starts where the first ends.
    night = attached(
        client,
        tenant,
        content["id"],
        video,
        starts_at="2026-12-24T21:00:00Z",
        ends_at="2026-12-25T06:00:00Z",
        priority=1,
    )
    earlier = attached(
        client,
        tenant,
        content["id"],
        video,
        ends_at="2026-12-24T18:00:00",
        timezone="Europe/Moscow",
        priority=1,
    )
    assert set(listed_schedule(client, tenant, content["id"])) == {
        evening["id"],
        night["id"],
        earlier["id"],
    }
    assert (
        active_at(client, tenant, content["id"], "2026-12-25T00:00:00+03:00")["scheduled"]["id"]
        == night["id"]
    )


@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [
        (EVE_ENDS, EVE_STARTS),
        (EVE_STARTS, EVE_STARTS),
        # 18:00 in Moscow is 15:00 UTC: the end, an instant, comes before the start.
        (EVE_STARTS, "2026-12-24T15:30:00+01:00"),
    ],
    ids=["reversed", "empty", "reversed-across-zones"],
)
def test_a_window_ending_before_it_starts_is_invalid(
    client: TestClient,
    tenant: Tenant,
    db: Session,
    content: dict[str, Any],
    starts_at: str,
    ends_at: str,
) -> None:
    response = attach(
        client,
        tenant,
        content["id"],
        make_video(db, tenant.company, "Holiday"),
        starts_at=starts_at,
        ends_at=ends_at,
        timezone="Europe/Moscow",
    )
    error = assert_error(response, 422, "schedule_window_invalid")
    assert set(error["details"]) == {"starts_at", "ends_at"}
    assert listed_schedule(client, tenant, content["id"]) == []


def test_a_wall_time_the_clocks_skip_is_invalid(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    response = attach(
        client,
        tenant,
        content["id"],
        make_video(db, tenant.company, "Spring"),
        starts_at="2026-03-29T02:30:00",
        timezone="Europe/Berlin",
    )
    error = assert_error(response, 422, "schedule_window_invalid")
    assert error["details"] == {"field": "starts_at"}
    assert "Europe/Berlin" in error["message"]


def test_an_ambiguous_wall_time_means_its_first_occurrence(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    entry = attached(
        client,
        tenant,
        content["id"],
        make_video(db, tenant.company, "Autumn"),
        starts_at="2026-10-25T02:30:00",
        timezone="Europe/Berlin",
    )
    assert entry["starts_at"] == "2026-10-25T02:30:00+02:00"
    row = db.get_one(ScheduledVideo, uuid.UUID(entry["id"]))
    assert row.starts_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "", "Europe/../UTC", "localtime", "Factory", "posixrules"]
)
def test_an_unknown_timezone_is_invalid(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any], name: str
) -> None:
    response = attach(
        client, tenant, content["id"], make_video(db, tenant.company, "A"), timezone=name
    )
    error = assert_error(response, 422, "validation_error")
    assert ["body", "timezone"] in [problem["loc"] for problem in error["details"]]


def test_a_zone_folder_as_timezone_is_invalid(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    # "Europe" is a folder of the tz database, not a zone.
    response = attach(
        client, tenant, content["id"], make_video(db, tenant.company, "A"), timezone="Europe"
    )
    error = assert_error(response, 422, "validation_error")
    assert ["body", "timezone"] in [problem["loc"] for problem in error["details"]]


@pytest.mark.parametrize(
    ("starts_at", "zone_name"),
    [
        # 23:00 at UTC-5 on the calendar's last day is in the year 10000 in UTC.
        ("9999-12-31T23:00:00-05:00", "UTC"),
        # A valid instant, but shown back at UTC+14 it is in the year 10000.
        ("9999-12-31T20:00:00Z", "Pacific/Kiritimati"),
    ],
    ids=["stored-in-utc", "shown-in-its-zone"],
)
def test_an_edge_at_the_end_of_the_calendar_is_refused_not_a_crash(
    client: TestClient,
    tenant: Tenant,
    db: Session,
    content: dict[str, Any],
    starts_at: str,
    zone_name: str,
) -> None:
    response = attach(
        client,
        tenant,
        content["id"],
        make_video(db, tenant.company, "A"),
        starts_at=starts_at,
        timezone=zone_name,
    )
    assert_error(response, 422, "validation_error")
    assert listed_schedule(client, tenant, content["id"]) == []


@pytest.mark.parametrize("priority", [1001, -1001])
def test_priority_is_bounded(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any], priority: int
) -> None:
    video = make_video(db, tenant.company, "A")
    response = attach(client, tenant, content["id"], video, priority=priority)
    assert_error(response, 422, "validation_error")
    assert attached(client, tenant, content["id"], video, priority=1000)["priority"] == 1000


def test_the_schedule_lists_highest_priority_first_then_by_start(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "A")
    bottom = attached(client, tenant, content["id"], video, priority=-1)
    late = attached(
        client,
        tenant,
        content["id"],
        video,
        starts_at="2026-12-10T00:00:00Z",
        ends_at="2026-12-11T00:00:00Z",
    )
    early = attached(
        client,
        tenant,
        content["id"],
        video,
        starts_at="2026-12-01T00:00:00Z",
        ends_at="2026-12-02T00:00:00Z",
    )
    since_ever = attached(client, tenant, content["id"], video, ends_at="2026-11-01T00:00:00Z")
    top = attached(client, tenant, content["id"], video, priority=5)
    expected = [top["id"], since_ever["id"], early["id"], late["id"], bottom["id"]]
    assert listed_schedule(client, tenant, content["id"]) == expected

    response = client.get(
        schedule_url(tenant, content["id"]),
        params={"limit": 2, "offset": 1},
        headers=tenant.headers[Role.VIEWER],
    )
    page = response.json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [item["id"] for item in page["items"]] == expected[1:3]


def test_replace_changes_the_window_and_priority(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    holiday = make_video(db, tenant.company, "Holiday")
    party = make_video(db, tenant.company, "Party")
    entry = attached(client, tenant, content["id"], holiday, starts_at=EVE_STARTS, priority=1)
    url = schedule_url(tenant, content["id"], f"/{entry['id']}")

    response = client.put(
        url,
        json={
            "video_id": str(party.id),
            "starts_at": "2026-12-31T22:00:00",
            "ends_at": "2027-01-01T06:00:00",
            "timezone": "Asia/Yekaterinburg",
            "priority": 3,
        },
        headers=tenant.headers[Role.EDITOR],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == entry["id"]
    assert body["video"]["id"] == str(party.id)
    assert body["video"]["title"] == "Party"
    assert body["starts_at"] == "2026-12-31T22:00:00+05:00"
    assert body["ends_at"] == "2027-01-01T06:00:00+05:00"
    assert (body["timezone"], body["priority"]) == ("Asia/Yekaterinburg", 3)
    assert client.get(url, headers=tenant.headers[Role.VIEWER]).json() == body

    # A write is whole: edges left out are open again.
    reopened = client.put(
        url, json={"video_id": str(party.id)}, headers=tenant.headers[Role.EDITOR]
    ).json()
    assert (reopened["starts_at"], reopened["ends_at"]) == (None, None)
    assert (reopened["timezone"], reopened["priority"]) == ("UTC", 0)


def test_replace_checks_overlap_against_the_other_entries_only(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "A")
    morning_window = {
        "starts_at": "2026-12-24T10:00:00",
        "ends_at": "2026-12-24T12:00:00",
        "timezone": "Europe/Moscow",
        "priority": 1,
    }
    morning = attached(client, tenant, content["id"], video, **morning_window)
    evening = attached(
        client,
        tenant,
        content["id"],
        video,
        **CHRISTMAS_EVE,
    )
    url = schedule_url(tenant, content["id"], f"/{morning['id']}")
    editor = tenant.headers[Role.EDITOR]

    same = client.put(url, json={"video_id": str(video.id), **morning_window}, headers=editor)
    assert same.status_code == 200, same.text
    assert same.json()["starts_at"] == morning["starts_at"]

    longer = {**morning_window, "ends_at": "2026-12-24T19:00:00"}
    clash = client.put(url, json={"video_id": str(video.id), **longer}, headers=editor)
    error = assert_error(clash, 409, "schedule_overlap")
    assert [conflict["id"] for conflict in error["details"]["conflicts"]] == [evening["id"]]
    assert client.get(url, headers=editor).json() == same.json()

    higher = client.put(
        url, json={"video_id": str(video.id), **longer, "priority": 2}, headers=editor
    )
    assert higher.status_code == 200, higher.text
    assert higher.json()["ends_at"] == "2026-12-24T19:00:00+03:00"


def test_replace_validates_like_attach(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "A")
    entry = attached(client, tenant, content["id"], video)
    url = schedule_url(tenant, content["id"], f"/{entry['id']}")
    editor = tenant.headers[Role.EDITOR]
    reversed_window = {"video_id": str(video.id), "starts_at": EVE_ENDS, "ends_at": EVE_STARTS}
    assert_error(
        client.put(url, json=reversed_window, headers=editor), 422, "schedule_window_invalid"
    )
    skipped = {
        "video_id": str(video.id),
        "ends_at": "2026-03-29T02:30:00",
        "timezone": "Europe/Berlin",
    }
    assert_error(client.put(url, json=skipped, headers=editor), 422, "schedule_window_invalid")
    missing = str(uuid.uuid4())
    error = assert_error(
        client.put(url, json={"video_id": missing}, headers=editor), 404, "not_found"
    )
    assert error["details"] == {"entity": "Video", "id": missing}
    assert client.get(url, headers=editor).json() == entry


def test_detach_removes_the_entry(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "Default")
    entry = attached(client, tenant, content["id"], video)
    url = schedule_url(tenant, content["id"], f"/{entry['id']}")
    detached = client.delete(url, headers=tenant.headers[Role.EDITOR])
    assert detached.status_code == 204
    assert detached.content == b""

    error = assert_error(client.get(url, headers=tenant.headers[Role.VIEWER]), 404, "not_found")
    assert error["details"] == {"entity": "Scheduled video", "id": entry["id"]}
    assert listed_schedule(client, tenant, content["id"]) == []
    assert active_at(client, tenant, content["id"], "2026-12-24T20:00:00Z")["scheduled"] is None
    assert_error(client.delete(url, headers=tenant.headers[Role.EDITOR]), 404, "not_found")
    # The video itself stays.
    db.expire_all()
    assert db.get_one(Video, video.id).deleted_at is None


def test_deleting_a_video_removes_it_from_schedules(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    default = attached(client, tenant, content["id"], make_video(db, tenant.company, "Default"))
    holiday_video = make_video(db, tenant.company, "Holiday")
    holiday = attached(client, tenant, content["id"], holiday_video, priority=1)
    other_content = create_content(client, tenant, "Wedding card")
    elsewhere = attached(client, tenant, other_content["id"], holiday_video)

    deleted = client.delete(
        f"/api/v1/companies/{tenant.company.id}/videos/{holiday_video.id}",
        headers=tenant.headers[Role.EDITOR],
    )
    assert deleted.status_code == 204, deleted.text

    assert listed_schedule(client, tenant, content["id"]) == [default["id"]]
    assert listed_schedule(client, tenant, other_content["id"]) == []
    assert (
        active_at(client, tenant, content["id"], "2026-12-24T20:00:00Z")["scheduled"]["id"]
        == (default["id"])
    )
    db.expire_all()
    left = set(db.scalars(select(ScheduledVideo.id)))
    assert uuid.UUID(holiday["id"]) not in left
    assert uuid.UUID(elsewhere["id"]) not in left
    assert uuid.UUID(default["id"]) in left


def test_an_entry_is_found_only_under_its_own_content(
    client: TestClient, tenant: Tenant, db: Session, content: dict[str, Any]
) -> None:
    entry = attached(client, tenant, content["id"], make_video(db, tenant.company, "A"))
    other_content = create_content(client, tenant, "Wedding card")
    url = schedule_url(tenant, other_content["id"], f"/{entry['id']}")
    error = assert_error(client.get(url, headers=tenant.headers[Role.EDITOR]), 404, "not_found")
    assert error["details"] == {"entity": "Scheduled video", "id": entry["id"]}
    assert_error(client.delete(url, headers=tenant.headers[Role.EDITOR]), 404, "not_found")
    assert listed_schedule(client, tenant, content["id"]) == [entry["id"]]


def test_attach_to_an_unknown_content_is_not_found(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    missing = str(uuid.uuid4())
    response = attach(client, tenant, missing, make_video(db, tenant.company, "A"))
    error = assert_error(response, 404, "not_found")
    assert error["details"] == {"entity": "AR content", "id": missing}


# -- tenancy ------------------------------------------------------------------------------


def test_another_companys_video_cannot_be_attached(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings, content: dict[str, Any]
) -> None:
    other = make_tenant(db, settings, name="Other")
    their_video = make_video(db, other.company, "Theirs")
    response = attach(client, tenant, content["id"], their_video)
    error = assert_error(response, 404, "not_found")
    assert error["details"] == {"entity": "Video", "id": str(their_video.id)}

    mine = attached(client, tenant, content["id"], make_video(db, tenant.company, "Mine"))
    replaced = client.put(
        schedule_url(tenant, content["id"], f"/{mine['id']}"),
        json={"video_id": str(their_video.id)},
        headers=tenant.headers[Role.EDITOR],
    )
    error = assert_error(replaced, 404, "not_found")
    assert error["details"] == {"entity": "Video", "id": str(their_video.id)}
    assert listed_schedule(client, tenant, content["id"]) == [mine["id"]]


def test_another_companys_admin_cannot_attach_our_video_to_their_content(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings
) -> None:
    our_video = make_video(db, tenant.company, "Ours")
    other = make_tenant(db, settings, name="Other")
    their_content = create_content(client, other, "Their card")
    response = client.post(
        schedule_url(other, their_content["id"]),
        json={"video_id": str(our_video.id)},
        headers=other.headers[Role.ADMIN],
    )
    error = assert_error(response, 404, "not_found")
    assert error["details"] == {"entity": "Video", "id": str(our_video.id)}
    assert listed_schedule(client, other, their_content["id"]) == []


def test_another_companys_content_and_entries_are_not_found(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "Ours")
    entry = attached(client, tenant, content["id"], video)
    other = make_tenant(db, settings, name="Other")
    their_video = make_video(db, other.company, "Theirs")
    base = contents_url(other, f"/{content['id']}")
    entry_path = f"/schedule/{entry['id']}"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "", None),
        ("PATCH", "", {"name": "Stolen"}),
        ("GET", "/schedule", None),
        ("POST", "/schedule", {"video_id": str(their_video.id)}),
        ("GET", entry_path, None),
        ("PUT", entry_path, {"video_id": str(their_video.id), "priority": 9}),
        ("DELETE", entry_path, None),
        ("GET", "/active-video", None),
        ("DELETE", "", None),
    ]
    for method, suffix, body in calls:
        response = client.request(
            method, base + suffix, json=body, headers=other.headers[Role.OWNER]
        )
        error = assert_error(response, 404, "not_found")
        assert error["details"] == {"entity": "AR content", "id": content["id"]}, (method, suffix)

    listed = client.get(contents_url(other), headers=other.headers[Role.OWNER]).json()
    assert listed["total"] == 0
    ours = client.get(contents_url(tenant, f"/{content['id']}"), headers=tenant.headers[Role.OWNER])
    assert ours.json() == content
    assert listed_schedule(client, tenant, content["id"]) == [entry["id"]]
    entry_now = client.get(
        schedule_url(tenant, content["id"], f"/{entry['id']}"), headers=tenant.headers[Role.OWNER]
    ).json()
    assert (entry_now["video"]["id"], entry_now["priority"]) == (str(video.id), 0)
