"""The admin API: platform superusers change any company's plan; everyone else is refused,
and every change is in the company's audit log."""

import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.routes.admin import require_superuser
from app.core.config import Settings
from app.core.permissions import Role
from app.models import Company, Plan
from app.models.audit import AuditLog
from app.services.plans import limits_of_plan
from tests.support.api import assert_error
from tests.support.factories import auth_headers, make_company, make_tenant, make_user

ADMIN_COMPANIES = "/api/v1/admin/companies"
TENANT_PREFIX = "/api/v1/companies/{company_id}"


def superuser_headers(db: Session, settings: Settings) -> tuple[uuid.UUID, dict[str, str]]:
    admin = make_user(db, superuser=True)
    return admin.id, auth_headers(db, settings, admin)


def plan_audits(db: Session, company_id: uuid.UUID) -> list[AuditLog]:
    statement = select(AuditLog).where(
        AuditLog.company_id == company_id, AuditLog.action == "company.plan_changed"
    )
    return list(db.scalars(statement))


def stored_plan(db: Session, company: Company) -> str:
    db.expire(company)
    return company.plan


def test_superuser_changes_a_plan_and_the_company_gets_its_features(
    client: TestClient, db: Session, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    _, headers = superuser_headers(db, settings)

    response = client.patch(
        f"{ADMIN_COMPANIES}/{tenant.company.id}", json={"plan": "pro"}, headers=headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(tenant.company.id)
    assert body["plan"] == "pro"
    assert body["limits"]["code"] == "pro"
    assert body["limits"]["features"] == ["analytics", "hls"]
    assert body["limits"]["storage_bytes"] == limits_of_plan(db, Plan.PRO).storage_bytes
    assert stored_plan(db, tenant.company) == "pro"
    # The company's own members see the new plan and its limits.
    own = client.get(
        f"/api/v1/companies/{tenant.company.id}", headers=tenant.headers[Role.OWNER]
    ).json()
    assert own["plan"] == "pro"
    assert own["limits"]["features"] == ["analytics", "hls"]


def test_a_plan_change_is_in_the_company_audit_log_under_the_superuser(
    client: TestClient, db: Session, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    admin_id, headers = superuser_headers(db, settings)
    url = f"{ADMIN_COMPANIES}/{tenant.company.id}"
    client.patch(url, json={"plan": "business"}, headers=headers | {"X-Request-ID": "plan-1"})

    logs = client.get(
        f"/api/v1/companies/{tenant.company.id}/audit-logs",
        params={"action": "company.plan_changed"},
        headers=tenant.headers[Role.OWNER],
    ).json()

    assert logs["total"] == 1
    entry = logs["items"][0]
    assert entry["actor_user_id"] == str(admin_id)
    assert entry["entity_type"] == "company"
    assert entry["entity_id"] == str(tenant.company.id)
    assert entry["request_id"] == "plan-1"
    assert entry["changes"] == {
        "before": {"plan": "free"},
        "after": {"plan": "business"},
        "via": "api",
    }


def test_choosing_the_current_plan_changes_and_records_nothing(
    client: TestClient, db: Session, settings: Settings
) -> None:
    company = make_company(db, make_user(db))
    _, headers = superuser_headers(db, settings)
    response = client.patch(
        f"{ADMIN_COMPANIES}/{company.id}", json={"plan": "free"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["plan"] == "free"
    assert plan_audits(db, company.id) == []


def test_unknown_plan_is_refused_and_nothing_changes(
    client: TestClient, db: Session, settings: Settings
) -> None:
    company = make_company(db, make_user(db))
    _, headers = superuser_headers(db, settings)
    url = f"{ADMIN_COMPANIES}/{company.id}"
    for body in ({"plan": "enterprise"}, {}, {"plan": "pro", "name": "Renamed"}):
        response = client.patch(url, json=body, headers=headers)
        assert_error(response, 422, "validation_error")
    assert stored_plan(db, company) == "free"
    assert plan_audits(db, company.id) == []


def test_members_even_owners_are_refused_in_the_error_envelope(
    client: TestClient, db: Session, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    url = f"{ADMIN_COMPANIES}/{tenant.company.id}"
    for role in Role:
        response = client.patch(url, json={"plan": "business"}, headers=tenant.headers[role])
        error = assert_error(response, 403, "permission_denied")
        assert error["details"] == {"required": "superuser"}
    # Refused before the body is read: an invalid body gets the same answer.
    response = client.patch(url, json={"plan": "x"}, headers=tenant.headers[Role.OWNER])
    assert_error(response, 403, "permission_denied")
    assert stored_plan(db, tenant.company) == "free"
    assert plan_audits(db, tenant.company.id) == []


def test_anonymous_caller_is_unauthenticated(client: TestClient, db: Session) -> None:
    company = make_company(db, make_user(db))
    response = client.patch(f"{ADMIN_COMPANIES}/{company.id}", json={"plan": "pro"})
    assert_error(response, 401, "unauthenticated")


def test_unknown_or_deleted_company_is_not_found(
    client: TestClient, db: Session, settings: Settings
) -> None:
    _, headers = superuser_headers(db, settings)
    missing = uuid.uuid4()
    response = client.patch(f"{ADMIN_COMPANIES}/{missing}", json={"plan": "pro"}, headers=headers)
    error = assert_error(response, 404, "not_found")
    assert error["details"] == {"entity": "Company", "id": str(missing)}

    deleted = make_company(db, make_user(db))
    deleted.soft_delete()
    db.flush()
    response = client.patch(
        f"{ADMIN_COMPANIES}/{deleted.id}", json={"plan": "pro"}, headers=headers
    )
    assert_error(response, 404, "not_found")

    response = client.patch(f"{ADMIN_COMPANIES}/not-a-uuid", json={"plan": "pro"}, headers=headers)
    assert_error(response, 422, "validation_error")


def test_every_plan_has_limits_and_the_request_schema_offers_exactly_those(
    client: TestClient, db: Session
) -> None:
    assert [limits_of_plan(db, plan).code for plan in Plan] == list(Plan)
    document: dict[str, Any] = client.get("/openapi.json").json()
    assert document["components"]["schemas"]["Plan"]["enum"] == list(Plan)


def test_openapi_documents_the_admin_route(client: TestClient) -> None:
    document: dict[str, Any] = client.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/admin/companies/{company_id}"]["patch"]
    assert operation["tags"] == ["admin"]
    assert operation["summary"]
    assert {"401", "403", "404", "422"} <= set(operation["responses"])
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body_schema = document["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert body_schema["properties"]["plan"]["$ref"] == "#/components/schemas/Plan"
    tags = {tag["name"]: tag for tag in document["tags"]}
    assert tags["admin"]["description"]


def _depends_on(dependant: Dependant, call: object) -> bool:
    return any(
        dependency.call is call or _depends_on(dependency, call)
        for dependency in dependant.dependencies
    )


def test_company_routes_outside_the_tenant_prefix_are_superuser_only(app: FastAPI) -> None:
    """test_tenant_isolation covers routes under /companies/{company_id} (membership and
    role). Any other route naming a company must be an admin route behind the superuser
    check, or it would reach a tenant's data with neither guard."""
    outside = []
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if not isinstance(context.original_route, APIRoute) or "{company_id}" not in path:
            continue
        if path.startswith(TENANT_PREFIX):
            continue
        outside.append(path)
        assert path.startswith("/api/v1/admin/"), path
        assert _depends_on(context.dependant, require_superuser), path
    assert "/api/v1/admin/companies/{company_id}" in outside
