"""Projects API: create, list, read and change projects; templates of their defaults;
archiving (the project and its contents read-only), soft delete, the summary of contents by
status; restricted projects, seen only by owners, admins and the members granted access,
never beyond the member's company role; the plan's AR content limit across projects; and
the validation of scene settings.

Rows a test only needs to exist (contents in a given state, a published content) are made
with the factories; what a client does goes through the API."""

import uuid
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.models import ARContent, ContentStatus, Project, ProjectStatus, ProjectTemplate
from app.schemas.scene import SceneSettings
from tests.support.api import assert_error
from tests.support.factories import (
    Tenant,
    add_member,
    auth_headers,
    make_content,
    make_project,
    make_tenant,
    make_user,
    make_video,
)

DEFAULT_SCENE = SceneSettings().model_dump(mode="json")
CHROMA_KEY_SCENE = {
    "fit": "cover",
    "loop": False,
    "transparency": {"mode": "chroma_key", "color": "#0000FF", "similarity": 0.3},
}
FREE_PLAN_CONTENTS = 5


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


def projects_url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/v1/companies/{tenant.company.id}/projects{suffix}"


def project_url(tenant: Tenant, project_id: object, suffix: str = "") -> str:
    return projects_url(tenant, f"/{project_id}{suffix}")


def contents_url(tenant: Tenant, project_id: object, suffix: str = "") -> str:
    return project_url(tenant, project_id, f"/ar-contents{suffix}")


def templates_url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/v1/companies/{tenant.company.id}/project-templates{suffix}"


