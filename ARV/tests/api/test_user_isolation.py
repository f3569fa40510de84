"""Every route under /notifications and /push, taken from the app's route table, keeps users
apart: an anonymous caller gets 401, and a route naming one user's notification or device
answers another user 404, leaving it as it was.

The routes are collected when this module is imported, so a route added later is covered
without editing this file; a new kind of id in their paths needs its maker below (the test
fails until it has one)."""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.main import create_app
from app.models import Notification, PushDevice, PushPlatform, User
from tests.support.factories import auth_headers, make_user
from tests.support.routes import api_routes

USER_PREFIXES = ("/api/v1/notifications", "/api/v1/push")
# Reached from an email without signing in: its own signed token is its check.
PUBLIC = {"/api/v1/notifications/unsubscribe"}
PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


@dataclass(frozen=True)
class UserRoute:
    path: str
    method: str

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def ids(self) -> list[str]:
        return PATH_PARAM.findall(self.path)


def _user_routes() -> list[UserRoute]:
    routes = [
        UserRoute(path, method)
        for path, methods, _ in api_routes(create_app())
        if path.startswith(USER_PREFIXES) and path not in PUBLIC
        for method in sorted(methods - {"HEAD", "OPTIONS"})
    ]
    assert routes, "no user routes found"
    return routes


ROUTES = _user_routes()
WITH_IDS = [route for route in ROUTES if route.ids]


def _notification(db: Session, owner: User) -> uuid.UUID:
    told = Notification(
        user_id=owner.id,
        event_id=uuid.uuid4(),
        type="order.paid",
        title="Order paid",
        body="Thank you.",
        payload={},
        sequence=1,
    )
    db.add(told)
    db.flush()
    return told.id


def _device(db: Session, owner: User) -> uuid.UUID:
    device = PushDevice(user_id=owner.id, platform=PushPlatform.ANDROID, token="isolation")
    db.add(device)
    db.flush()
    return device.id


MAKERS: dict[str, Callable[[Session, User], uuid.UUID]] = {
    "notification_id": _notification,
    "device_id": _device,
}


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.label)
def test_anonymous_callers_are_refused(client: TestClient, route: UserRoute) -> None:
    path = PATH_PARAM.sub(str(uuid.uuid4()), route.path)
    response = client.request(route.method, path, json={})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("route", WITH_IDS, ids=lambda route: route.label)
def test_another_users_object_is_not_found(
    client: TestClient, db: Session, settings: Settings, route: UserRoute
) -> None:
    owner, stranger = make_user(db), make_user(db)
    unknown = [name for name in route.ids if name not in MAKERS]
    assert not unknown, f"no maker for {unknown}: add one to MAKERS"
    path = route.path
    for name in route.ids:
        path = path.replace(f"{{{name}}}", str(MAKERS[name](db, owner)))
    response = client.request(
        route.method, path, json={}, headers=auth_headers(db, settings, stranger)
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    kept = db.get(Notification, uuid.UUID(path.rsplit("/", 1)[1])) or db.get(
        PushDevice, uuid.UUID(path.rsplit("/", 1)[1])
    )
    assert kept is not None, "another user's request changed it"
