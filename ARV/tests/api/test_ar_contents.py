"""AR contents API, inside a project: create, list, read, change and delete within the
plan's limit, and the video schedule: attach videos for windows written in a time zone,
what plays when, replacing and detaching entries, and tenancy.

Videos are put into the state a test needs directly through the test's session: the
pipeline has its own tests. What projects add (restricted projects, archiving) is tested
in test_projects.py."""

import re
import uuid
from dataclasses import dataclass
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
    ContentStatus,
    Project,
    ScheduledVideo,
    Video,
    VideoStatus,
)
from app.schemas.scene import SceneSettings
from tests.support.api import assert_error
from tests.support.factories import Tenant, make_content, make_project, make_tenant, make_video

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
PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{12}$")
DEFAULT_SCENE = SceneSettings().model_dump(mode="json")


@dataclass
class InProject(Tenant):
    """A company with one member of each role, and the project its contents go in."""

    project: Project


def tenant_in_project(db: Session, settings: Settings, name: str = "Acme Postcards") -> InProject:
    made = make_tenant(db, settings, name=name)
    project = make_project(db, made.company)
    return InProject(made.company, made.users, made.headers, project)


@pytest.fixture
def tenant(db: Session, settings: Settings) -> InProject:
    return tenant_in_project(db, settings)


def project_url(project: Project, suffix: str = "") -> str:
    return f"/api/v1/companies/{project.company_id}/projects/{project.id}{suffix}"


def contents_url(tenant: InProject, suffix: str = "") -> str:
    return project_url(tenant.project, f"/ar-contents{suffix}")


def schedule_url(tenant: InProject, content_id: str, suffix: str = "") -> str:
    return contents_url(tenant, f"/{content_id}/schedule{suffix}")


