"""Publishing API: every condition a publish checks (each unmet one named, all at once),
immutable versions (what a publish froze stays frozen while the draft is edited), the
versions list, the diff against the draft, rollback, unpublish, archive and unarchive with
the transitions they refuse, who may do what, videos a published version plays, and the
audit log.

Markers, videos and schedule entries are put into the state a test needs with the
factories (processing has its own tests); what a client does goes through the API."""

import uuid
from datetime import UTC, datetime
from functools import cache
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
    ARContentVersion,
    ARContentVersionVideo,
    AuditLog,
    ContentStatus,
    MarkerStatus,
    Project,
    ProjectAccess,
    ProjectGrant,
    ScheduledVideo,
    Video,
    VideoStatus,
)
from app.utils.marker_match import fingerprint
from tests.support.api import assert_error
from tests.support.factories import (
    Tenant,
    make_content,
    make_marker,
    make_project,
    make_tenant,
    make_video,
)
from tests.support.marker_images import detailed_jpeg, rotated_scaled_jpeg
from tests.support.publishing import (
    attach,
    call,
    edit,
    ok,
    publish,
    publishable,
    schedule,
)

CHRISTMAS_EVE = {"starts_at": "2026-12-24T18:00:00", "ends_at": "2026-12-25T00:00:00"}
CHRISTMAS_EVE_UTC = {
    "starts_at": datetime(2026, 12, 24, 18, tzinfo=UTC),
    "ends_at": datetime(2026, 12, 25, tzinfo=UTC),
}


@cache
def picture_print(seed: int, *, photographed_again: bool = False) -> bytes:
    """The fingerprint of a test picture, or of a turned, smaller copy of it."""
    picture = detailed_jpeg(seed)
    return fingerprint(rotated_scaled_jpeg(picture, 12, 0.8) if photographed_again else picture)


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def project(db: Session, tenant: Tenant) -> Project:
    return make_project(db, tenant.company)


@pytest.fixture
def content(db: Session, tenant: Tenant, project: Project) -> ARContent:
    return publishable(db, tenant, project)


def refused(client: TestClient, tenant: Tenant, content: ARContent) -> list[dict[str, Any]]:
    error = assert_error(call(client, tenant, content, "/publish"), 409, "publish_refused")
    unmet: list[dict[str, Any]] = error["details"]["unmet"]
    assert all(condition["message"] in error["message"] for condition in unmet)
    return unmet


def codes(unmet: list[dict[str, Any]]) -> list[str]:
    return [condition["code"] for condition in unmet]


def version(client: TestClient, tenant: Tenant, content: ARContent, number: int) -> dict[str, Any]:
    return ok(call(client, tenant, content, f"/versions/{number}", method="GET", role=Role.VIEWER))


def diff(client: TestClient, tenant: Tenant, content: ARContent, number: int) -> dict[str, Any]:
    return ok(
        call(client, tenant, content, f"/versions/{number}/diff", method="GET", role=Role.VIEWER)
    )


def audited(db: Session, content: ARContent) -> list[tuple[str, dict[str, Any]]]:
    rows = db.scalars(
        select(AuditLog)
        .where(AuditLog.entity_id == str(content.id), AuditLog.action.like("ar_content.%"))
        .order_by(AuditLog.created_at, AuditLog.id)
    )
    return [(row.action, row.changes) for row in rows]


# -- publishing and versions ----------------------------------------------------------------


