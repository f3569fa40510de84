"""Companies: create, list, read, update, soft delete, and the audit log they leave."""

import uuid
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.models import Company, Membership
from app.models.audit import AuditLog
from app.models.company import Plan
from app.models.user import User
from app.schemas.company_settings import CompanySettings
from app.services.plans import limits_of_plan
from tests.support.factories import add_member, auth_headers, make_company, make_tenant, make_user

COMPANIES = "/api/v1/companies"


def assert_error(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def signed_in(db: Session, settings: Settings) -> tuple[User, dict[str, str]]:
    user = make_user(db)
    return user, auth_headers(db, settings, user)


def create(client: TestClient, headers: dict[str, str], name: str, **extra: Any) -> dict[str, Any]:
    response = client.post(COMPANIES, json={"name": name, **extra}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# -- create ------------------------------------------------------------------------------


def test_creator_becomes_owner_and_sees_the_plan_limits(
    client: TestClient, db: Session, settings: Settings
) -> None:
    user, headers = signed_in(db, settings)
    body = create(client, headers, "Acme Postcards")
    free = limits_of_plan(db, Plan.FREE)
    assert body["name"] == "Acme Postcards"
    assert body["role"] == "owner"
    assert body["plan"] == "free"
    assert body["limits"] == {
        "code": "free",
        "max_members": free.max_members,
        "storage_bytes": free.storage_bytes,
        "max_ar_contents": free.max_ar_contents,
        "features": [],
    }
    assert body["settings"]["video_defaults"]["max_resolution"] == 1080
    membership = db.scalar(select(Membership).where(Membership.company_id == uuid.UUID(body["id"])))
    assert membership is not None
    assert membership.user_id == user.id
    assert membership.role == Role.OWNER


def test_slug_is_derived_from_the_name(client: TestClient, db: Session, settings: Settings) -> None:
    _, headers = signed_in(db, settings)
    assert create(client, headers, "Acme Postcards & Co.")["slug"] == "acme-postcards-co"
    assert create(client, headers, "Открытки Москвы")["slug"] == "otkrytki-moskvy"


def test_two_companies_with_one_name_get_distinct_slugs(
    client: TestClient, db: Session, settings: Settings
) -> None:
    _, headers = signed_in(db, settings)
    _, other_headers = signed_in(db, settings)
    first = create(client, headers, "Твой Город")
    second = create(client, other_headers, "Твой Город")
    third = create(client, headers, "Твой Город")
    assert first["slug"] == "tvoy-gorod"
    assert second["slug"].startswith("tvoy-gorod-")
    assert len({first["slug"], second["slug"], third["slug"]}) == 3
    assert len({first["id"], second["id"], third["id"]}) == 3
    # Each creator owns the company they created, and only that one.
    listed = client.get(COMPANIES, headers=other_headers).json()
    assert [item["id"] for item in listed["items"]] == [second["id"]]


def test_create_accepts_settings(client: TestClient, db: Session, settings: Settings) -> None:
    _, headers = signed_in(db, settings)
    body = create(
        client,
        headers,
        "Branded",
        settings={"branding": {"primary_color": "#112233"}, "video_defaults": {"loop": False}},
    )
    assert body["settings"]["branding"]["primary_color"] == "#112233"
    assert body["settings"]["video_defaults"]["loop"] is False


@pytest.mark.parametrize(
    "payload",
    [
        {"name": ""},
        {"name": "x" * 201},
        {},
        {"name": "Acme", "plan": "business"},
        {"name": "Acme", "id": str(uuid.uuid4())},
        {"name": "Acme", "settings": {"branding": {"primary_color": "red"}}},
        {"name": "Acme", "settings": {"theme": "dark"}},
    ],
    ids=["empty-name", "long-name", "no-name", "plan", "id", "bad-colour", "unknown-setting"],
)
def test_create_refuses_invalid_input(
    client: TestClient, db: Session, settings: Settings, payload: dict[str, Any]
) -> None:
    _, headers = signed_in(db, settings)
    assert_error(client.post(COMPANIES, json=payload, headers=headers), 422, "validation_error")
    assert db.scalar(select(Company).where(Company.name == "Acme")) is None


def test_create_needs_a_signed_in_user(client: TestClient) -> None:
    assert_error(client.post(COMPANIES, json={"name": "Acme"}), 401, "unauthenticated")


# -- list and read -----------------------------------------------------------------------


def test_list_my_companies_paginates_and_hides_others(
    client: TestClient, db: Session, settings: Settings
) -> None:
    user, headers = signed_in(db, settings)
    mine = [make_company(db, user, name=name) for name in ("Alpha", "Bravo", "Charlie")]
    viewer_of = make_company(db, name="Delta")
    add_member(db, viewer_of, user, Role.VIEWER)
    stranger = make_company(db, make_user(db), name="Aardvark")

    first = client.get(COMPANIES, params={"limit": 2}, headers=headers).json()
    assert first["total"] == 4
    assert first["limit"] == 2
    assert first["offset"] == 0
    assert [item["name"] for item in first["items"]] == ["Alpha", "Bravo"]
    rest = client.get(COMPANIES, params={"limit": 2, "offset": 2}, headers=headers).json()
    assert rest["total"] == 4
    assert rest["offset"] == 2
    assert [item["name"] for item in rest["items"]] == ["Charlie", "Delta"]
    listed = {item["id"] for item in first["items"] + rest["items"]}
    assert listed == {str(company.id) for company in [*mine, viewer_of]}
    assert str(stranger.id) not in listed


def test_list_is_empty_without_companies(
    client: TestClient, db: Session, settings: Settings
) -> None:
    _, headers = signed_in(db, settings)
    make_company(db, make_user(db))
    body = client.get(COMPANIES, headers=headers).json()
    assert body == {"items": [], "total": 0, "limit": 20, "offset": 0}


def test_list_page_size_is_bounded(client: TestClient, db: Session, settings: Settings) -> None:
    _, headers = signed_in(db, settings)
    response = client.get(COMPANIES, params={"limit": 101}, headers=headers)
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("role", list(Role))
def test_read_company_shows_my_role(
    client: TestClient, db: Session, settings: Settings, role: Role
) -> None:
    tenant = make_tenant(db, settings)
    response = client.get(f"{COMPANIES}/{tenant.company.id}", headers=tenant.headers[role])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(tenant.company.id)
    assert body["name"] == tenant.company.name
    assert body["role"] == role.value
    assert body["limits"]["code"] == "free"


def test_read_shows_the_plan_of_the_company(
    client: TestClient, db: Session, settings: Settings
) -> None:
    user, headers = signed_in(db, settings)
    company = make_company(db, user)
    company.plan = "business"
    db.flush()
    body = client.get(f"{COMPANIES}/{company.id}", headers=headers).json()
    assert body["limits"]["code"] == "business"
    assert body["limits"]["max_members"] == limits_of_plan(db, Plan.BUSINESS).max_members
    assert body["limits"]["features"] == sorted(
        f.value for f in limits_of_plan(db, Plan.BUSINESS).features
    )


def test_read_with_a_malformed_id_is_a_validation_error(
    client: TestClient, db: Session, settings: Settings
) -> None:
    _, headers = signed_in(db, settings)
    assert_error(client.get(f"{COMPANIES}/not-a-uuid", headers=headers), 422, "validation_error")


# -- update ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_update_name_and_settings(
    client: TestClient, db: Session, settings: Settings, role: Role
) -> None:
    tenant = make_tenant(db, settings)
    new_settings = {
        "branding": {"primary_color": "#ABCDEF", "logo_url": "https://cdn.example.com/l.png"},
        "video_defaults": {"max_resolution": 720, "hls_enabled": False},
    }
    response = client.patch(
        f"{COMPANIES}/{tenant.company.id}",
        json={"name": "Renamed", "settings": new_settings},
        headers=tenant.headers[role],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["role"] == role.value
    assert body["settings"]["branding"]["primary_color"] == "#ABCDEF"
    assert body["settings"]["video_defaults"]["max_resolution"] == 720
    assert body["settings"]["video_defaults"]["hls_enabled"] is False
    again = client.get(f"{COMPANIES}/{tenant.company.id}", headers=tenant.headers[role]).json()
    assert again["name"] == "Renamed"
    assert again["settings"] == body["settings"]


def test_update_only_the_name_keeps_settings(
    client: TestClient, db: Session, settings: Settings
) -> None:
    _, headers = signed_in(db, settings)
    created = create(client, headers, "Before", settings={"branding": {"accent_color": "#000000"}})
    url = f"{COMPANIES}/{created['id']}"
    body = client.patch(url, json={"name": "After"}, headers=headers).json()
    assert body["name"] == "After"
    assert body["slug"] == created["slug"]
    assert body["settings"] == created["settings"]


def test_update_response_carries_the_new_updated_at(
    client: TestClient, db: Session, settings: Settings
) -> None:
    _, headers = signed_in(db, settings)
    created = create(client, headers, "Before")
    url = f"{COMPANIES}/{created['id']}"
    patched = client.patch(url, json={"name": "After"}, headers=headers).json()
    read = client.get(url, headers=headers).json()
    assert read["updated_at"] > created["updated_at"]
    assert patched["updated_at"] == read["updated_at"]


@pytest.mark.parametrize(
    "payload",
    [
        {"settings": {"branding": {"primary_color": "blue"}}},
        {"settings": {"branding": {"accent_color": "#12345"}}},
        {"settings": {"branding": {"logo_url": "not a url"}}},
        {"settings": {"video_defaults": {"max_resolution": 2160}}},
        {"settings": {"theme": "dark"}},
        {"settings": {"branding": {"font": "Comic Sans"}}},
        {"plan": "business"},
        {"id": str(uuid.uuid4())},
        {"name": ""},
        {"slug": "hijacked"},
    ],
    ids=[
        "bad-colour",
        "short-colour",
        "bad-logo-url",
        "bad-resolution",
        "unknown-settings-key",
        "unknown-branding-key",
        "plan",
        "id",
        "empty-name",
        "slug",
    ],
)
def test_update_refuses_invalid_input(
    client: TestClient, db: Session, settings: Settings, payload: dict[str, Any]
) -> None:
    tenant = make_tenant(db, settings)
    response = client.patch(
        f"{COMPANIES}/{tenant.company.id}", json=payload, headers=tenant.headers[Role.OWNER]
    )
    assert_error(response, 422, "validation_error")
    db.refresh(tenant.company)
    assert tenant.company.plan == "free"
    assert tenant.company.settings == CompanySettings()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_editors_and_viewers_cannot_update(
    client: TestClient, db: Session, settings: Settings, role: Role
) -> None:
    tenant = make_tenant(db, settings)
    response = client.patch(
        f"{COMPANIES}/{tenant.company.id}", json={"name": "Nope"}, headers=tenant.headers[role]
    )
    assert_error(response, 403, "permission_denied")


# -- delete ------------------------------------------------------------------------------


def test_owner_soft_deletes_and_the_company_disappears_for_everybody(
    client: TestClient, db: Session, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    url = f"{COMPANIES}/{tenant.company.id}"
    response = client.delete(url, headers=tenant.headers[Role.OWNER])
    assert response.status_code == 204, response.text
    assert response.content == b""
    for role in Role:
        assert_error(client.get(url, headers=tenant.headers[role]), 404, "not_found")
        listed = client.get(COMPANIES, headers=tenant.headers[role]).json()
        assert str(tenant.company.id) not in {item["id"] for item in listed["items"]}
        assert listed["total"] == 0
    assert_error(client.delete(url, headers=tenant.headers[Role.OWNER]), 404, "not_found")
    db.refresh(tenant.company)
    assert tenant.company.deleted_at is not None  # soft: the row stays


@pytest.mark.parametrize("role", [Role.ADMIN, Role.EDITOR, Role.VIEWER])
def test_only_the_owner_may_delete(
    client: TestClient, db: Session, settings: Settings, role: Role
) -> None:
    tenant = make_tenant(db, settings)
    url = f"{COMPANIES}/{tenant.company.id}"
    assert_error(client.delete(url, headers=tenant.headers[role]), 403, "permission_denied")
    assert client.get(url, headers=tenant.headers[role]).status_code == 200


def test_a_deleted_company_name_can_be_reused(
    client: TestClient, db: Session, settings: Settings
) -> None:
    _, headers = signed_in(db, settings)
    first = create(client, headers, "Phoenix")
    assert client.delete(f"{COMPANIES}/{first['id']}", headers=headers).status_code == 204
    second = create(client, headers, "Phoenix")
    assert second["id"] != first["id"]
    assert second["slug"] != first["slug"]
    listed = client.get(COMPANIES, headers=headers).json()
    assert [item["id"] for item in listed["items"]] == [second["id"]]


# -- audit log ---------------------------------------------------------------------------


def audit_actions(db: Session, company_id: str) -> list[str]:
    rows = db.scalars(
        select(AuditLog)
        .where(AuditLog.company_id == uuid.UUID(company_id))
        .order_by(AuditLog.created_at, AuditLog.id)
    )
    return [row.action for row in rows]


def test_create_update_delete_are_audited(
    client: TestClient, db: Session, settings: Settings
) -> None:
    user, headers = signed_in(db, settings)
    created = create(client, headers, "Audited")
    url = f"{COMPANIES}/{created['id']}"
    assert client.patch(url, json={"name": "Audited 2"}, headers=headers).status_code == 200

    logs = client.get(f"{url}/audit-logs", headers=headers).json()
    assert [item["action"] for item in logs["items"]] == ["company.updated", "company.created"]
    updated, created_entry = logs["items"]
    assert updated["actor_user_id"] == str(user.id)
    assert updated["entity_type"] == "company"
    assert updated["entity_id"] == created["id"]
    assert updated["changes"]["before"]["name"] == "Audited"
    assert updated["changes"]["after"]["name"] == "Audited 2"
    assert created_entry["changes"]["after"]["slug"] == created["slug"]
    assert updated["request_id"]

    assert client.delete(url, headers=headers).status_code == 204
    assert sorted(audit_actions(db, created["id"])) == [
        "company.created",
        "company.deleted",
        "company.updated",
    ]
    deleted = db.scalar(select(AuditLog).where(AuditLog.action == "company.deleted"))
    assert deleted is not None
    assert deleted.actor_user_id == user.id


def test_audit_logs_filter_by_action_and_paginate(
    client: TestClient, db: Session, settings: Settings
) -> None:
    _, headers = signed_in(db, settings)
    created = create(client, headers, "Busy")
    url = f"{COMPANIES}/{created['id']}"
    for index in range(3):
        response = client.patch(url, json={"name": f"Busy {index}"}, headers=headers)
        assert response.status_code == 200

    everything = client.get(f"{url}/audit-logs", headers=headers).json()
    assert everything["total"] == 4

    first = client.get(
        f"{url}/audit-logs",
        params={"action": "company.updated", "limit": 2},
        headers=headers,
    ).json()
    assert first["total"] == 3
    assert first["limit"] == 2
    assert len(first["items"]) == 2
    assert {item["action"] for item in first["items"]} == {"company.updated"}
    rest = client.get(
        f"{url}/audit-logs",
        params={"action": "company.updated", "limit": 2, "offset": 2},
        headers=headers,
    ).json()
    assert rest["total"] == 3
    assert len(rest["items"]) == 1
    ids = [item["id"] for item in first["items"] + rest["items"]]
    assert len(set(ids)) == 3

    created_only = client.get(
        f"{url}/audit-logs", params={"action": "company.created"}, headers=headers
    ).json()
    assert [item["action"] for item in created_only["items"]] == ["company.created"]
    none = client.get(
        f"{url}/audit-logs", params={"action": "company.exploded"}, headers=headers
    ).json()
    assert none["total"] == 0
    assert none["items"] == []


def test_audit_logs_show_only_this_company(
    client: TestClient, db: Session, settings: Settings
) -> None:
    _, headers = signed_in(db, settings)
    mine = create(client, headers, "Mine")
    create(client, headers, "Also mine")
    logs = client.get(f"{COMPANIES}/{mine['id']}/audit-logs", headers=headers).json()
    assert logs["total"] == 1
    assert logs["items"][0]["entity_id"] == mine["id"]


def test_audit_log_time_filters_need_a_time_zone(
    client: TestClient, db: Session, settings: Settings
) -> None:
    _, headers = signed_in(db, settings)
    url = f"{COMPANIES}/{create(client, headers, 'Zoned')['id']}/audit-logs"
    naive = client.get(url, params={"since": "2026-01-01T00:00:00"}, headers=headers)
    assert naive.status_code == 422
    assert naive.json()["error"]["details"][0]["loc"] == ["query", "since"]
    zoned = client.get(url, params={"since": "2026-01-01T00:00:00+03:00"}, headers=headers)
    assert zoned.status_code == 200
    assert zoned.json()["total"] == 1


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.OWNER, True), (Role.ADMIN, True), (Role.EDITOR, False), (Role.VIEWER, False)],
)
def test_audit_logs_are_for_admins_and_owners(
    client: TestClient, db: Session, settings: Settings, role: Role, allowed: bool
) -> None:
    tenant = make_tenant(db, settings)
    response = client.get(
        f"{COMPANIES}/{tenant.company.id}/audit-logs", headers=tenant.headers[role]
    )
    if allowed:
        assert response.status_code == 200, response.text
    else:
        assert_error(response, 403, "permission_denied")