def active_url(tenant: InProject, content_id: str) -> str:
    return contents_url(tenant, f"/{content_id}/active-video")


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def create_content(
    client: TestClient, tenant: InProject, title: str = "Birthday card", **extra: Any
) -> dict[str, Any]:
    response = client.post(
        contents_url(tenant), json={"title": title, **extra}, headers=tenant.headers[Role.EDITOR]
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def content(client: TestClient, tenant: InProject) -> dict[str, Any]:
    return create_content(client, tenant)


def attach(
    client: TestClient, tenant: InProject, content_id: str, video: Video, **window: Any
) -> httpx2.Response:
    return client.post(
        schedule_url(tenant, content_id),
        json={"video_id": str(video.id), **window},
        headers=tenant.headers[Role.EDITOR],
    )


def attached(
    client: TestClient, tenant: InProject, content_id: str, video: Video, **window: Any
) -> dict[str, Any]:
    response = attach(client, tenant, content_id, video, **window)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def active_at(client: TestClient, tenant: InProject, content_id: str, at: str) -> dict[str, Any]:
    response = client.get(
        active_url(tenant, content_id), params={"at": at}, headers=tenant.headers[Role.VIEWER]
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed_schedule(client: TestClient, tenant: InProject, content_id: str) -> list[str]:
    response = client.get(schedule_url(tenant, content_id), headers=tenant.headers[Role.VIEWER])
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# -- AR contents --------------------------------------------------------------------------


def test_create_returns_the_new_content(client: TestClient, tenant: InProject, db: Session) -> None:
    body = create_content(client, tenant, "Birthday card", description="Balloons")
    assert (body["title"], body["description"]) == ("Birthday card", "Balloons")
    assert set(body) == {
        "id",
        "project_id",
        "public_id",
        "title",
        "description",
        "status",
        "scene",
        "created_at",
        "updated_at",
    }
    assert body["project_id"] == str(tenant.project.id)
    assert PUBLIC_ID.match(body["public_id"]), body["public_id"]
    assert body["status"] == "draft"
    assert body["scene"] == DEFAULT_SCENE
    row = db.get_one(ARContent, uuid.UUID(body["id"]))
    assert (row.company_id, row.project_id) == (tenant.company.id, tenant.project.id)
    assert row.created_by_id == tenant.users[Role.EDITOR].id
    assert row.public_id == body["public_id"]


def test_every_content_gets_its_own_public_id(client: TestClient, tenant: InProject) -> None:
    public_ids = {
        create_content(client, tenant, f"Card {number}")["public_id"] for number in range(3)
    }
    assert len(public_ids) == 3
    assert all(PUBLIC_ID.match(public_id) for public_id in public_ids)


def test_scene_comes_from_the_project_unless_sent(
    client: TestClient, tenant: InProject, db: Session
) -> None:
    tenant.project.default_scene = SceneSettings.model_validate(
        {"fit": "cover", "loop": False, "transparency": {"mode": "chroma_key", "color": "#0000FF"}}
    )
    db.flush()
    inherited = create_content(client, tenant, "Inherited")["scene"]
    assert (inherited["fit"], inherited["loop"]) == ("cover", False)
    assert inherited["transparency"] == {
        "mode": "chroma_key",
        "color": "#0000FF",
        "similarity": 0.4,
        "smoothness": 0.08,
    }
    # Sent settings replace the project's whole; what they leave out is the platform default.
    own = create_content(client, tenant, "Own", scene={"placement": {"scale": 2}})["scene"]
    assert own["placement"] == {**DEFAULT_SCENE["placement"], "scale": 2.0}
    assert (own["fit"], own["loop"], own["transparency"]) == ("contain", True, {"mode": "none"})


def test_list_filters_by_title_and_status_and_paginates(
    client: TestClient, tenant: InProject, db: Session
) -> None:
    titles = ["Birthday card", "Wedding CARD", "Holiday 100%"]
    ids = [create_content(client, tenant, title)["id"] for title in titles]
    viewer = tenant.headers[Role.VIEWER]

    def listed(**params: Any) -> dict[str, Any]:
        response = client.get(contents_url(tenant), params=params, headers=viewer)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    everything = listed()
    assert everything["total"] == 3
    assert [item["id"] for item in everything["items"]] == ids[::-1]  # newest first
    cards = listed(title="card")
    assert (cards["total"], {item["title"] for item in cards["items"]}) == (2, set(titles[:2]))
    # The filter is a substring, not a pattern: "%" is a percent sign.
    assert [item["id"] for item in listed(title="0%")["items"]] == [ids[2]]
    assert listed(title="%")["total"] == 1
    page = listed(limit=1, offset=1)
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [item["id"] for item in page["items"]] == [ids[1]]

    db.get_one(ARContent, uuid.UUID(ids[0])).status = ContentStatus.PUBLISHED
    db.flush()
    published = listed(status="published")
    assert [item["id"] for item in published["items"]] == [ids[0]]
    assert published["items"][0]["status"] == "published"
    assert listed(status="draft")["total"] == 2
    assert listed(status="draft", title="wedding")["total"] == 1
    assert listed(status="archived")["total"] == 0
    assert_error(
        client.get(contents_url(tenant), params={"status": "gone"}, headers=viewer),
        422,
        "validation_error",
    )


def test_a_project_lists_only_its_own_contents(
    client: TestClient, tenant: InProject, db: Session
) -> None:
    mine = create_content(client, tenant, "Mine")
    elsewhere = make_content(db, make_project(db, tenant.company, name="Elsewhere"), "Elsewhere")
    listed = client.get(contents_url(tenant), headers=tenant.headers[Role.VIEWER]).json()
    assert [item["id"] for item in listed["items"]] == [mine["id"]]
    # A content is found only under its own project.
    wrong = contents_url(tenant, f"/{elsewhere.id}")
    for method in ("GET", "DELETE"):
        response = client.request(method, wrong, headers=tenant.headers[Role.EDITOR])
        error = assert_error(response, 404, "not_found")
        assert error["details"] == {"entity": "AR content", "id": str(elsewhere.id)}
    patched = client.patch(wrong, json={"title": "Moved"}, headers=tenant.headers[Role.EDITOR])
    assert_error(patched, 404, "not_found")
    db.expire_all()
    assert (elsewhere.title, elsewhere.deleted_at) == ("Elsewhere", None)


def test_read_and_partial_update(client: TestClient, tenant: InProject) -> None:
    created = create_content(client, tenant, "Birthday card", description="Balloons")
    url = contents_url(tenant, f"/{created['id']}")
    editor = tenant.headers[Role.EDITOR]
    read = client.get(url, headers=tenant.headers[Role.VIEWER])
    assert read.status_code == 200
    assert read.json() == created

    described = client.patch(url, json={"description": "Cake"}, headers=editor)
    assert described.status_code == 200, described.text
    assert (described.json()["title"], described.json()["description"]) == (
        "Birthday card",
        "Cake",
    )

    renamed = client.patch(url, json={"title": "Anniversary"}, headers=editor)
    assert (renamed.json()["title"], renamed.json()["description"]) == ("Anniversary", "Cake")
    cleared = client.patch(url, json={"description": None}, headers=editor)
    assert (cleared.json()["title"], cleared.json()["description"]) == ("Anniversary", None)
    rescened = client.patch(url, json={"scene": {"fit": "stretch"}}, headers=editor).json()
    assert rescened["scene"] == {**DEFAULT_SCENE, "fit": "stretch"}
    again = client.get(url, headers=tenant.headers[Role.VIEWER]).json()
    assert (again["title"], again["description"]) == ("Anniversary", None)
    assert again["scene"]["fit"] == "stretch"
    # What identifies the content never changes.
    for field in ("id", "project_id", "public_id", "status", "created_at"):
        assert again[field] == created[field], field


def test_delete_hides_the_content(client: TestClient, tenant: InProject, db: Session) -> None:
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
        ({"title": ""}, ["body", "title"], "string_too_short"),
        ({"title": "x" * 201}, ["body", "title"], "string_too_long"),
        ({}, ["body", "title"], "missing"),
        ({"name": "Card"}, ["body", "name"], "extra_forbidden"),
        ({"title": "Card", "marker": "qr"}, ["body", "marker"], "extra_forbidden"),
        ({"title": "Card", "status": "published"}, ["body", "status"], "extra_forbidden"),
        ({"title": "Card", "public_id": "abcdefghijkl"}, ["body", "public_id"], "extra_forbidden"),
        (
            {"title": "Card", "scene": {"fit": "zoom"}},
            ["body", "scene", "fit"],
            "enum",
        ),
    ],
    ids=[
        "title-empty",
        "title-too-long",
        "title-missing",
        "old-name-field",
        "extra-field",
        "status-not-writable",
        "public-id-not-writable",
        "scene-invalid",
    ],
)
def test_create_validates_the_body(
    client: TestClient, tenant: InProject, body: dict[str, Any], loc: list[str], kind: str
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
    client: TestClient, tenant: InProject, content: dict[str, Any]
) -> None:
    url = contents_url(tenant, f"/{content['id']}")
    editor = tenant.headers[Role.EDITOR]
    for body in (
        {"title": ""},
        {"id": "x"},
        {"title": None},
        {"scene": None},
        {"status": "published"},
        {"project_id": str(uuid.uuid4())},
        {"scene": {"transparency": {"mode": "magic"}}},
    ):
        response = client.patch(url, json=body, headers=editor)
        assert_error(response, 422, "validation_error")
    assert client.get(url, headers=editor).json() == content