def created(response: httpx2.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def ok(response: httpx2.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def create_project(
    client: TestClient, tenant: Tenant, name: str = "Postcards", **body: Any
) -> dict[str, Any]:
    response = client.post(
        projects_url(tenant), json={"name": name, **body}, headers=tenant.headers[Role.EDITOR]
    )
    return created(response)


def create_template(
    client: TestClient, tenant: Tenant, name: str = "Print", **body: Any
) -> httpx2.Response:
    return client.post(
        templates_url(tenant), json={"name": name, **body}, headers=tenant.headers[Role.ADMIN]
    )


def create_content(
    client: TestClient, tenant: Tenant, project_id: object, role: Role = Role.EDITOR, **body: Any
) -> httpx2.Response:
    return client.post(
        contents_url(tenant, project_id),
        json={"title": "Postcard", **body},
        headers=tenant.headers[role],
    )


def restrict(
    client: TestClient, tenant: Tenant, project_id: object, restricted: bool = True
) -> None:
    response = client.put(
        project_url(tenant, project_id, "/access"),
        json={"restricted": restricted},
        headers=tenant.headers[Role.ADMIN],
    )
    assert ok(response)["restricted"] is restricted


def grant(
    client: TestClient, tenant: Tenant, project_id: object, user_id: object, access: str
) -> httpx2.Response:
    return client.put(
        project_url(tenant, project_id, f"/grants/{user_id}"),
        json={"access": access},
        headers=tenant.headers[Role.ADMIN],
    )


def listed_names(client: TestClient, tenant: Tenant, role: Role, **params: Any) -> list[str]:
    page = ok(client.get(projects_url(tenant), params=params, headers=tenant.headers[role]))
    return [item["name"] for item in page["items"]]


# -- create, list, read, update -------------------------------------------------------------


def test_create_returns_the_project_with_platform_defaults(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    body = create_project(client, tenant, "Postcards", description="Winter cards")
    assert set(body) == {
        "id",
        "name",
        "description",
        "status",
        "restricted",
        "template_id",
        "default_scene",
        "default_marker_width_mm",
        "publish_threshold",
        "created_at",
        "updated_at",
    }
    assert (body["name"], body["description"]) == ("Postcards", "Winter cards")
    assert (body["status"], body["restricted"], body["template_id"]) == ("active", False, None)
    assert body["default_scene"] == DEFAULT_SCENE
    assert (body["default_marker_width_mm"], body["publish_threshold"]) == (None, 60)
    row = db.get_one(Project, uuid.UUID(body["id"]))
    assert (row.company_id, row.created_by_id) == (tenant.company.id, tenant.users[Role.EDITOR].id)
    read = client.get(project_url(tenant, body["id"]), headers=tenant.headers[Role.VIEWER])
    assert ok(read) == body


def test_create_takes_defaults_and_partial_scene_settings(
    client: TestClient, tenant: Tenant
) -> None:
    body = create_project(
        client,
        tenant,
        default_scene={"transparency": {"mode": "chroma_key"}, "placement": {"scale": 1.5}},
        default_marker_width_mm=150,
        publish_threshold=75,
    )
    scene = body["default_scene"]
    assert scene["transparency"] == {
        "mode": "chroma_key",
        "color": "#00FF00",
        "similarity": 0.4,
        "smoothness": 0.08,
    }
    assert scene["placement"] == {**DEFAULT_SCENE["placement"], "scale": 1.5}
    for field in ("fit", "loop", "autoplay", "on_marker_lost", "smoothing"):
        assert scene[field] == DEFAULT_SCENE[field], field
    assert (body["default_marker_width_mm"], body["publish_threshold"]) == (150, 75)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": ""}, ["body", "name"]),
        ({}, ["body", "name"]),
        ({"name": "x" * 201}, ["body", "name"]),
        ({"name": "P", "publish_threshold": 101}, ["body", "publish_threshold"]),
        ({"name": "P", "publish_threshold": -1}, ["body", "publish_threshold"]),
        ({"name": "P", "default_marker_width_mm": 19}, ["body", "default_marker_width_mm"]),
        ({"name": "P", "default_marker_width_mm": 5001}, ["body", "default_marker_width_mm"]),
        ({"name": "P", "status": "archived"}, ["body", "status"]),
        ({"name": "P", "restricted": True}, ["body", "restricted"]),
    ],
    ids=[
        "name-empty",
        "name-missing",
        "name-too-long",
        "threshold-over-100",
        "threshold-negative",
        "marker-too-narrow",
        "marker-too-wide",
        "status-not-writable",
        "restricted-not-writable-here",
    ],
)
def test_create_validates_the_body(
    client: TestClient, tenant: Tenant, body: dict[str, Any], loc: list[str]
) -> None:
    response = client.post(projects_url(tenant), json=body, headers=tenant.headers[Role.EDITOR])
    error = assert_error(response, 422, "validation_error")
    assert loc in [problem["loc"] for problem in error["details"]]
    assert listed_names(client, tenant, Role.OWNER) == []


def test_list_searches_by_name_filters_by_status_and_paginates(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings
) -> None:
    for name in ("Wedding CARDS", "Birthday cards", "Sale 100%", "Museum"):
        create_project(client, tenant, name)
    archived = make_project(db, tenant.company, name="Old cards", status=ProjectStatus.ARCHIVED)
    make_project(db, tenant.company, name="Deleted cards").soft_delete()
    make_project(db, make_tenant(db, settings, name="Other").company, name="Their cards")
    db.flush()

    everything = ["Birthday cards", "Museum", "Old cards", "Sale 100%", "Wedding CARDS"]
    assert listed_names(client, tenant, Role.VIEWER) == everything  # by name
    assert listed_names(client, tenant, Role.VIEWER, name="CARD") == [
        "Birthday cards",
        "Old cards",
        "Wedding CARDS",
    ]
    # A substring, not a pattern: "%" is a percent sign.
    assert listed_names(client, tenant, Role.VIEWER, name="0%") == ["Sale 100%"]
    assert listed_names(client, tenant, Role.VIEWER, name="%") == ["Sale 100%"]
    assert listed_names(client, tenant, Role.VIEWER, status="archived") == ["Old cards"]
    assert listed_names(client, tenant, Role.VIEWER, status="active", name="cards") == [
        "Birthday cards",
        "Wedding CARDS",
    ]
    page = ok(
        client.get(
            projects_url(tenant),
            params={"limit": 2, "offset": 1},
            headers=tenant.headers[Role.VIEWER],
        )
    )
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [item["name"] for item in page["items"]] == everything[1:3]
    assert page["items"][1]["id"] == str(archived.id)
    for params in ({"status": "deleted"}, {"limit": 101}, {"name": "x" * 201}):
        response = client.get(
            projects_url(tenant), params=params, headers=tenant.headers[Role.VIEWER]
        )
        assert_error(response, 422, "validation_error")


def test_update_is_partial(client: TestClient, tenant: Tenant, db: Session) -> None:
    project = create_project(
        client, tenant, "Postcards", description="Winter", default_marker_width_mm=100
    )
    url = project_url(tenant, project["id"])
    editor = tenant.headers[Role.EDITOR]

    renamed = ok(client.patch(url, json={"name": "Cards"}, headers=editor))
    assert (renamed["name"], renamed["description"]) == ("Cards", "Winter")
    assert renamed["default_marker_width_mm"] == 100
    defaults = ok(
        client.patch(
            url,
            json={"default_scene": {"fit": "cover"}, "publish_threshold": 80},
            headers=editor,
        )
    )
    assert defaults["default_scene"] == {**DEFAULT_SCENE, "fit": "cover"}
    assert (defaults["name"], defaults["publish_threshold"]) == ("Cards", 80)
    cleared = ok(
        client.patch(
            url, json={"description": None, "default_marker_width_mm": None}, headers=editor
        )
    )
    assert (cleared["description"], cleared["default_marker_width_mm"]) == (None, None)
    assert (cleared["name"], cleared["publish_threshold"]) == ("Cards", 80)
    assert ok(client.get(url, headers=tenant.headers[Role.VIEWER])) == cleared
    db.expire_all()
    row = db.get_one(Project, uuid.UUID(project["id"]))
    assert (row.name, row.description, row.publish_threshold) == ("Cards", None, 80)
    assert row.default_scene.fit == "cover"


@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"publish_threshold": None},
        {"default_scene": None},
        {"name": ""},
        {"publish_threshold": 101},
        {"status": "archived"},
        {"restricted": True},
        {"template_id": None},
    ],
    ids=[
        "name-null",
        "threshold-null",
        "scene-null",
        "name-empty",
        "threshold-over-100",
        "status",
        "restricted",
        "template",
    ],
)
def test_update_refuses_what_cannot_be_set(
    client: TestClient, tenant: Tenant, body: dict[str, Any]
) -> None:
    project = create_project(client, tenant, "Postcards")
    url = project_url(tenant, project["id"])
    response = client.patch(url, json=body, headers=tenant.headers[Role.EDITOR])
    assert_error(response, 422, "validation_error")
    assert ok(client.get(url, headers=tenant.headers[Role.EDITOR])) == project


