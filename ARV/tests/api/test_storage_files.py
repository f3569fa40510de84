"""Files API on the local provider: streamed uploads, sniffing, limits, quota, direct
uploads in parts (resume, complete, abort), listing, download links and deletion."""

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.core.storage import build_storage
from app.models import StoredFile
from app.models.company import Plan
from app.services.plans import limits_of_plan
from app.services.storage_service import file_key
from tests.conftest import ClientFactory
from tests.support.factories import Tenant, fill_storage, make_tenant

MIB = 1024 * 1024
# The smallest bytes each sniffer recognises, padded so bodies have some size.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(2000)
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(5000)


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


def files_url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/v1/companies/{tenant.company.id}/storage/files{suffix}"


def uploads_url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/v1/companies/{tenant.company.id}/storage/uploads{suffix}"


def upload(
    client: TestClient, tenant: Tenant, content: bytes, filename: str = "card.png"
) -> httpx2.Response:
    return client.post(
        files_url(tenant),
        params={"filename": filename},
        content=content,
        headers={**tenant.headers[Role.EDITOR], "Content-Type": "application/octet-stream"},
    )


def usage(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/companies/{tenant.company.id}/storage/usage", headers=tenant.headers[Role.VIEWER]
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_upload_streams_the_body_records_hash_and_sniffs_the_type(
    client: TestClient, tenant: Tenant, settings: Settings
) -> None:
    response = upload(client, tenant, PNG, filename="../../etc/Открытка 2026.jpg")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "available"
    assert body["content_type"] == "image/png"  # from the bytes, not the name
    assert body["filename"] == "Открытка 2026.jpg"
    assert body["size_bytes"] == len(PNG)
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    stored = settings.local_storage_root / file_key(tenant.company.id, uuid.UUID(body["id"]))
    assert stored.read_bytes() == PNG


def test_download_link_serves_the_bytes_with_ranges(client: TestClient, tenant: Tenant) -> None:
    file_id = upload(client, tenant, PNG).json()["id"]
    link = client.get(
        files_url(tenant, f"/{file_id}/download-link"), headers=tenant.headers[Role.VIEWER]
    )
    assert link.status_code == 200
    ranged = client.get(link.json()["url"], headers={"Range": "bytes=0-7"})
    assert ranged.status_code == 206
    assert ranged.content == PNG[:8]


def test_upload_without_content_length_is_refused(client: TestClient, tenant: Tenant) -> None:
    def chunks() -> Iterator[bytes]:
        yield PNG

    response = client.post(
        files_url(tenant),
        params={"filename": "a.png"},
        content=chunks(),
        headers=tenant.headers[Role.EDITOR],
    )
    assert response.status_code == 411
    assert response.json()["error"]["code"] == "length_required"


def test_file_over_the_plan_limit_gets_413_before_any_byte_is_read(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    limit = limits_of_plan(db, Plan.FREE).max_file_bytes
    response = client.post(
        files_url(tenant),
        params={"filename": "huge.mp4"},
        content=b"x",
        headers={**tenant.headers[Role.EDITOR], "Content-Length": str(limit + 1)},
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["details"]["limit_bytes"] == limit
    assert str(limit) in error["message"]


@pytest.mark.parametrize(
    "content",
    [b"#EXTM3U\n#EXT-X-VERSION:3\n/etc/passwd\n", b"file '/etc/passwd'\n", b"plain text"],
    ids=["hls-playlist", "concat-list", "text"],
)
def test_content_that_is_not_media_gets_415_and_keeps_nothing(
    client: TestClient, tenant: Tenant, db: Session, content: bytes
) -> None:
    response = upload(client, tenant, content, filename="video.mp4")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert db.scalar(select(StoredFile).where(StoredFile.company_id == tenant.company.id)) is None
    assert usage(client, tenant)["total_bytes"] == 0


def test_upload_over_quota_gets_402(client: TestClient, tenant: Tenant, db: Session) -> None:
    fill_storage(db, tenant, limits_of_plan(db, Plan.FREE).storage_bytes - 100)
    response = upload(client, tenant, PNG)
    assert response.status_code == 402
    assert (
        response.json()["error"]["details"]["limit_bytes"]
        == limits_of_plan(db, Plan.FREE).storage_bytes
    )


def test_viewer_cannot_upload(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        files_url(tenant),
        params={"filename": "a.png"},
        content=PNG,
        headers=tenant.headers[Role.VIEWER],
    )
    assert response.status_code == 403


def test_list_filters_and_paginates(client: TestClient, tenant: Tenant) -> None:
    upload(client, tenant, PNG, filename="marker-one.png")
    upload(client, tenant, MP4, filename="clip.mp4")
    upload(client, tenant, PNG, filename="marker-two.png")
    headers = tenant.headers[Role.VIEWER]
    images = client.get(files_url(tenant), params={"content_type": "image/"}, headers=headers)
    assert images.json()["total"] == 2
    named = client.get(files_url(tenant), params={"filename": "CLIP"}, headers=headers).json()
    assert [item["content_type"] for item in named["items"]] == ["video/mp4"]
    page = client.get(files_url(tenant), params={"limit": 1, "offset": 1}, headers=headers).json()
    assert (page["total"], len(page["items"])) == (3, 1)


def test_usage_counts_files(client: TestClient, tenant: Tenant, db: Session) -> None:
    upload(client, tenant, PNG)
    upload(client, tenant, MP4, filename="a.mp4")
    body = usage(client, tenant)
    assert body["used_bytes"] == len(PNG) + len(MP4)
    assert body["file_count"] == 2
    assert body["limit_bytes"] == limits_of_plan(db, Plan.FREE).storage_bytes


def test_delete_hides_the_file_and_frees_quota(client: TestClient, tenant: Tenant) -> None:
    file_id = upload(client, tenant, PNG).json()["id"]
    response = client.delete(files_url(tenant, f"/{file_id}"), headers=tenant.headers[Role.EDITOR])
    assert response.status_code == 204
    gone = client.get(files_url(tenant, f"/{file_id}"), headers=tenant.headers[Role.VIEWER])
    assert gone.status_code == 404
    assert usage(client, tenant)["total_bytes"] == 0


def test_another_companys_file_is_not_found(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings
) -> None:
    file_id = upload(client, tenant, PNG).json()["id"]
    other = make_tenant(db, settings, name="Other")
    for method, suffix in [("GET", ""), ("GET", "/download-link"), ("DELETE", "")]:
        response = client.request(
            method,
            f"/api/v1/companies/{other.company.id}/storage/files/{file_id}{suffix}",
            headers=other.headers[Role.OWNER],
        )
        assert response.status_code == 404, (method, suffix)
    listed = client.get(files_url(other), headers=other.headers[Role.OWNER]).json()
    assert listed["total"] == 0


# Direct uploads in parts, on the local provider (the API signs the part URLs).
@pytest.fixture
def parts_client(client_for: ClientFactory, settings: Settings) -> TestClient:
    return client_for(settings.model_copy(update={"DIRECT_UPLOAD_PART_BYTES": 5 * MIB}))


def start(client: TestClient, tenant: Tenant, size: int) -> dict[str, Any]:
    response = client.post(
        uploads_url(tenant),
        json={"filename": "film.mp4", "size_bytes": size},
        headers=tenant.headers[Role.EDITOR],
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def put_parts(
    client: TestClient, tenant: Tenant, file_id: str, content: bytes, numbers: list[int]
) -> None:
    urls = client.post(
        uploads_url(tenant, f"/{file_id}/part-urls"),
        json={"part_numbers": numbers},
        headers=tenant.headers[Role.EDITOR],
    ).json()
    for item in urls:
        start_at = (item["part_number"] - 1) * 5 * MIB
        response = client.put(item["url"], content=content[start_at : start_at + 5 * MIB])
        assert response.status_code == 200, response.text
        assert response.headers["ETag"]


def test_direct_upload_resumes_and_completes(parts_client: TestClient, tenant: Tenant) -> None:
    content = MP4 + bytes(11 * MIB - len(MP4))
    started = start(parts_client, tenant, len(content))
    file_id = started["file"]["id"]
    assert (started["part_count"], started["part_size_bytes"]) == (3, 5 * MIB)
    assert usage(parts_client, tenant)["reserved_bytes"] == len(content)

    put_parts(parts_client, tenant, file_id, content, [1])
    # The connection dropped; the client asks what arrived and sends the rest.
    arrived = parts_client.get(
        uploads_url(tenant, f"/{file_id}/parts"), headers=tenant.headers[Role.EDITOR]
    ).json()
    assert [part["part_number"] for part in arrived] == [1]
    put_parts(parts_client, tenant, file_id, content, [2, 3])

    done = parts_client.post(
        uploads_url(tenant, f"/{file_id}/complete"), json={}, headers=tenant.headers[Role.EDITOR]
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "available"
    assert done.json()["content_type"] == "video/mp4"
    link = parts_client.get(
        files_url(tenant, f"/{file_id}/download-link"), headers=tenant.headers[Role.VIEWER]
    ).json()
    assert parts_client.get(link["url"]).content == content
    assert usage(parts_client, tenant)["used_bytes"] == len(content)


def test_completing_with_parts_missing_names_them(parts_client: TestClient, tenant: Tenant) -> None:
    content = MP4 + bytes(11 * MIB - len(MP4))
    file_id = start(parts_client, tenant, len(content))["file"]["id"]
    put_parts(parts_client, tenant, file_id, content, [1, 3])
    response = parts_client.post(
        uploads_url(tenant, f"/{file_id}/complete"), json={}, headers=tenant.headers[Role.EDITOR]
    )
    assert response.status_code == 409
    assert response.json()["error"]["details"]["missing_parts"] == [2]


def test_completing_with_a_wrong_etag_is_a_client_error(
    parts_client: TestClient, tenant: Tenant
) -> None:
    content = MP4 + bytes(1000)
    file_id = start(parts_client, tenant, len(content))["file"]["id"]
    put_parts(parts_client, tenant, file_id, content, [1])
    response = parts_client.post(
        uploads_url(tenant, f"/{file_id}/complete"),
        json={"parts": [{"part_number": 1, "etag": '"0123456789abcdef0123456789abcdef"'}]},
        headers=tenant.headers[Role.EDITOR],
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"part_size_bytes": 5 * MIB}
    retry = parts_client.post(
        uploads_url(tenant, f"/{file_id}/complete"), json={}, headers=tenant.headers[Role.EDITOR]
    )
    assert retry.status_code == 200


def test_direct_upload_of_text_is_refused_at_completion(
    parts_client: TestClient, tenant: Tenant, db: Session
) -> None:
    content = b"#EXTM3U\n" + bytes(100)
    file_id = start(parts_client, tenant, len(content))["file"]["id"]
    put_parts(parts_client, tenant, file_id, content, [1])
    response = parts_client.post(
        uploads_url(tenant, f"/{file_id}/complete"), json={}, headers=tenant.headers[Role.EDITOR]
    )
    assert response.status_code == 415
    assert db.get(StoredFile, uuid.UUID(file_id)) is None
    assert usage(parts_client, tenant)["total_bytes"] == 0


def test_short_direct_upload_is_refused_and_discarded(
    parts_client: TestClient, tenant: Tenant
) -> None:
    file_id = start(parts_client, tenant, 1000)["file"]["id"]
    put_parts(parts_client, tenant, file_id, MP4[:900], [1])
    response = parts_client.post(
        uploads_url(tenant, f"/{file_id}/complete"), json={}, headers=tenant.headers[Role.EDITOR]
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"received_bytes": 900, "declared_bytes": 1000}
    assert usage(parts_client, tenant)["total_bytes"] == 0


def test_abort_frees_the_reservation(parts_client: TestClient, tenant: Tenant) -> None:
    file_id = start(parts_client, tenant, 20 * MIB)["file"]["id"]
    response = parts_client.delete(
        uploads_url(tenant, f"/{file_id}"), headers=tenant.headers[Role.EDITOR]
    )
    assert response.status_code == 204
    assert usage(parts_client, tenant)["total_bytes"] == 0


def test_direct_upload_reserves_quota(
    parts_client: TestClient, tenant: Tenant, db: Session
) -> None:
    fill_storage(db, tenant, limits_of_plan(db, Plan.FREE).storage_bytes - 10 * MIB)
    start(parts_client, tenant, 6 * MIB)
    response = parts_client.post(
        uploads_url(tenant),
        json={"filename": "more.mp4", "size_bytes": 6 * MIB},
        headers=tenant.headers[Role.EDITOR],
    )
    assert response.status_code == 402


def test_part_numbers_outside_the_upload_are_refused(
    parts_client: TestClient, tenant: Tenant
) -> None:
    file_id = start(parts_client, tenant, 6 * MIB)["file"]["id"]
    response = parts_client.post(
        uploads_url(tenant, f"/{file_id}/part-urls"),
        json={"part_numbers": [1, 3]},
        headers=tenant.headers[Role.EDITOR],
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["invalid_parts"] == [3]


def test_client_leaving_mid_upload_keeps_nothing_and_is_no_server_error(
    app: FastAPI, tenant: Tenant, db: Session
) -> None:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": PNG[:100], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = {**tenant.headers[Role.EDITOR], "content-length": str(len(PNG))}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": files_url(tenant),
        "raw_path": files_url(tenant).encode(),
        "query_string": b"filename=a.png",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    assert start["status"] == 400
    assert db.scalar(select(StoredFile).where(StoredFile.company_id == tenant.company.id)) is None


def test_an_upload_lost_by_storage_is_forgotten_with_a_clear_answer(
    parts_client: TestClient, tenant: Tenant, db: Session, settings: Settings
) -> None:
    content = MP4 + bytes(1000)
    file_id = start(parts_client, tenant, len(content))["file"]["id"]
    put_parts(parts_client, tenant, file_id, content, [1])
    stored = db.get_one(StoredFile, uuid.UUID(file_id))
    assert stored.upload_id is not None
    build_storage(settings).abort_multipart_upload(stored.storage_key, stored.upload_id)

    listed = parts_client.get(
        uploads_url(tenant, f"/{file_id}/parts"), headers=tenant.headers[Role.EDITOR]
    )
    assert listed.status_code == 409, listed.text
    assert "no longer in storage" in listed.json()["error"]["message"]
    assert usage(parts_client, tenant)["total_bytes"] == 0
    again = parts_client.post(
        uploads_url(tenant, f"/{file_id}/complete"), json={}, headers=tenant.headers[Role.EDITOR]
    )
    assert again.status_code == 404