def test_an_archived_content_is_read_only(
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "Default")
    db.get_one(ARContent, uuid.UUID(content["id"])).status = ContentStatus.ARCHIVED
    db.flush()
    url = contents_url(tenant, f"/{content['id']}")
    editor = tenant.headers[Role.EDITOR]
    error = assert_error(
        client.patch(url, json={"title": "Changed"}, headers=editor), 409, "content_archived"
    )
    assert error["details"] == {"content_id": content["id"]}
    attach_error = assert_error(
        attach(client, tenant, content["id"], video), 409, "content_archived"
    )
    assert attach_error["details"] == {"content_id": content["id"]}
    deleted = client.delete(url, headers=editor)
    assert assert_error(deleted, 409, "content_archived")["details"] == {
        "content_id": content["id"]
    }
    read = client.get(url, headers=tenant.headers[Role.VIEWER]).json()
    assert (read["title"], read["status"]) == (content["title"], "archived")
    assert listed_schedule(client, tenant, content["id"]) == []


def test_viewer_reads_but_cannot_change_anything(
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "Default")
    entry = attached(client, tenant, content["id"], video)
    viewer = tenant.headers[Role.VIEWER]
    url = contents_url(tenant, f"/{content['id']}")
    entry_url = schedule_url(tenant, content["id"], f"/{entry['id']}")
    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", contents_url(tenant), {"title": "Mine"}),
        ("PATCH", url, {"title": "Mine"}),
        ("DELETE", url, None),
        ("POST", schedule_url(tenant, content["id"]), {"video_id": str(video.id)}),
        ("PUT", entry_url, {"video_id": str(video.id), "priority": 5}),
        ("DELETE", entry_url, None),
    ]
    for method, path, body in writes:
        response = client.request(method, path, json=body, headers=viewer)
        assert_error(response, 403, "permission_denied")

    assert client.get(contents_url(tenant), headers=viewer).json()["total"] == 1
    assert client.get(url, headers=viewer).json()["title"] == content["title"]
    assert client.get(entry_url, headers=viewer).json()["priority"] == 0
    assert listed_schedule(client, tenant, content["id"]) == [entry["id"]]


def test_the_free_plan_allows_five_contents(client: TestClient, tenant: InProject) -> None:
    assert tenant.company.plan == "free"
    ids = [create_content(client, tenant, f"Card {number}")["id"] for number in range(5)]
    sixth = client.post(
        contents_url(tenant), json={"title": "Card 6"}, headers=tenant.headers[Role.EDITOR]
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
    client: TestClient, tenant: InProject, db: Session
) -> None:
    tenant.company.plan = "pro"
    db.flush()
    for number in range(6):
        create_content(client, tenant, f"Card {number}")


