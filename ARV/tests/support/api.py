"""Assertions on API answers shared by the route tests."""

from typing import Any

import httpx2


def assert_error(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    """The answer is the error envelope with this status and code; returns its `error`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error
