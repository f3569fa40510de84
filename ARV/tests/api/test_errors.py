"""Every failure answers in one envelope: {"error": {code, message, details}, "request_id"}."""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import Field

from app.api.deps import PageParamsDep
from app.core.exceptions import ConflictError, NotFoundError, RateLimitedError
from app.schemas.common import RequestSchema

router = APIRouter(prefix="/api/v1/_test")


class Widget(RequestSchema):
    name: str = Field(min_length=1, max_length=50)
    size: int = Field(ge=1, le=10)


@router.get("/missing")
def missing() -> None:
    raise NotFoundError.for_entity("Widget", "w-1")


@router.get("/conflict")
def conflict() -> None:
    raise ConflictError("Widget name already taken.", details={"field": "name"})


@router.get("/limited")
def limited() -> None:
    raise RateLimitedError(retry_after_seconds=42)


@router.get("/boom")
def boom() -> None:
    raise RuntimeError("secret internal detail /etc/passwd")


@router.get("/http-503")
def http_503() -> None:
    raise HTTPException(status_code=503, detail="Maintenance.")


@router.post("/widgets")
def create_widget(widget: Widget) -> Widget:
    return widget


@router.get("/pages")
def pages(page: PageParamsDep) -> dict[str, int]:
    return {"limit": page.limit, "offset": page.offset}


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_not_found_names_the_entity(client: TestClient) -> None:
    body = assert_envelope(client.get("/api/v1/_test/missing"), 404, "not_found")
    assert body["error"]["details"] == {"entity": "Widget", "id": "w-1"}


def test_conflict(client: TestClient) -> None:
    body = assert_envelope(client.get("/api/v1/_test/conflict"), 409, "conflict")
    assert body["error"]["message"] == "Widget name already taken."


def test_rate_limited_carries_retry_after(client: TestClient) -> None:
    response = client.get("/api/v1/_test/limited")
    body = assert_envelope(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "42"
    assert body["error"]["details"] == {"retry_after_seconds": 42}


def test_framework_http_errors_keep_their_status(client: TestClient) -> None:
    body = assert_envelope(client.get("/api/v1/_test/http-503"), 503, "service_unavailable")
    assert body["error"]["message"] == "Maintenance."


def test_wrong_types_list_each_invalid_field(client: TestClient) -> None:
    response = client.post("/api/v1/_test/widgets", json={"name": "", "size": "big"})
    body = assert_envelope(response, 422, "validation_error")
    locations = {tuple(problem["loc"]) for problem in body["error"]["details"]}
    assert locations == {("body", "name"), ("body", "size")}


def test_unknown_fields_are_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v1/_test/widgets", json={"name": "a", "size": 1, "company_id": "other"}
    )
    body = assert_envelope(response, 422, "validation_error")
    assert body["error"]["details"][0]["loc"] == ["body", "company_id"]


def test_malformed_json_is_a_bad_request(client: TestClient) -> None:
    response = client.post(
        "/api/v1/_test/widgets",
        content=b'{"name": "a", "size": ',
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(response, 400, "malformed_request")


def test_unknown_route(client: TestClient) -> None:
    assert_envelope(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method(client: TestClient) -> None:
    assert_envelope(client.delete("/api/v1/_test/widgets"), 405, "method_not_allowed")


def test_query_parameter_bounds(client: TestClient) -> None:
    assert_envelope(client.get("/api/v1/_test/pages?limit=101"), 422, "validation_error")
    assert_envelope(client.get("/api/v1/_test/pages?limit=0"), 422, "validation_error")
    assert_envelope(client.get("/api/v1/_test/pages?offset=-1"), 422, "validation_error")
    assert client.get("/api/v1/_test/pages").json() == {"limit": 20, "offset": 0}


def test_unhandled_error_is_a_500_without_internals_and_is_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="arv.access"):
        response = client.get("/api/v1/_test/boom", headers={"X-Request-ID": "req-boom-1"})
    body = assert_envelope(response, 500, "internal_error")
    assert body["request_id"] == "req-boom-1"
    assert "passwd" not in response.text
    assert "Traceback" not in response.text
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [getattr(r, "request_id", None) for r in failures] == ["req-boom-1"]
    assert failures[0].exc_info is not None
    assert failures[0].exc_info[0] is RuntimeError