# -- the schedule -------------------------------------------------------------------------


def test_attach_shows_a_wall_time_window_in_its_own_zone(
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, content: dict[str, Any]
) -> None:
    response = client.get(
        active_url(tenant, content["id"]),
        params={"at": "2026-12-24T20:00:00"},
        headers=tenant.headers[Role.VIEWER],
    )
    error = assert_error(response, 422, "validation_error")
    assert ["query", "at"] in [problem["loc"] for problem in error["details"]]


def test_an_equal_priority_overlap_is_refused(
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    tenant: InProject,
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any], name: str
) -> None:
    response = attach(
        client, tenant, content["id"], make_video(db, tenant.company, "A"), timezone=name
    )
    error = assert_error(response, 422, "validation_error")
    assert ["body", "timezone"] in [problem["loc"] for problem in error["details"]]


def test_a_zone_folder_as_timezone_is_invalid(
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    tenant: InProject,
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any], priority: int
) -> None:
    video = make_video(db, tenant.company, "A")
    response = attach(client, tenant, content["id"], video, priority=priority)
    assert_error(response, 422, "validation_error")
    assert attached(client, tenant, content["id"], video, priority=1000)["priority"] == 1000


def test_the_schedule_lists_highest_priority_first_then_by_start(
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
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
    client: TestClient, tenant: InProject, db: Session, content: dict[str, Any]
) -> None:
    entry = attached(client, tenant, content["id"], make_video(db, tenant.company, "A"))
    other_content = create_content(client, tenant, "Wedding card")
    url = schedule_url(tenant, other_content["id"], f"/{entry['id']}")
    error = assert_error(client.get(url, headers=tenant.headers[Role.EDITOR]), 404, "not_found")
    assert error["details"] == {"entity": "Scheduled video", "id": entry["id"]}
    assert_error(client.delete(url, headers=tenant.headers[Role.EDITOR]), 404, "not_found")
    assert listed_schedule(client, tenant, content["id"]) == [entry["id"]]


def test_attach_to_an_unknown_content_is_not_found(
    client: TestClient, tenant: InProject, db: Session
) -> None:
    missing = str(uuid.uuid4())
    response = attach(client, tenant, missing, make_video(db, tenant.company, "A"))
    error = assert_error(response, 404, "not_found")
    assert error["details"] == {"entity": "AR content", "id": missing}


# -- tenancy ------------------------------------------------------------------------------


def test_another_companys_video_cannot_be_attached(
    client: TestClient, tenant: InProject, db: Session, settings: Settings, content: dict[str, Any]
) -> None:
    other = tenant_in_project(db, settings, "Other")
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
    client: TestClient, tenant: InProject, db: Session, settings: Settings
) -> None:
    our_video = make_video(db, tenant.company, "Ours")
    other = tenant_in_project(db, settings, "Other")
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
    client: TestClient, tenant: InProject, db: Session, settings: Settings, content: dict[str, Any]
) -> None:
    video = make_video(db, tenant.company, "Ours")
    entry = attached(client, tenant, content["id"], video)
    other = tenant_in_project(db, settings, "Other")
    their_video = make_video(db, other.company, "Theirs")
    base = contents_url(other, f"/{content['id']}")
    entry_path = f"/schedule/{entry['id']}"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "", None),
        ("PATCH", "", {"title": "Stolen"}),
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
        # Through our project's id under their company: the project is not found first.
        ours_there = f"/api/v1/companies/{other.company.id}/projects/{tenant.project.id}"
        path = f"{ours_there}/ar-contents/{content['id']}{suffix}"
        response = client.request(method, path, json=body, headers=other.headers[Role.OWNER])
        error = assert_error(response, 404, "not_found")
        assert error["details"] == {"entity": "Project", "id": str(tenant.project.id)}

    listed = client.get(contents_url(other), headers=other.headers[Role.OWNER]).json()
    assert listed["total"] == 0
    ours = client.get(contents_url(tenant, f"/{content['id']}"), headers=tenant.headers[Role.OWNER])
    assert ours.json() == content
    assert listed_schedule(client, tenant, content["id"]) == [entry["id"]]
    entry_now = client.get(
        schedule_url(tenant, content["id"], f"/{entry['id']}"), headers=tenant.headers[Role.OWNER]
    ).json()
    assert (entry_now["video"]["id"], entry_now["priority"]) == (str(video.id), 0)
