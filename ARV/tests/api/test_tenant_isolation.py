"""Every route under /companies/{company_id}, taken from the app's route table, keeps
tenants apart: another company's member and a user without a company get 404, a role
without the route's permission gets 403, and an anonymous caller 401. Every route under
/projects/{project_id} also keeps a restricted project from the members not granted it:
they get 404 naming the project.

The routes are collected when this module is imported, so a route added later is covered
without editing this file.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import httpx2
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.api.deps import RequirePermission, company_context
from app.core.config import Settings
from app.core.permissions import ROLE_PERMISSIONS, Action, Role
from app.main import create_app
from app.models import ProjectAccess, ProjectGrant
from app.services.context import CompanyContext
from tests.support.factories import (
    add_member,
    auth_headers,
    make_company,
    make_project,
    make_tenant,
    make_user,
)
from tests.support.routes import api_routes

TENANT_PREFIX = "/api/v1/companies/{company_id}"
PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


@dataclass(frozen=True)
class TenantRoute:
    path: str
    method: str
    actions: frozenset[Action]
    has_body: bool

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _permission_actions(dependant: Dependant) -> set[Action]:
    found: set[Action] = set()
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RequirePermission):
            found.add(dependency.call.action)
        found |= _permission_actions(dependency)
    return found


def _collect_tenant_routes() -> list[TenantRoute]:
    routes: list[TenantRoute] = []
    for path, methods, dependant in api_routes(create_app()):
        if not path.startswith(TENANT_PREFIX):
            continue
        for method in sorted(methods):
            routes.append(
                TenantRoute(
                    path=path,
                    method=method,
                    actions=frozenset(_permission_actions(dependant)),
                    has_body=bool(dependant.body_params),
                )
            )
    return routes


TENANT_ROUTES = _collect_tenant_routes()
ROUTE_PARAMS = [pytest.param(route, id=route.label) for route in TENANT_ROUTES]
PROJECT_PARAM = "{project_id}"
PROJECT_ROUTES = [route for route in TENANT_ROUTES if PROJECT_PARAM in route.path]
# Members whose role does not manage projects: restricted projects are hidden from them.
UNMANAGING_ROLES = [role for role in Role if Action.PROJECT_MANAGE not in ROLE_PERMISSIONS[role]]
PROJECT_ROUTE_PARAMS = [
    pytest.param(route, role, id=f"{role.value}-{route.label}")
    for route in PROJECT_ROUTES
    for role in UNMANAGING_ROLES
]


def _url(route: TenantRoute, company_id: uuid.UUID, project_id: uuid.UUID | None = None) -> str:
    known = {"company_id": company_id, "project_id": project_id}

    def fill(match: re.Match[str]) -> str:
        return str(known.get(match.group(1)) or uuid.uuid4())

    return PATH_PARAM.sub(fill, route.path)


def _call(
    client: TestClient,
    route: TenantRoute,
    company_id: uuid.UUID,
    headers: dict[str, str] | None = None,
    *,
    project_id: uuid.UUID | None = None,
) -> httpx2.Response:
    # An empty body: dependencies run before the body is validated, so a refused caller
    # is refused whatever the body holds (test_refusal_wins_over_an_invalid_body).
    body: dict[str, Any] | None = {} if route.has_body else None
    url = _url(route, company_id, project_id)
    return client.request(route.method, url, json=body, headers=headers)


def assert_error(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code
    return body


def test_route_table_is_collected() -> None:
    labels = {route.label for route in TENANT_ROUTES}
    assert TENANT_ROUTES
    assert {
        "GET /api/v1/companies/{company_id}",
        "GET /api/v1/companies/{company_id}/members",
        "PATCH /api/v1/companies/{company_id}/members/{user_id}",
        "DELETE /api/v1/companies/{company_id}/members/{user_id}",
        "POST /api/v1/companies/{company_id}/invitations",
        "GET /api/v1/companies/{company_id}/invitations",
        "DELETE /api/v1/companies/{company_id}/invitations/{invitation_id}",
        "POST /api/v1/companies/{company_id}/invitations/{invitation_id}/resend",
    } <= labels


def test_project_routes_are_collected() -> None:
    project = f"{TENANT_PREFIX}/projects/{PROJECT_PARAM}"
    content = f"{project}/ar-contents/{{content_id}}"
    known = {
        f"GET {project}",
        f"PATCH {project}",
        f"DELETE {project}",
        f"POST {project}/archive",
        f"POST {project}/unarchive",
        f"GET {project}/summary",
        f"PUT {project}/access",
        f"GET {project}/grants",
        f"PUT {project}/grants/{{user_id}}",
        f"DELETE {project}/grants/{{user_id}}",
        f"POST {project}/ar-contents",
        f"GET {project}/ar-contents",
        f"GET {content}",
        f"PATCH {content}",
        f"DELETE {content}",
        f"GET {content}/schedule",
        f"POST {content}/schedule",
        f"GET {content}/schedule/{{entry_id}}",
        f"PUT {content}/schedule/{{entry_id}}",
        f"DELETE {content}/schedule/{{entry_id}}",
        f"GET {content}/active-video",
    }
    labels = {route.label for route in PROJECT_ROUTES}
    assert known <= labels, sorted(known - labels)
    # Every route of an entered project is checked for both kinds of member.
    assert len(PROJECT_ROUTE_PARAMS) == len(PROJECT_ROUTES) * len(UNMANAGING_ROLES)
    assert set(UNMANAGING_ROLES) == {Role.EDITOR, Role.VIEWER}
    # ...and each of them reaches the project check on some of them (reads at least).
    for role in UNMANAGING_ROLES:
        assert [route for route in PROJECT_ROUTES if route.actions <= ROLE_PERMISSIONS[role]]


def test_url_fills_every_path_parameter() -> None:
    company_id, project_id = uuid.uuid4(), uuid.uuid4()
    for route in TENANT_ROUTES:
        url = _url(route, company_id, project_id)
        assert "{" not in url
        assert "}" not in url
        assert url.startswith(f"/api/v1/companies/{company_id}")
        assert (f"/projects/{project_id}" in url) == (route in PROJECT_ROUTES), route.label


def test_permission_walk_sees_nested_and_router_dependencies() -> None:
    guarded = APIRouter(
        prefix="/companies/{company_id}",
        dependencies=[Depends(RequirePermission(Action.AUDIT_READ))],
    )

    @guarded.get("/by-router")
    def by_router() -> None:
        return None

    @guarded.get("/nested")
    def nested(ctx: Annotated[CompanyContext, company_context(Action.MEMBER_INVITE)]) -> None:
        return None

    bare = APIRouter(prefix="/companies/{company_id}")

    @bare.get("/forgotten")
    def forgotten(company_id: uuid.UUID) -> None:
        return None

    app = FastAPI()
    outer = APIRouter(prefix="/api/v1")
    outer.include_router(guarded)
    outer.include_router(bare)
    app.include_router(outer)
    found = {path: _permission_actions(dependant) for path, _, dependant in api_routes(app)}
    assert found[f"{TENANT_PREFIX}/by-router"] == {Action.AUDIT_READ}
    assert found[f"{TENANT_PREFIX}/nested"] == {Action.AUDIT_READ, Action.MEMBER_INVITE}
    assert found[f"{TENANT_PREFIX}/forgotten"] == set()


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_every_tenant_route_requires_a_permission(route: TenantRoute) -> None:
    assert route.actions, f"{route.label} has no RequirePermission dependency"


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_member_of_another_company_gets_not_found(
    route: TenantRoute, client: TestClient, db: Session, settings: Settings
) -> None:
    company_a = make_company(db, make_user(db), name="Company A")
    owner_b = make_user(db)
    make_company(db, owner_b, name="Company B")
    response = _call(client, route, company_a.id, auth_headers(db, settings, owner_b))
    body = assert_error(response, 404, "not_found")
    assert body["error"]["details"]["entity"] == "Company"


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_user_without_a_company_gets_not_found(
    route: TenantRoute, client: TestClient, db: Session, settings: Settings
) -> None:
    company_a = make_company(db, make_user(db), name="Company A")
    loner = make_user(db)
    response = _call(client, route, company_a.id, auth_headers(db, settings, loner))
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_unknown_company_gets_not_found(
    route: TenantRoute, client: TestClient, db: Session, settings: Settings
) -> None:
    user = make_user(db)
    make_company(db, user)
    response = _call(client, route, uuid.uuid4(), auth_headers(db, settings, user))
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_roles_without_the_permission_are_refused(
    route: TenantRoute, client: TestClient, db: Session, settings: Settings
) -> None:
    assert route.actions, f"{route.label} has no RequirePermission dependency"
    tenant = make_tenant(db, settings)
    refused = [role for role in Role if not route.actions <= ROLE_PERMISSIONS[role]]
    for role in refused:
        response = _call(client, route, tenant.company.id, tenant.headers[role])
        body = assert_error(response, 403, "permission_denied")
        assert body["error"]["details"]["role"] == role.value
        assert body["error"]["details"]["required"] in {action.value for action in route.actions}


@pytest.mark.parametrize(("route", "role"), PROJECT_ROUTE_PARAMS)
def test_member_without_a_grant_does_not_find_a_restricted_project(
    route: TenantRoute, role: Role, client: TestClient, db: Session, settings: Settings
) -> None:
    """404 naming the project, before anything under it is looked at or the body is read;
    once granted access as their own role, the same member gets past the project. Where
    the role itself lacks the route's permission, it is refused (403) before the project
    is looked up, so that answer says nothing about the project either."""
    company = make_company(db, name="Company A")
    member = make_user(db)
    add_member(db, company, member, role)
    headers = auth_headers(db, settings, member)
    project = make_project(db, company, restricted=True)

    response = _call(client, route, company.id, headers, project_id=project.id)
    if not route.actions <= ROLE_PERMISSIONS[role]:
        body = assert_error(response, 403, "permission_denied")
        assert "project_access" not in body["error"]["details"]
        return
    body = assert_error(response, 404, "not_found")
    assert body["error"]["details"] == {"entity": "Project", "id": str(project.id)}

    access = ProjectAccess(role.value)
    db.add(
        ProjectGrant(company_id=company.id, project_id=project.id, user_id=member.id, access=access)
    )
    db.flush()
    granted = _call(client, route, company.id, headers, project_id=project.id)
    assert granted.status_code < 500, granted.text
    if granted.status_code == 404:
        assert granted.json()["error"]["details"]["entity"] != "Project", granted.text


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_anonymous_caller_is_unauthenticated(
    route: TenantRoute, client: TestClient, db: Session
) -> None:
    company_a = make_company(db, make_user(db), name="Company A")
    assert_error(_call(client, route, company_a.id), 401, "unauthenticated")
    bad_token = {"Authorization": "Bearer not-a-token"}
    assert_error(_call(client, route, company_a.id, bad_token), 401, "unauthenticated")


def test_refusal_wins_over_an_invalid_body(
    client: TestClient, db: Session, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    outsider = make_user(db)
    url = f"/api/v1/companies/{tenant.company.id}/members/{tenant.users[Role.VIEWER].id}"
    invalid = {"role": "emperor", "unexpected": True}
    response = client.patch(url, json=invalid, headers=auth_headers(db, settings, outsider))
    assert_error(response, 404, "not_found")
    response = client.patch(url, json=invalid, headers=tenant.headers[Role.EDITOR])
    assert_error(response, 403, "permission_denied")
    response = client.patch(url, json=invalid, headers=tenant.headers[Role.OWNER])
    assert_error(response, 422, "validation_error")


def test_deleted_company_is_not_found_for_its_own_owner(
    client: TestClient, db: Session, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    tenant.company.soft_delete()
    db.flush()
    for route in TENANT_ROUTES:
        response = _call(client, route, tenant.company.id, tenant.headers[Role.OWNER])
        assert_error(response, 404, "not_found")
