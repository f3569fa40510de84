import re
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

items = APIRouter()


@items.get("/api/v1/_items/{item_id}")
def read_item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    app.include_router(items)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_request_id_is_created_when_absent(client: TestClient) -> None:
    response = client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_request_id_round_trips(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "trace-abc.123:x"})
    assert response.headers["x-request-id"] == "trace-abc.123:x"


def test_unsafe_request_id_is_replaced(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "evil\tvalue " + "a" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_security_headers(client: TestClient) -> None:
    headers = client.get("/health").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"].startswith("default-src 'none'")


def test_docs_are_served_without_the_api_csp(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()
    assert "content-security-policy" not in response.headers


def test_cors_allows_configured_origins_only(client: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = client.options(
        "/api/v1/anything", headers={"Origin": "http://localhost:3000", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    denied = client.options(
        "/api/v1/anything", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in denied.headers


def test_large_json_is_gzipped(client: TestClient) -> None:
    response = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["info"]["title"] == "ARVlite"


def test_small_responses_are_not_compressed(client: TestClient) -> None:
    response = client.get("/health", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in response.headers
    assert response.json()["status"] == "ok"


def test_metrics_label_routes_by_template_not_raw_path(client: TestClient) -> None:
    client.get("/api/v1/_items/1")
    client.get("/api/v1/_items/2")
    client.get("/api/v1/_items/not-a-number")
    client.get("/no/such/path/123")
    text = client.get("/metrics").text
    template = 'route="/api/v1/_items/{item_id}"'
    assert f'http_requests_total{{method="GET",{template},status="200"}} 2.0' in text
    assert f'http_requests_total{{method="GET",{template},status="422"}} 1.0' in text
    assert 'http_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in text
    assert f'http_request_duration_seconds_count{{method="GET",{template}}} 3.0' in text
    assert "/_items/1" not in text
    assert "/no/such/path" not in text


def test_routes_of_included_routers_are_labelled_with_their_full_template(
    client: TestClient,
) -> None:
    client.get("/api/v1/companies/00000000-0000-0000-0000-000000000000")
    text = client.get("/metrics").text
    assert 'route="/api/v1/companies/{company_id}",status="401"' in text