def test_publishing_freezes_version_1(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    body = publish(client, tenant, content)
    admin = tenant.users[Role.ADMIN]
    assert (body["number"], body["copied_from"], body["is_current"]) == (1, None, True)
    assert body["published_by"] == {
        "id": str(admin.id),
        "email": admin.email,
        "full_name": admin.full_name,
    }
    snapshot = body["snapshot"]
    [entry] = db.scalars(select(ScheduledVideo).where(ScheduledVideo.ar_content_id == content.id))
    assert (snapshot["title"], snapshot["description"]) == ("Postcard", None)
    assert snapshot["schedule"] == [
        {
            "id": str(entry.id),
            "video_id": str(entry.video_id),
            "starts_at": None,
            "ends_at": None,
            "timezone": "UTC",
            "priority": 0,
        }
    ]
    assert set(snapshot["marker"]) == {"id", "width_mm", "sha256", "score", "mind_key", "image_key"}
    assert snapshot["marker"]["id"] == body["marker_id"]
    db.refresh(content)
    assert (content.status, content.published_version) == (ContentStatus.PUBLISHED, 1)
    [frozen] = db.scalars(
        select(ARContentVersion).where(ARContentVersion.ar_content_id == content.id)
    )
    videos = db.scalars(
        select(ARContentVersionVideo.video_id).where(ARContentVersionVideo.version_id == frozen.id)
    )
    assert list(videos) == [entry.video_id]


def test_each_publish_makes_the_next_version(
    client: TestClient, tenant: Tenant, content: ARContent
) -> None:
    assert publish(client, tenant, content)["number"] == 1
    edit(client, tenant, content, title="Postcard, second print")
    assert publish(client, tenant, content)["number"] == 2
    page = ok(call(client, tenant, content, "/versions", method="GET", role=Role.VIEWER))
    assert page["total"] == 2
    assert [(item["number"], item["is_current"]) for item in page["items"]] == [
        (2, True),
        (1, False),
    ]
    assert set(page["items"][0]) == {
        "number",
        "marker_id",
        "published_by",
        "copied_from",
        "is_current",
        "created_at",
    }
    second_page = call(
        client, tenant, content, "/versions", method="GET", params={"limit": 1, "offset": 1}
    )
    assert [item["number"] for item in ok(second_page)["items"]] == [1]


def test_editing_the_draft_leaves_the_published_version_as_it_was(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    published = publish(client, tenant, content)["snapshot"]
    edit(
        client,
        tenant,
        content,
        title="Spring postcard",
        description="With balloons",
        scene={"placement": {"scale": 1.5}, "loop": False},
    )
    attach(
        client,
        tenant,
        content,
        make_video(db, tenant.company, "Promo"),
        **CHRISTMAS_EVE,
        priority=1,
    )
    make_marker(db, content, score=95)
    assert version(client, tenant, content, 1)["snapshot"] == published


def test_the_diff_names_what_the_draft_changed(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    published = publish(client, tenant, content)["snapshot"]
    unchanged = diff(client, tenant, content, 1)
    assert unchanged == {
        "number": 1,
        "identical": True,
        "changes": [],
        "schedule": {"added": [], "removed": [], "changed": []},
    }
    edit(client, tenant, content, title="Spring postcard", scene={"placement": {"scale": 1.5}})
    promo = attach(
        client,
        tenant,
        content,
        make_video(db, tenant.company, "Promo"),
        **CHRISTMAS_EVE,
        priority=1,
    )
    [default_entry] = published["schedule"]
    moved = {"video_id": default_entry["video_id"], "priority": -1}
    ok(
        call(
            client,
            tenant,
            content,
            f"/schedule/{default_entry['id']}",
            method="PUT",
            role=Role.EDITOR,
            json=moved,
        )
    )
    new_marker = make_marker(db, content)

    found = diff(client, tenant, content, 1)
    assert found["identical"] is False
    assert [
        (change["field"], change["version"], change["draft"]) for change in found["changes"]
    ] == [
        ("title", "Postcard", "Spring postcard"),
        ("scene.placement.scale", 1.0, 1.5),
        ("marker", published["marker"]["id"], str(new_marker.id)),
    ]
    assert [entry["id"] for entry in found["schedule"]["added"]] == [promo["id"]]
    assert found["schedule"]["removed"] == []
    [changed] = found["schedule"]["changed"]
    assert (changed["id"], changed["version"]["priority"], changed["draft"]["priority"]) == (
        default_entry["id"],
        0,
        -1,
    )


def test_a_detached_entry_shows_as_removed(
    client: TestClient, tenant: Tenant, content: ARContent
) -> None:
    [entry] = publish(client, tenant, content)["snapshot"]["schedule"]
    response = call(
        client, tenant, content, f"/schedule/{entry['id']}", method="DELETE", role=Role.EDITOR
    )
    assert response.status_code == 204
    assert diff(client, tenant, content, 1)["schedule"]["removed"] == [entry]


def test_rollback_publishes_a_copy_of_an_old_version_and_resets_the_draft(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    first = publish(client, tenant, content)
    edit(client, tenant, content, title="Spring postcard", scene={"fit": "cover"})
    attach(
        client,
        tenant,
        content,
        make_video(db, tenant.company, "Promo"),
        **CHRISTMAS_EVE,
        priority=1,
    )
    assert publish(client, tenant, content)["number"] == 2

    rolled = ok(call(client, tenant, content, "/versions/1/rollback"), 201)
    assert (rolled["number"], rolled["copied_from"], rolled["is_current"]) == (3, 1, True)
    assert rolled["snapshot"] == first["snapshot"]
    assert rolled["marker_id"] == first["marker_id"]
    db.refresh(content)
    assert (content.status, content.published_version) == (ContentStatus.PUBLISHED, 3)
    assert diff(client, tenant, content, 1)["identical"] is True
    assert diff(client, tenant, content, 3)["identical"] is True
    page = ok(call(client, tenant, content, "/versions", method="GET"))
    assert [
        (item["number"], item["copied_from"], item["is_current"]) for item in page["items"]
    ] == [
        (3, 1, True),
        (2, None, False),
        (1, None, False),
    ]


def test_rollback_keeps_the_newest_marker_in_the_draft(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    first = publish(client, tenant, content)
    newer = make_marker(db, content)
    publish(client, tenant, content)
    ok(call(client, tenant, content, "/versions/1/rollback"), 201)
    [change] = diff(client, tenant, content, 3)["changes"]
    assert change == {"field": "marker", "version": first["marker_id"], "draft": str(newer.id)}


def test_rollback_of_an_unpublished_content_publishes_it(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    publish(client, tenant, content)
    ok(call(client, tenant, content, "/unpublish"))
    assert ok(call(client, tenant, content, "/versions/1/rollback"), 201)["number"] == 2
    db.refresh(content)
    assert (content.status, content.published_version) == (ContentStatus.PUBLISHED, 2)


def test_rollback_checks_the_old_version_again(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session, project: Project
) -> None:
    [entry] = publish(client, tenant, content)["snapshot"]["schedule"]
    old_video = db.get_one(Video, uuid.UUID(entry["video_id"]))
    new_video = make_video(db, tenant.company, "New default")
    ok(
        call(
            client,
            tenant,
            content,
            f"/schedule/{entry['id']}",
            method="PUT",
            role=Role.EDITOR,
            json={"video_id": str(new_video.id)},
        )
    )
    publish(client, tenant, content)
    # Version 1's video no longer plays anywhere published: it may go.
    videos_url = f"/api/v1/companies/{tenant.company.id}/videos/{old_video.id}"
    assert client.delete(videos_url, headers=tenant.headers[Role.EDITOR]).status_code == 204
    project.publish_threshold = 90
    db.flush()

    error = assert_error(
        call(client, tenant, content, "/versions/1/rollback"), 409, "publish_refused"
    )
    unmet = error["details"]["unmet"]
    assert codes(unmet) == ["score_below_threshold", "video_deleted", "default_video_missing"]
    assert unmet[1]["video_id"] == str(old_video.id)
    db.refresh(content)
    assert content.published_version == 2


def test_unknown_versions_are_not_found(
    client: TestClient, tenant: Tenant, content: ARContent
) -> None:
    publish(client, tenant, content)
    for suffix, method in [
        ("/versions/2", "GET"),
        ("/versions/2/diff", "GET"),
        ("/versions/2/rollback", "POST"),
    ]:
        error = assert_error(call(client, tenant, content, suffix, method=method), 404, "not_found")
        assert error["details"] == {"entity": "AR content version", "id": "2"}


# -- the conditions of a publish ------------------------------------------------------------


def test_a_content_without_marker_or_schedule_names_both(
    client: TestClient, tenant: Tenant, project: Project, db: Session
) -> None:
    bare = make_content(db, project)
    assert codes(refused(client, tenant, bare)) == ["marker_missing", "default_video_missing"]
    db.refresh(bare)
    assert (bare.status, bare.published_version) == (ContentStatus.DRAFT, None)


@pytest.mark.parametrize(
    "status",
    [MarkerStatus.QUEUED, MarkerStatus.PROCESSING, MarkerStatus.REJECTED, MarkerStatus.FAILED],
)
def test_the_marker_must_be_processed(
    client: TestClient, tenant: Tenant, project: Project, db: Session, status: MarkerStatus
) -> None:
    content = publishable(db, tenant, project, status=status, score=None, mind_key=None)
    [unmet] = refused(client, tenant, content)
    assert (unmet["code"], unmet["status"]) == ("marker_not_ready", status.value)


def test_the_newest_marker_is_the_one_checked(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    make_marker(db, content, status=MarkerStatus.PROCESSING, score=None)
    assert codes(refused(client, tenant, content)) == ["marker_not_ready"]


def test_the_score_must_reach_the_projects_threshold(
    client: TestClient, tenant: Tenant, project: Project, db: Session
) -> None:
    content = publishable(db, tenant, project, score=59)
    [unmet] = refused(client, tenant, content)
    assert unmet == {
        "code": "score_below_threshold",
        "message": unmet["message"],
        "score": 59,
        "threshold": 60,
    }
    project.publish_threshold = 50
    db.flush()
    assert publish(client, tenant, content)["number"] == 1
    project.publish_threshold = 90
    db.flush()
    assert codes(refused(client, tenant, content)) == ["score_below_threshold"]


def test_the_target_must_be_compiled(
    client: TestClient, tenant: Tenant, project: Project, db: Session
) -> None:
    content = publishable(db, tenant, project, mind_key=None)
    assert codes(refused(client, tenant, content)) == ["target_not_compiled"]


def test_a_near_duplicate_of_a_published_marker_is_refused(
    client: TestClient, tenant: Tenant, project: Project, db: Session
) -> None:
    other_project = make_project(db, tenant.company, name="Other", restricted=True)
    first = publishable(db, tenant, other_project, "Spring", fingerprint=picture_print(1))
    copy = publishable(
        db, tenant, project, "Spring again", fingerprint=picture_print(1, photographed_again=True)
    )
    unrelated = publishable(db, tenant, project, "Autumn", fingerprint=picture_print(2))
    # Nothing is published yet: no marker to clash with.
    publish(client, tenant, first)
    [unmet] = refused(client, tenant, copy)
    assert (unmet["code"], unmet["content_id"], unmet["title"]) == (
        "duplicate_marker",
        str(first.id),
        "Spring",
    )
    assert publish(client, tenant, unrelated)["number"] == 1
    ok(call(client, tenant, first, "/unpublish"))
    assert publish(client, tenant, copy)["number"] == 1


def test_publishing_again_is_not_a_duplicate_of_itself(
    client: TestClient, tenant: Tenant, project: Project, db: Session
) -> None:
    content = publishable(db, tenant, project, fingerprint=picture_print(1))
    publish(client, tenant, content)
    assert publish(client, tenant, content)["number"] == 2


def test_a_default_video_is_required(
    client: TestClient, tenant: Tenant, project: Project, db: Session
) -> None:
    content = make_content(db, project)
    make_marker(db, content)
    schedule(db, content, make_video(db, tenant.company), priority=1, **CHRISTMAS_EVE_UTC)
    assert codes(refused(client, tenant, content)) == ["default_video_missing"]


@pytest.mark.parametrize(
    "status",
    [VideoStatus.UPLOADED, VideoStatus.PROCESSING, VideoStatus.FAILED, VideoStatus.CANCELLED],
)
def test_the_default_video_must_play(
    client: TestClient, tenant: Tenant, project: Project, db: Session, status: VideoStatus
) -> None:
    content = make_content(db, project)
    make_marker(db, content)
    video = make_video(db, tenant.company, "Greeting", status)
    schedule(db, content, video)
    [unmet] = refused(client, tenant, content)
    assert unmet["code"] == "default_video_not_playable"
    assert unmet["videos"] == [{"id": str(video.id), "title": "Greeting", "status": status.value}]


def test_a_playable_default_video_is_enough(
    client: TestClient, tenant: Tenant, project: Project, db: Session
) -> None:
    content = make_content(db, project)
    make_marker(db, content)
    schedule(db, content, make_video(db, tenant.company, status=VideoStatus.PLAYABLE))
    assert publish(client, tenant, content)["number"] == 1


def test_every_unmet_condition_is_named_at_once(
    client: TestClient, tenant: Tenant, project: Project, db: Session
) -> None:
    publish(
        client, tenant, publishable(db, tenant, project, "Spring", fingerprint=picture_print(1))
    )
    content = make_content(db, project, "Copy")
    make_marker(
        db, content, score=30, mind_key=None, fingerprint=picture_print(1, photographed_again=True)
    )
    schedule(db, content, make_video(db, tenant.company, status=VideoStatus.PROCESSING))
    assert codes(refused(client, tenant, content)) == [
        "score_below_threshold",
        "target_not_compiled",
        "duplicate_marker",
        "default_video_not_playable",
    ]


# -- unpublish, archive, unarchive ----------------------------------------------------------


def test_unpublish_takes_the_content_off_the_air(
    client: TestClient, tenant: Tenant, content: ARContent
) -> None:
    publish(client, tenant, content)
    body = ok(call(client, tenant, content, "/unpublish"))
    assert (body["status"], body["published_version"]) == ("unpublished", 1)
    assert version(client, tenant, content, 1)["is_current"] is False
    error = assert_error(
        call(client, tenant, content, "/unpublish"), 409, "content_invalid_transition"
    )
    assert error["details"] == {
        "status": "unpublished",
        "action": "unpublish",
        "allowed_from": ["published"],
    }
    assert publish(client, tenant, content)["number"] == 2


def test_a_draft_cannot_be_unpublished(
    client: TestClient, tenant: Tenant, content: ARContent
) -> None:
    assert_error(call(client, tenant, content, "/unpublish"), 409, "content_invalid_transition")


def test_archive_and_unarchive(
    client: TestClient, tenant: Tenant, content: ARContent, project: Project, db: Session
) -> None:
    publish(client, tenant, content)
    error = assert_error(
        call(client, tenant, content, "/archive", role=Role.EDITOR),
        409,
        "content_invalid_transition",
    )
    assert error["details"]["allowed_from"] == ["draft", "unpublished"]
    ok(call(client, tenant, content, "/unpublish"))
    assert ok(call(client, tenant, content, "/archive", role=Role.EDITOR))["status"] == "archived"

    for suffix in ("/publish", "/unpublish", "/archive", "/versions/1/rollback"):
        assert_error(call(client, tenant, content, suffix), 409, "content_archived")
    assert_error(
        call(client, tenant, content, "", method="PATCH", json={"title": "X"}),
        409,
        "content_archived",
    )
    assert version(client, tenant, content, 1)["number"] == 1

    assert (
        ok(call(client, tenant, content, "/unarchive", role=Role.EDITOR))["status"] == "unpublished"
    )
    assert_error(call(client, tenant, content, "/unarchive"), 409, "content_invalid_transition")

    draft = make_content(db, project, "Never published")
    ok(call(client, tenant, draft, "/archive", role=Role.EDITOR))
    body = ok(call(client, tenant, draft, "/unarchive", role=Role.EDITOR))
    assert (body["status"], body["published_version"]) == ("draft", None)


def test_steps_are_audited(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    publish(client, tenant, content)
    publish(client, tenant, content)
    ok(call(client, tenant, content, "/versions/1/rollback"), 201)
    ok(call(client, tenant, content, "/unpublish"))
    ok(call(client, tenant, content, "/archive"))
    ok(call(client, tenant, content, "/unarchive"))
    base = {"title": "Postcard", "project_id": str(content.project_id)}
    assert audited(db, content) == [
        ("ar_content.published", {**base, "number": 1}),
        ("ar_content.published", {**base, "number": 2}),
        ("ar_content.rolled_back", {**base, "number": 3, "copied_from": 1}),
        ("ar_content.unpublished", {**base, "status_from": "published"}),
        ("ar_content.archived", {**base, "status_from": "unpublished"}),
        ("ar_content.unarchived", {**base, "status_from": "archived"}),
    ]
    actors = db.scalars(select(AuditLog.actor_user_id).where(AuditLog.entity_id == str(content.id)))
    assert set(actors) == {tenant.users[Role.ADMIN].id}


# -- who may ----------------------------------------------------------------------------------


def test_only_admins_and_owners_publish(
    client: TestClient, tenant: Tenant, content: ARContent
) -> None:
    for suffix in ("/publish", "/unpublish", "/versions/1/rollback"):
        for role in (Role.EDITOR, Role.VIEWER):
            error = assert_error(
                call(client, tenant, content, suffix, role=role), 403, "permission_denied"
            )
            assert error["details"]["required"] == "content.publish"
    assert ok(call(client, tenant, content, "/publish", role=Role.OWNER), 201)["number"] == 1
    assert publish(client, tenant, content)["number"] == 2
    assert_error(
        call(client, tenant, content, "/archive", role=Role.VIEWER), 403, "permission_denied"
    )
    assert (
        ok(call(client, tenant, content, "/versions", method="GET", role=Role.VIEWER))["total"] == 2
    )


def test_a_restricted_project_is_not_found_without_a_grant(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    hidden = make_project(db, tenant.company, name="Secret", restricted=True)
    content = publishable(db, tenant, hidden)
    response = call(client, tenant, content, "/versions", method="GET", role=Role.EDITOR)
    assert_error(response, 404, "not_found")
    db.add(
        ProjectGrant(
            company_id=tenant.company.id,
            project_id=hidden.id,
            user_id=tenant.users[Role.EDITOR].id,
            access=ProjectAccess.EDITOR,
        )
    )
    db.flush()
    assert (
        ok(call(client, tenant, content, "/versions", method="GET", role=Role.EDITOR))["total"] == 0
    )


# -- videos a published version plays -------------------------------------------------------


def delete_video(client: TestClient, tenant: Tenant, video_id: object) -> httpx2.Response:
    url = f"/api/v1/companies/{tenant.company.id}/videos/{video_id}"
    return client.delete(url, headers=tenant.headers[Role.EDITOR])


def test_a_video_a_published_version_plays_cannot_be_deleted(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    [entry] = publish(client, tenant, content)["snapshot"]["schedule"]
    # Detached from the draft, it still plays in the published version.
    call(client, tenant, content, f"/schedule/{entry['id']}", method="DELETE", role=Role.EDITOR)
    error = assert_error(delete_video(client, tenant, entry["video_id"]), 409, "video_in_use")
    assert error["details"] == {
        "contents": [
            {"id": str(content.id), "title": "Postcard", "project_id": str(content.project_id)}
        ],
        "hidden_contents": 0,
    }
    assert "'Postcard'" in error["message"]
    ok(call(client, tenant, content, "/unpublish"))
    assert delete_video(client, tenant, entry["video_id"]).status_code == 204


def test_a_video_only_in_the_draft_can_be_deleted(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    publish(client, tenant, content)
    promo = make_video(db, tenant.company, "Promo")
    attach(client, tenant, content, promo, **CHRISTMAS_EVE, priority=1)
    assert delete_video(client, tenant, promo.id).status_code == 204


def test_contents_the_caller_cannot_see_are_only_counted(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    hidden = make_project(db, tenant.company, name="Secret", restricted=True)
    content = publishable(db, tenant, hidden)
    [entry] = publish(client, tenant, content)["snapshot"]["schedule"]
    error = assert_error(delete_video(client, tenant, entry["video_id"]), 409, "video_in_use")
    assert error["details"] == {"contents": [], "hidden_contents": 1}
    assert "Postcard" not in error["message"]
