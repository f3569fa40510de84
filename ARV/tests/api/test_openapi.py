"""The OpenAPI document is good for client generators: short, unique operation ids; a
description on every operation and parameter; every status a route can answer, with the
error codes behind it; the raw upload body declared as bytes."""

import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.exceptions import catalogue
from app.main import OPENAPI_TAGS, create_app

OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MAX_OPERATION_ID = 40
TAG = re.compile(r"^[a-z]+(-[a-z]+)*$")
DOCUMENTED_CODE = re.compile(r"^- `([a-z_]+)`: \S", re.M)
TENANT = "/api/v1/companies/{company_id}"

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", path, operation


def test_operation_ids_are_short_unique_and_named_by_tag(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not OPERATION_ID.match(i) or len(i) > MAX_OPERATION_ID] == []
    for label, _, operation in operations(document):
        tag = operation["tags"][0].replace("-", "_")
        assert operation["operationId"].startswith(f"{tag}_"), label
    assert "videos_reencode_rendition" in ids


def test_tags_are_kebab_case_and_declared(document: dict[str, Any]) -> None:
    declared = [tag["name"] for tag in OPENAPI_TAGS]
    assert [name for name in declared if not TAG.match(name)] == []
    assert {tag["name"] for tag in document["tags"]} == set(declared)


def test_every_operation_and_parameter_is_described(document: dict[str, Any]) -> None:
    undescribed = [
        label for label, _, operation in operations(document) if not operation.get("description")
    ]
    undescribed += [
        f"{label} {parameter['in']}:{parameter['name']}"
        for label, _, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if not parameter.get("description")
    ]
    assert undescribed == []


def test_common_statuses_follow_from_what_a_route_uses(document: dict[str, Any]) -> None:
    missing = []
    for label, path, operation in operations(document):
        responses = operation["responses"]
        body = operation.get("requestBody", {}).get("content", {})
        expected = {"422"}
        if "application/json" in body or "application/x-www-form-urlencoded" in body:
            expected.add("400")
        if operation.get("security"):
            expected.add("401")
        if path.startswith(TENANT):
            expected |= {"403", "404"}
        missing += [f"{label} {status}" for status in sorted(expected - responses.keys())]
    assert missing == []


def test_error_responses_list_catalogued_codes_of_their_status(document: dict[str, Any]) -> None:
    statuses = {error.code: str(error.status.value) for error in catalogue()}
    misplaced = []
    for label, _, operation in operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            codes = DOCUMENTED_CODE.findall(response["description"])
            assert codes, f"{label} {status} names no code"
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }
            misplaced += [f"{label} {status} {c}" for c in codes if statuses.get(c) != status]
    assert misplaced == []


def codes_of(document: dict[str, Any], path: str, method: str, status: str) -> set[str]:
    description = document["paths"][path][method]["responses"][status]["description"]
    return set(DOCUMENTED_CODE.findall(description))


def test_domain_refusals_are_documented_on_their_routes(document: dict[str, Any]) -> None:
    poster = f"{TENANT}/videos/{{video_id}}/poster"
    assert codes_of(document, poster, "put", "409") == {"video_busy", "video_not_ready"}
    assert codes_of(document, poster, "put", "422") == {
        "poster_time_out_of_range",
        "validation_error",
    }
    leave = f"{TENANT}/leave"
    assert codes_of(document, leave, "post", "409") == {"last_owner"}
    login = "/api/v1/auth/login"
    assert codes_of(document, login, "post", "401") == {"invalid_credentials", "account_disabled"}
    assert codes_of(document, login, "post", "429") == {"rate_limited", "sign_in_locked"}


def test_a_public_route_documents_no_sign_in(document: dict[str, Any]) -> None:
    events = document["paths"]["/api/v1/viewer/events"]["post"]
    assert "401" not in events["responses"]
    assert "security" not in events


def test_streamed_uploads_declare_a_binary_body(document: dict[str, Any]) -> None:
    for path, method in [
        (f"{TENANT}/storage/files", "post"),
        ("/api/v1/storage/local/objects/{key}", "put"),
    ]:
        body = document["paths"][path][method]["requestBody"]
        assert body["content"] == {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
        }