def test_new_defaults_apply_to_contents_created_later(client: TestClient, tenant: Tenant) -> None:
    project = create_project(client, tenant)
    before = created(create_content(client, tenant, project["id"]))
    changed = client.patch(
        project_url(tenant, project["id"]),
        json={"default_scene": CHROMA_KEY_SCENE},
        headers=tenant.headers[Role.EDITOR],
    )
    expected = SceneSettings.model_validate(CHROMA_KEY_SCENE).model_dump(mode="json")
    assert ok(changed)["default_scene"] == expected
    after = created(create_content(client, tenant, project["id"]))
    assert after["scene"] == expected
    kept = client.get(
        contents_url(tenant, project["id"], f"/{before['id']}"), headers=tenant.headers[Role.VIEWER]
    )
    assert ok(kept)["scene"] == DEFAULT_SCENE


def test_another_companys_project_is_not_found(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings
) -> None:
    theirs = make_project(db, make_tenant(db, settings, name="Other").company, name="Theirs")
    owner = tenant.headers[Role.OWNER]
    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"name": "Mine"}),
        ("GET", "/summary", None),
        ("GET", "/ar-contents", None),
        ("POST", "/ar-contents", {"title": "Mine"}),
        ("POST", "/archive", None),
        ("DELETE", "", None),
    ]:
        response = client.request(
            method, project_url(tenant, theirs.id, suffix), json=body, headers=owner
        )
        error = assert_error(response, 404, "not_found")
        assert error["details"] == {"entity": "Project", "id": str(theirs.id)}, (method, suffix)
    db.expire_all()
    assert (theirs.name, theirs.status, theirs.deleted_at) == ("Theirs", ProjectStatus.ACTIVE, None)


# -- templates ------------------------------------------------------------------------------


def test_templates_are_created_listed_read_and_changed(client: TestClient, tenant: Tenant) -> None:
    print_template = created(
        create_template(
            client, tenant, "Print", default_marker_width_mm=210, default_scene={"loop": False}
        )
    )
    assert print_template["default_scene"] == {**DEFAULT_SCENE, "loop": False}
    assert (print_template["default_marker_width_mm"], print_template["publish_threshold"]) == (
        210,
        60,
    )
    created(create_template(client, tenant, "Billboard", publish_threshold=90))
    viewer = tenant.headers[Role.VIEWER]
    listed = ok(client.get(templates_url(tenant), headers=viewer))
    assert [item["name"] for item in listed["items"]] == ["Billboard", "Print"]
    url = templates_url(tenant, f"/{print_template['id']}")
    assert ok(client.get(url, headers=viewer)) == print_template

    changed = ok(
        client.patch(url, json={"publish_threshold": 70}, headers=tenant.headers[Role.ADMIN])
    )
    assert (changed["name"], changed["publish_threshold"]) == ("Print", 70)
    assert changed["default_marker_width_mm"] == 210
    refused = client.patch(url, json={"name": None}, headers=tenant.headers[Role.ADMIN])
    assert_error(refused, 422, "validation_error")
    # Only admins keep templates.
    for role in (Role.EDITOR, Role.VIEWER):
        assert_error(create_template_as(client, tenant, role), 403, "permission_denied")


def create_template_as(client: TestClient, tenant: Tenant, role: Role) -> httpx2.Response:
    return client.post(templates_url(tenant), json={"name": "Mine"}, headers=tenant.headers[role])


def test_a_template_name_is_unique_within_the_company(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings
) -> None:
    first = created(create_template(client, tenant, "Print"))
    error = assert_error(create_template(client, tenant, "Print"), 409, "template_name_taken")
    assert error["details"] == {"name": "Print"}
    other = created(create_template(client, tenant, "Billboard"))
    renamed = client.patch(
        templates_url(tenant, f"/{other['id']}"),
        json={"name": "Print"},
        headers=tenant.headers[Role.ADMIN],
    )
    assert_error(renamed, 409, "template_name_taken")
    listed = ok(client.get(templates_url(tenant), headers=tenant.headers[Role.ADMIN]))
    assert sorted((item["id"], item["name"]) for item in listed["items"]) == sorted(
        [(first["id"], "Print"), (other["id"], "Billboard")]
    )
    # Another company may use the same name.
    created(create_template(client, make_tenant(db, settings, name="Other"), "Print"))


def test_a_project_from_a_template_copies_its_defaults_and_explicit_fields_win(
    client: TestClient, tenant: Tenant
) -> None:
    template = created(
        create_template(
            client,
            tenant,
            "Print",
            default_scene=CHROMA_KEY_SCENE,
            default_marker_width_mm=210,
            publish_threshold=85,
        )
    )
    copied = create_project(client, tenant, "From template", template_id=template["id"])
    assert copied["template_id"] == template["id"]
    assert copied["default_scene"] == template["default_scene"]
    assert (copied["default_marker_width_mm"], copied["publish_threshold"]) == (210, 85)

    overridden = create_project(
        client,
        tenant,
        "Overridden",
        template_id=template["id"],
        default_scene={"fit": "stretch"},
        publish_threshold=40,
    )
    assert overridden["default_scene"] == {**DEFAULT_SCENE, "fit": "stretch"}
    assert overridden["publish_threshold"] == 40
    assert overridden["default_marker_width_mm"] == 210  # not sent: the template's

    # Contents of a project made from a template start with the copied scene.
    content = created(create_content(client, tenant, copied["id"]))
    assert content["scene"] == template["default_scene"]


def test_another_companys_template_is_not_found(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings
) -> None:
    other = make_tenant(db, settings, name="Other")
    theirs = created(create_template(client, other, "Theirs"))
    response = client.post(
        projects_url(tenant),
        json={"name": "Mine", "template_id": theirs["id"]},
        headers=tenant.headers[Role.EDITOR],
    )
    error = assert_error(response, 404, "not_found")
    assert error["details"] == {"entity": "Project template", "id": theirs["id"]}
    read = client.get(templates_url(tenant, f"/{theirs['id']}"), headers=tenant.headers[Role.OWNER])
    assert_error(read, 404, "not_found")
    assert listed_names(client, tenant, Role.OWNER) == []


def test_deleting_a_template_leaves_its_projects_defaults(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    template = created(
        create_template(
            client, tenant, "Print", default_scene=CHROMA_KEY_SCENE, publish_threshold=85
        )
    )
    project = create_project(client, tenant, "From template", template_id=template["id"])
    url = templates_url(tenant, f"/{template['id']}")
    deleted = client.delete(url, headers=tenant.headers[Role.ADMIN])
    assert deleted.status_code == 204, deleted.text
    assert_error(client.get(url, headers=tenant.headers[Role.ADMIN]), 404, "not_found")
    db.expire_all()
    assert db.get(ProjectTemplate, uuid.UUID(template["id"])) is None

    after = ok(client.get(project_url(tenant, project["id"]), headers=tenant.headers[Role.VIEWER]))
    assert after["template_id"] is None
    assert after["default_scene"] == project["default_scene"]
    assert after["publish_threshold"] == 85
    # The name is free again.
    created(create_template(client, tenant, "Print"))


# -- archive and unarchive ------------------------------------------------------------------


def test_archiving_makes_the_project_and_its_contents_read_only(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    project = create_project(client, tenant)
    pid = project["id"]
    content = created(create_content(client, tenant, pid))
    video = make_video(db, tenant.company, "Default")
    editor, admin, viewer = (
        tenant.headers[role] for role in (Role.EDITOR, Role.ADMIN, Role.VIEWER)
    )
    schedule = contents_url(tenant, pid, f"/{content['id']}/schedule")
    entry = created(client.post(schedule, json={"video_id": str(video.id)}, headers=editor))

    assert_error(
        client.post(project_url(tenant, pid, "/archive"), headers=editor), 403, "permission_denied"
    )
    archived = ok(client.post(project_url(tenant, pid, "/archive"), headers=admin))
    assert archived["status"] == "archived"

    content_url = contents_url(tenant, pid, f"/{content['id']}")
    entry_url = f"{schedule}/{entry['id']}"
    changes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", contents_url(tenant, pid), {"title": "New"}),
        ("PATCH", content_url, {"title": "Changed"}),
        ("DELETE", content_url, None),
        ("POST", schedule, {"video_id": str(video.id), "priority": 1}),
        ("PUT", entry_url, {"video_id": str(video.id), "priority": 2}),
        ("DELETE", entry_url, None),
        ("PATCH", project_url(tenant, pid), {"name": "Renamed"}),
    ]
    for method, url, body in changes:
        error = assert_error(
            client.request(method, url, json=body, headers=editor), 409, "project_archived"
        )
        assert error["details"] == {"project_id": pid}, (method, url)
    # The owner is refused too: archived is read-only for everyone.
    renamed = client.patch(
        project_url(tenant, pid), json={"name": "Renamed"}, headers=tenant.headers[Role.OWNER]
    )
    assert_error(renamed, 409, "project_archived")

    # Reads still work.
    assert ok(client.get(project_url(tenant, pid), headers=viewer))["name"] == "Postcards"
    assert ok(client.get(contents_url(tenant, pid), headers=viewer))["total"] == 1
    assert ok(client.get(content_url, headers=viewer))["title"] == "Postcard"
    assert ok(client.get(schedule, headers=viewer))["total"] == 1
    assert ok(client.get(entry_url, headers=viewer))["priority"] == 0
    assert (
        ok(client.get(f"{content_url}/active-video", headers=viewer))["scheduled"]["id"]
        == entry["id"]
    )
    assert (
        ok(client.get(project_url(tenant, pid, "/summary"), headers=viewer))["contents_total"] == 1
    )
    assert ok(client.get(project_url(tenant, pid, "/grants"), headers=admin))["total"] == 0
    # Archiving again is harmless.
    assert (
        ok(client.post(project_url(tenant, pid, "/archive"), headers=admin))["status"] == "archived"
    )

    assert_error(
        client.post(project_url(tenant, pid, "/unarchive"), headers=editor),
        403,
        "permission_denied",
    )
    unarchived = ok(client.post(project_url(tenant, pid, "/unarchive"), headers=admin))
    assert unarchived["status"] == "active"
    assert (
        ok(client.patch(content_url, json={"title": "Changed"}, headers=editor))["title"]
        == "Changed"
    )
    assert (
        ok(client.patch(project_url(tenant, pid), json={"name": "Renamed"}, headers=editor))["name"]
        == "Renamed"
    )
    created(client.post(schedule, json={"video_id": str(video.id), "priority": 1}, headers=editor))
    created(create_content(client, tenant, pid))


# -- delete ---------------------------------------------------------------------------------


def test_delete_is_soft_and_hides_the_project_and_its_contents(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    project = create_project(client, tenant)
    pid = project["id"]
    content = created(create_content(client, tenant, pid))
    unpublished = make_content(
        db, db.get_one(Project, uuid.UUID(pid)), "Taken down", status=ContentStatus.UNPUBLISHED
    )
    assert_error(
        client.delete(project_url(tenant, pid), headers=tenant.headers[Role.EDITOR]),
        403,
        "permission_denied",
    )
    deleted = client.delete(project_url(tenant, pid), headers=tenant.headers[Role.ADMIN])
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""

    owner = tenant.headers[Role.OWNER]
    for url in (
        project_url(tenant, pid),
        project_url(tenant, pid, "/summary"),
        contents_url(tenant, pid),
        contents_url(tenant, pid, f"/{content['id']}"),
        contents_url(tenant, pid, f"/{unpublished.id}"),
    ):
        error = assert_error(client.get(url, headers=owner), 404, "not_found")
        assert error["details"] == {"entity": "Project", "id": pid}, url
    assert_error(client.delete(project_url(tenant, pid), headers=owner), 404, "not_found")
    assert listed_names(client, tenant, Role.OWNER) == []
    db.expire_all()
    row = db.get_one(Project, uuid.UUID(pid))
    assert row.deleted_at is not None
    # Soft: the contents are still there, with the project.
    assert db.get_one(ARContent, uuid.UUID(content["id"])).project_id == row.id


def test_delete_is_refused_while_a_content_is_published(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    project = make_project(db, tenant.company)
    published = make_content(db, project, "Live card", status=ContentStatus.PUBLISHED)
    make_content(db, project, "Draft card")
    url = project_url(tenant, project.id)
    error = assert_error(
        client.delete(url, headers=tenant.headers[Role.OWNER]), 409, "project_has_published_content"
    )
    assert error["details"] == {"contents": [{"id": str(published.id), "title": "Live card"}]}
    assert ok(client.get(url, headers=tenant.headers[Role.VIEWER]))["name"] == project.name
    db.expire_all()
    assert project.deleted_at is None

    # Archived is no way around it; unpublished, it can go.
    ok(client.post(project_url(tenant, project.id, "/archive"), headers=tenant.headers[Role.ADMIN]))
    archived_delete = client.delete(url, headers=tenant.headers[Role.OWNER])
    assert_error(archived_delete, 409, "project_has_published_content")
    published.status = ContentStatus.UNPUBLISHED
    db.flush()
    deleted = client.delete(url, headers=tenant.headers[Role.OWNER])
    assert deleted.status_code == 204, deleted.text
    assert_error(client.get(url, headers=tenant.headers[Role.OWNER]), 404, "not_found")


# -- summary --------------------------------------------------------------------------------


def test_summary_counts_the_projects_contents_by_status(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    project = make_project(db, tenant.company)
    url = project_url(tenant, project.id, "/summary")
    empty = ok(client.get(url, headers=tenant.headers[Role.VIEWER]))
    assert empty == {
        "project_id": str(project.id),
        "contents_total": 0,
        "contents_by_status": {"draft": 0, "published": 0, "unpublished": 0, "archived": 0},
        "scans": None,  # the plan has no analytics
    }
    for status, count in (
        (ContentStatus.DRAFT, 3),
        (ContentStatus.PUBLISHED, 2),
        (ContentStatus.ARCHIVED, 1),
    ):
        for number in range(count):
            make_content(db, project, f"{status.value} {number}", status=status)
    make_content(db, project, "Gone", status=ContentStatus.PUBLISHED).soft_delete()
    make_content(db, make_project(db, tenant.company, name="Other"), "Elsewhere")
    db.flush()
    summary = ok(client.get(url, headers=tenant.headers[Role.VIEWER]))
    assert summary["contents_total"] == 6
    assert summary["contents_by_status"] == {
        "draft": 3,
        "published": 2,
        "unpublished": 0,
        "archived": 1,
    }


# -- restricted projects --------------------------------------------------------------------


@pytest.fixture
def restricted(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    """A restricted project with one content, next to an open one."""
    create_project(client, tenant, "Open")
    project = create_project(client, tenant, "Secret")
    created(create_content(client, tenant, project["id"], role=Role.ADMIN, title="Hidden card"))
    restrict(client, tenant, project["id"])
    return project


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_a_restricted_project_is_not_found_by_members_without_a_grant(
    client: TestClient, tenant: Tenant, db: Session, restricted: dict[str, Any], role: Role
) -> None:
    pid = restricted["id"]
    content = db.scalars(select(ARContent).where(ARContent.project_id == uuid.UUID(pid))).one()
    headers = tenant.headers[role]
    for url in (
        project_url(tenant, pid),
        project_url(tenant, pid, "/summary"),
        contents_url(tenant, pid),
        contents_url(tenant, pid, f"/{content.id}"),
        contents_url(tenant, pid, f"/{content.id}/schedule"),
        contents_url(tenant, pid, f"/{content.id}/active-video"),
    ):
        error = assert_error(client.get(url, headers=headers), 404, "not_found")
        assert error["details"] == {"entity": "Project", "id": pid}, url
    assert listed_names(client, tenant, role) == ["Open"]
    assert listed_names(client, tenant, role, name="Secret") == []
    if role is Role.EDITOR:
        for method, url, body in (
            ("PATCH", project_url(tenant, pid), {"name": "Mine"}),
            ("POST", contents_url(tenant, pid), {"title": "Mine"}),
            ("DELETE", contents_url(tenant, pid, f"/{content.id}"), None),
        ):
            response = client.request(method, url, json=body, headers=headers)
            assert_error(response, 404, "not_found")
    db.expire_all()
    assert (content.title, content.deleted_at) == ("Hidden card", None)


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owners_and_admins_always_see_restricted_projects(
    client: TestClient, tenant: Tenant, restricted: dict[str, Any], role: Role
) -> None:
    headers = tenant.headers[role]
    pid = restricted["id"]
    assert listed_names(client, tenant, role) == ["Open", "Secret"]
    read = ok(client.get(project_url(tenant, pid), headers=headers))
    assert read["restricted"] is True
    assert ok(client.get(contents_url(tenant, pid), headers=headers))["total"] == 1
    created(create_content(client, tenant, pid, role=role, title="Another"))
    renamed = client.patch(project_url(tenant, pid), json={"name": "Secret 2"}, headers=headers)
    assert ok(renamed)["name"] == "Secret 2"


def test_a_viewer_grant_lets_an_editor_read_but_not_write(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings, restricted: dict[str, Any]
) -> None:
    pid = restricted["id"]
    editor = tenant.users[Role.EDITOR]
    granted = ok(grant(client, tenant, pid, editor.id, "viewer"))
    assert (granted["user_id"], granted["email"], granted["access"]) == (
        str(editor.id),
        editor.email,
        "viewer",
    )
    headers = tenant.headers[Role.EDITOR]
    assert listed_names(client, tenant, Role.EDITOR) == ["Open", "Secret"]
    assert ok(client.get(project_url(tenant, pid), headers=headers))["name"] == "Secret"
    contents = ok(client.get(contents_url(tenant, pid), headers=headers))
    assert [item["title"] for item in contents["items"]] == ["Hidden card"]
    content_url = contents_url(tenant, pid, f"/{contents['items'][0]['id']}")
    assert ok(client.get(content_url, headers=headers))["title"] == "Hidden card"

    for method, url, body, required in (
        ("POST", contents_url(tenant, pid), {"title": "Mine"}, "content.write"),
        ("PATCH", content_url, {"title": "Mine"}, "content.write"),
        ("DELETE", content_url, None, "content.write"),
        ("PATCH", project_url(tenant, pid), {"name": "Mine"}, "project.write"),
    ):
        response = client.request(method, url, json=body, headers=headers)
        error = assert_error(response, 403, "permission_denied")
        assert error["details"] == {
            "required": required,
            "role": "editor",
            "project_access": "viewer",
        }, (method, url)
    assert ok(client.get(content_url, headers=headers))["title"] == "Hidden card"
    # Another editor, not granted, still sees nothing.
    other_editor = make_user(db)
    add_member(db, tenant.company, other_editor, Role.EDITOR)
    other_headers = auth_headers(db, settings, other_editor)
    assert_error(client.get(project_url(tenant, pid), headers=other_headers), 404, "not_found")


def test_an_editor_grant_lets_an_editor_write(
    client: TestClient, tenant: Tenant, restricted: dict[str, Any]
) -> None:
    pid = restricted["id"]
    ok(grant(client, tenant, pid, tenant.users[Role.EDITOR].id, "editor"))
    headers = tenant.headers[Role.EDITOR]
    content = created(create_content(client, tenant, pid, title="Mine"))
    content_url = contents_url(tenant, pid, f"/{content['id']}")
    assert ok(client.patch(content_url, json={"title": "Ours"}, headers=headers))["title"] == "Ours"
    renamed = client.patch(project_url(tenant, pid), json={"name": "Shared"}, headers=headers)
    assert ok(renamed)["name"] == "Shared"
    # A grant is no licence to manage the project: that stays with owners and admins.
    for method, suffix, body in (
        ("POST", "/archive", None),
        ("PUT", "/access", {"restricted": False}),
        ("GET", "/grants", None),
        ("DELETE", "", None),
    ):
        response = client.request(
            method, project_url(tenant, pid, suffix), json=body, headers=headers
        )
        assert_error(response, 403, "permission_denied")


def test_a_grant_never_exceeds_the_company_role(
    client: TestClient, tenant: Tenant, restricted: dict[str, Any]
) -> None:
    pid = restricted["id"]
    ok(grant(client, tenant, pid, tenant.users[Role.VIEWER].id, "editor"))
    headers = tenant.headers[Role.VIEWER]
    assert ok(client.get(project_url(tenant, pid), headers=headers))["name"] == "Secret"
    assert ok(client.get(contents_url(tenant, pid), headers=headers))["total"] == 1
    for method, url, body, required in (
        ("POST", contents_url(tenant, pid), {"title": "Mine"}, "content.write"),
        ("PATCH", project_url(tenant, pid), {"name": "Mine"}, "project.write"),
    ):
        error = assert_error(
            client.request(method, url, json=body, headers=headers), 403, "permission_denied"
        )
        assert error["details"] == {"required": required, "role": "viewer"}
    assert ok(client.get(contents_url(tenant, pid), headers=headers))["total"] == 1


def test_grants_are_listed_changed_and_revoked(
    client: TestClient, tenant: Tenant, restricted: dict[str, Any]
) -> None:
    pid = restricted["id"]
    editor, viewer = tenant.users[Role.EDITOR], tenant.users[Role.VIEWER]
    ok(grant(client, tenant, pid, editor.id, "viewer"))
    ok(grant(client, tenant, pid, viewer.id, "viewer"))
    upgraded = ok(grant(client, tenant, pid, editor.id, "editor"))
    assert upgraded["access"] == "editor"
    grants_url = project_url(tenant, pid, "/grants")
    listed = ok(client.get(grants_url, headers=tenant.headers[Role.ADMIN]))
    by_email = sorted([(editor.email, "editor"), (viewer.email, "viewer")])
    assert [(item["email"], item["access"]) for item in listed["items"]] == by_email
    assert listed["total"] == 2

    revoked = client.delete(f"{grants_url}/{editor.id}", headers=tenant.headers[Role.ADMIN])
    assert revoked.status_code == 204, revoked.text
    error = assert_error(
        client.get(project_url(tenant, pid), headers=tenant.headers[Role.EDITOR]), 404, "not_found"
    )
    assert error["details"] == {"entity": "Project", "id": pid}
    assert listed_names(client, tenant, Role.EDITOR) == ["Open"]
    again = client.delete(f"{grants_url}/{editor.id}", headers=tenant.headers[Role.ADMIN])
    assert assert_error(again, 404, "not_found")["details"] == {
        "entity": "Project access",
        "id": str(editor.id),
    }
    assert (
        ok(client.get(project_url(tenant, pid), headers=tenant.headers[Role.VIEWER]))["name"]
        == "Secret"
    )


def test_grants_wait_while_the_project_is_open(
    client: TestClient, tenant: Tenant, restricted: dict[str, Any]
) -> None:
    pid = restricted["id"]
    ok(grant(client, tenant, pid, tenant.users[Role.EDITOR].id, "viewer"))
    restrict(client, tenant, pid, restricted=False)
    # Open to every member: the viewer grant does not narrow it.
    created(create_content(client, tenant, pid, title="Anyone's"))
    assert listed_names(client, tenant, Role.VIEWER) == ["Open", "Secret"]
    restrict(client, tenant, pid)
    error = assert_error(create_content(client, tenant, pid), 403, "permission_denied")
    assert error["details"]["project_access"] == "viewer"
    assert_error(
        client.get(project_url(tenant, pid), headers=tenant.headers[Role.VIEWER]), 404, "not_found"
    )


def test_only_members_can_be_granted_access(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings, restricted: dict[str, Any]
) -> None:
    pid = restricted["id"]
    loner = make_user(db)
    outsider = make_tenant(db, settings, name="Other").users[Role.OWNER]
    for user_id in (loner.id, outsider.id, uuid.uuid4()):
        error = assert_error(grant(client, tenant, pid, user_id, "editor"), 422, "not_a_member")
        assert error["details"] == {"user_id": str(user_id)}
    assert_error(
        grant(client, tenant, pid, tenant.users[Role.EDITOR].id, "owner"), 422, "validation_error"
    )
    listed = ok(client.get(project_url(tenant, pid, "/grants"), headers=tenant.headers[Role.ADMIN]))
    assert listed["total"] == 0
    assert_error(
        client.get(project_url(tenant, pid), headers=auth_headers(db, settings, outsider)),
        404,
        "not_found",
    )


def test_a_member_added_later_sees_only_open_projects(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings, restricted: dict[str, Any]
) -> None:
    newcomer = make_user(db)
    add_member(db, tenant.company, newcomer, Role.EDITOR)
    headers = auth_headers(db, settings, newcomer)
    page = ok(client.get(projects_url(tenant), headers=headers))
    assert [item["name"] for item in page["items"]] == ["Open"]
    assert_error(
        client.get(project_url(tenant, restricted["id"]), headers=headers), 404, "not_found"
    )
    ok(grant(client, tenant, restricted["id"], newcomer.id, "editor"))
    assert (
        ok(client.get(project_url(tenant, restricted["id"]), headers=headers))["name"] == "Secret"
    )


# -- the plan's AR content limit ------------------------------------------------------------


def test_the_plan_limit_counts_contents_in_every_project(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    assert tenant.company.plan == "free"
    first, second = (
        make_project(db, tenant.company, name="First"),
        make_project(db, tenant.company, name="Second"),
    )
    archived = make_project(db, tenant.company, name="Archived", status=ProjectStatus.ARCHIVED)
    make_content(db, first, "One")
    make_content(db, first, "Two")
    make_content(db, archived, "Three")
    created(create_content(client, tenant, second.id, title="Four"))
    created(create_content(client, tenant, first.id, title="Five"))

    sixth = create_content(client, tenant, second.id, title="Six")
    error = assert_error(sixth, 402, "ar_content_limit_reached")
    assert (error["details"]["limit"], error["details"]["used"]) == (FREE_PLAN_CONTENTS, 5)
    assert (
        ok(client.get(contents_url(tenant, second.id), headers=tenant.headers[Role.VIEWER]))[
            "total"
        ]
        == 1
    )


def test_contents_of_a_deleted_project_no_longer_count(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    doomed = make_project(db, tenant.company, name="Doomed")
    kept = make_project(db, tenant.company, name="Kept")
    for number in range(FREE_PLAN_CONTENTS):
        make_content(db, doomed, f"Card {number}")
    assert_error(create_content(client, tenant, kept.id), 402, "ar_content_limit_reached")
    deleted = client.delete(project_url(tenant, doomed.id), headers=tenant.headers[Role.ADMIN])
    assert deleted.status_code == 204, deleted.text
    created(create_content(client, tenant, kept.id))


def test_the_plan_limit_counts_restricted_projects_for_the_owner(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    hidden = make_project(db, tenant.company, name="Hidden", restricted=True)
    open_project = make_project(db, tenant.company, name="Open")
    for number in range(FREE_PLAN_CONTENTS):
        make_content(db, hidden, f"Card {number}")
    error = assert_error(
        create_content(client, tenant, open_project.id, role=Role.OWNER),
        402,
        "ar_content_limit_reached",
    )
    assert error["details"]["used"] == FREE_PLAN_CONTENTS


def test_the_plan_limit_counts_restricted_projects_for_an_editor_too(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    hidden = make_project(db, tenant.company, name="Hidden", restricted=True)
    open_project = make_project(db, tenant.company, name="Open")
    for number in range(FREE_PLAN_CONTENTS):
        make_content(db, hidden, f"Card {number}")
    error = assert_error(
        create_content(client, tenant, open_project.id), 402, "ar_content_limit_reached"
    )
    assert (error["details"]["limit"], error["details"]["used"]) == (FREE_PLAN_CONTENTS, 5)


# -- scene settings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scene", "loc_tail", "kind"),
    [
        (
            {"transparency": {"mode": "chroma_key", "color": "green"}},
            ["color"],
            "string_pattern_mismatch",
        ),
        (
            {"transparency": {"mode": "chroma_key", "color": "#00FF0"}},
            ["color"],
            "string_pattern_mismatch",
        ),
        (
            {"transparency": {"mode": "chroma_key", "similarity": 0}},
            ["similarity"],
            "greater_than_equal",
        ),
        (
            {"transparency": {"mode": "chroma_key", "smoothness": 1.5}},
            ["smoothness"],
            "less_than_equal",
        ),
        ({"transparency": {"mode": "luma_key"}}, ["transparency"], "union_tag_invalid"),
        ({"transparency": {}}, ["transparency"], "union_tag_not_found"),
        ({"placement": {"scale": 0}}, ["scale"], "greater_than_equal"),
        ({"placement": {"offset_x": 10.5}}, ["offset_x"], "less_than_equal"),
        ({"placement": {"rotation_degrees": -181}}, ["rotation_degrees"], "greater_than_equal"),
        ({"smoothing": {"filter_min_cf": 0}}, ["filter_min_cf"], "greater_than"),
        ({"smoothing": {"miss_tolerance": 61}}, ["miss_tolerance"], "less_than_equal"),
        ({"fit": "zoom"}, ["fit"], "enum"),
        ({"on_marker_lost": "explode"}, ["on_marker_lost"], "enum"),
        ({"sound": True}, ["sound"], "extra_forbidden"),
    ],
    ids=[
        "color-name",
        "color-short",
        "similarity-zero",
        "smoothness-over-one",
        "unknown-transparency-mode",
        "transparency-without-mode",
        "scale-zero",
        "offset-out-of-range",
        "rotation-out-of-range",
        "filter-zero",
        "miss-tolerance-over",
        "unknown-fit",
        "unknown-on-marker-lost",
        "unknown-field",
    ],
)
def test_scene_settings_are_validated(
    client: TestClient,
    tenant: Tenant,
    db: Session,
    scene: dict[str, Any],
    loc_tail: list[str],
    kind: str,
) -> None:
    project = make_project(db, tenant.company)
    editor = tenant.headers[Role.EDITOR]
    attempts = [
        ("POST", projects_url(tenant), {"name": "P", "default_scene": scene}, "default_scene"),
        ("PATCH", project_url(tenant, project.id), {"default_scene": scene}, "default_scene"),
        ("POST", contents_url(tenant, project.id), {"title": "C", "scene": scene}, "scene"),
    ]
    for method, url, body, field in attempts:
        error = assert_error(
            client.request(method, url, json=body, headers=editor), 422, "validation_error"
        )
        problems = [(problem["loc"], problem["type"]) for problem in error["details"]]
        assert any(
            loc[:2] == ["body", field]
            and loc[-len(loc_tail) :] == loc_tail
            and problem_kind == kind
            for loc, problem_kind in problems
        ), (method, url, problems)
    assert listed_names(client, tenant, Role.OWNER) == [project.name]
    assert ok(client.get(contents_url(tenant, project.id), headers=editor))["total"] == 0


def test_partial_scene_settings_take_the_defaults(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    project = make_project(db, tenant.company)
    response = create_content(
        client,
        tenant,
        project.id,
        scene={
            "transparency": {"mode": "chroma_key", "color": "#ff00ff"},
            "smoothing": {"filter_beta": 10},
        },
    )
    scene = created(response)["scene"]
    assert scene["transparency"] == {
        "mode": "chroma_key",
        "color": "#ff00ff",
        "similarity": 0.4,
        "smoothness": 0.08,
    }
    assert scene["smoothing"] == {**DEFAULT_SCENE["smoothing"], "filter_beta": 10.0}
    for field in ("placement", "fit", "loop", "autoplay", "on_marker_lost"):
        assert scene[field] == DEFAULT_SCENE[field], field
    alpha = created(
        create_content(client, tenant, project.id, scene={"transparency": {"mode": "alpha"}})
    )
    assert alpha["scene"]["transparency"] == {"mode": "alpha"}
