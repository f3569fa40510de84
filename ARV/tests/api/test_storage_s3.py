"""Files API with STORAGE_PROVIDER=s3, against moto's S3 server over real HTTP: streamed
uploads, direct uploads whose parts go straight to presigned S3 URLs (resume, complete,
abort), and presigned download links."""

import hashlib
import random
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.models import StoredFile
from app.services.storage_service import file_key
from tests.conftest import ClientFactory
from tests.support.factories import Tenant, make_tenant
from tests.support.s3_server import S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY, s3_client

MIB = 1024 * 1024
PART_BYTES = 5 * MIB
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(5000)
# Over two part sizes, and bytes that differ everywhere, so a part out of place shows.
CONTENT = MP4 + random.Random(20260101).randbytes(11 * MIB - len(MP4))


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    return s3_client(s3_endpoint)


@pytest.fixture
def client(
    client_for: ClientFactory, settings: Settings, s3_endpoint: str, s3_bucket: str
) -> TestClient:
    return client_for(
        settings.model_copy(
            update={
                "STORAGE_PROVIDER": "s3",
                "S3_ENDPOINT_URL": s3_endpoint,
                "S3_BUCKET": s3_bucket,
                "S3_REGION": S3_REGION,
                "S3_ACCESS_KEY_ID": S3_ACCESS_KEY_ID,
                "S3_SECRET_ACCESS_KEY": SecretStr(S3_SECRET_ACCESS_KEY),
                "DIRECT_UPLOAD_PART_BYTES": PART_BYTES,
            }
        )
    )


def files_url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/v1/companies/{tenant.company.id}/storage/files{suffix}"


def uploads_url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/v1/companies/{tenant.company.id}/storage/uploads{suffix}"


def bucket_object(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def multipart_uploads(s3: Any, bucket: str) -> list[dict[str, Any]]:
    uploads: list[dict[str, Any]] = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


def usage(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/companies/{tenant.company.id}/storage/usage", headers=tenant.headers[Role.VIEWER]
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def start(client: TestClient, tenant: Tenant, size: int) -> dict[str, Any]:
    response = client.post(
        uploads_url(tenant),
        json={"filename": "film.mp4", "size_bytes": size, "content_type": "video/mp4"},
        headers=tenant.headers[Role.EDITOR],
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def put_parts(
    client: TestClient, tenant: Tenant, file_id: str, numbers: list[int]
) -> dict[int, str]:
    """PUT parts to their presigned URLs over real HTTP, as a browser would; their ETags."""
    response = client.post(
        uploads_url(tenant, f"/{file_id}/part-urls"),
        json={"part_numbers": numbers},
        headers=tenant.headers[Role.EDITOR],
    )
    assert response.status_code == 200, response.text
    etags = {}
    for item in response.json():
        start_at = (item["part_number"] - 1) * PART_BYTES
        put = httpx2.put(item["url"], content=CONTENT[start_at : start_at + PART_BYTES])
        assert put.status_code == 200, put.text
        etags[item["part_number"]] = put.headers["ETag"]
    assert sorted(etags) == sorted(numbers)
    return etags


def test_streamed_upload_lands_in_the_bucket(
    client: TestClient, tenant: Tenant, s3: Any, s3_bucket: str
) -> None:
    response = client.post(
        files_url(tenant),
        params={"filename": "film.mp4"},
        content=CONTENT,
        headers={**tenant.headers[Role.EDITOR], "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "available"
    assert body["content_type"] == "video/mp4"
    assert body["size_bytes"] == len(CONTENT)
    assert body["sha256"] == hashlib.sha256(CONTENT).hexdigest()

    key = file_key(tenant.company.id, uuid.UUID(body["id"]))
    stored = bucket_object(s3, s3_bucket, key)
    assert len(stored) == len(CONTENT)
    assert hashlib.sha256(stored).hexdigest() == body["sha256"]
    assert multipart_uploads(s3, s3_bucket) == []  # the writer's parts were joined
    assert usage(client, tenant)["used_bytes"] == len(CONTENT)


def test_direct_upload_sends_parts_to_presigned_urls_and_resumes(
    client: TestClient, tenant: Tenant, s3: Any, s3_bucket: str, s3_endpoint: str
) -> None:
    started = start(client, tenant, len(CONTENT))
    file_id = started["file"]["id"]
    key = file_key(tenant.company.id, uuid.UUID(file_id))
    assert (started["part_count"], started["part_size_bytes"]) == (3, PART_BYTES)
    assert started["file"]["status"] == "uploading"
    (opened,) = multipart_uploads(s3, s3_bucket)
    assert opened["Key"] == key
    assert usage(client, tenant)["reserved_bytes"] == len(CONTENT)

    urls = client.post(
        uploads_url(tenant, f"/{file_id}/part-urls"),
        json={"part_numbers": [2]},
        headers=tenant.headers[Role.EDITOR],
    ).json()
    link = urlsplit(urls[0]["url"])
    assert f"{link.scheme}://{link.netloc}" == s3_endpoint
    assert link.path == f"/{s3_bucket}/{key}"
    query = parse_qs(link.query)
    assert query["partNumber"] == ["2"]
    assert query["uploadId"] == [opened["UploadId"]]
    assert query["X-Amz-Signature"]

    etags = put_parts(client, tenant, file_id, [1])
    # The connection dropped; the client asks what arrived and sends only the rest.
    arrived = client.get(
        uploads_url(tenant, f"/{file_id}/parts"), headers=tenant.headers[Role.EDITOR]
    )
    assert arrived.status_code == 200, arrived.text
    assert arrived.json() == [{"part_number": 1, "etag": etags[1], "size": PART_BYTES}]
    etags |= put_parts(client, tenant, file_id, [2, 3])

    done = client.post(
        uploads_url(tenant, f"/{file_id}/complete"),
        json={"parts": [{"part_number": n, "etag": etag} for n, etag in sorted(etags.items())]},
        headers=tenant.headers[Role.EDITOR],
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["content_type"], body["size_bytes"]) == (
        "available",
        "video/mp4",
        len(CONTENT),
    )
    assert bucket_object(s3, s3_bucket, key) == CONTENT
    assert multipart_uploads(s3, s3_bucket) == []
    assert usage(client, tenant)["used_bytes"] == len(CONTENT)


def test_completing_with_a_part_missing_names_it(
    client: TestClient, tenant: Tenant, s3: Any, s3_bucket: str
) -> None:
    file_id = start(client, tenant, len(CONTENT))["file"]["id"]
    put_parts(client, tenant, file_id, [1, 3])
    response = client.post(
        uploads_url(tenant, f"/{file_id}/complete"), json={}, headers=tenant.headers[Role.EDITOR]
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"]["details"]["missing_parts"] == [2]
    # Still resumable: the upload is open and its parts kept.
    assert len(multipart_uploads(s3, s3_bucket)) == 1


def test_download_link_is_a_presigned_s3_url_with_ranges(
    client: TestClient, tenant: Tenant, s3_bucket: str, s3_endpoint: str
) -> None:
    file_id = start(client, tenant, len(CONTENT))["file"]["id"]
    put_parts(client, tenant, file_id, [1, 2, 3])
    completed = client.post(
        uploads_url(tenant, f"/{file_id}/complete"), json={}, headers=tenant.headers[Role.EDITOR]
    )
    assert completed.status_code == 200, completed.text

    response = client.get(
        files_url(tenant, f"/{file_id}/download-link"), headers=tenant.headers[Role.VIEWER]
    )
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith(f"{s3_endpoint}/{s3_bucket}/")
    assert "X-Amz-Signature=" in url

    tail = len(CONTENT) - 100
    ranged = httpx2.get(url, headers={"Range": f"bytes={PART_BYTES - 4}-{PART_BYTES + 3}"})
    assert ranged.status_code == 206, ranged.text
    assert ranged.content == CONTENT[PART_BYTES - 4 : PART_BYTES + 4]  # across two parts
    assert ranged.headers["Content-Range"] == (
        f"bytes {PART_BYTES - 4}-{PART_BYTES + 3}/{len(CONTENT)}"
    )
    assert httpx2.get(url, headers={"Range": f"bytes={tail}-"}).content == CONTENT[tail:]
    whole = httpx2.get(url)
    assert whole.status_code == 200
    assert whole.content == CONTENT
    assert whole.headers["Content-Type"] == "video/mp4"
    assert "film.mp4" in whole.headers["Content-Disposition"]


def test_abort_removes_the_multipart_upload(
    client: TestClient, tenant: Tenant, db: Session, s3: Any, s3_bucket: str
) -> None:
    file_id = start(client, tenant, len(CONTENT))["file"]["id"]
    put_parts(client, tenant, file_id, [1])
    assert len(multipart_uploads(s3, s3_bucket)) == 1

    response = client.delete(
        uploads_url(tenant, f"/{file_id}"), headers=tenant.headers[Role.EDITOR]
    )
    assert response.status_code == 204, response.text
    assert multipart_uploads(s3, s3_bucket) == []
    assert s3.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0
    assert db.get(StoredFile, uuid.UUID(file_id)) is None
    assert usage(client, tenant)["total_bytes"] == 0
    gone = client.get(uploads_url(tenant, f"/{file_id}/parts"), headers=tenant.headers[Role.EDITOR])
    assert gone.status_code == 404


@pytest.mark.parametrize("action", ["parts", "complete", "abort"])
def test_an_upload_the_bucket_lost_is_forgotten(
    client: TestClient, tenant: Tenant, db: Session, s3: Any, s3_bucket: str, action: str
) -> None:
    """A lifecycle rule, or an abort made outside the API, removed the multipart upload."""
    file_id = start(client, tenant, len(CONTENT))["file"]["id"]
    put_parts(client, tenant, file_id, [1])
    for upload in multipart_uploads(s3, s3_bucket):
        s3.abort_multipart_upload(Bucket=s3_bucket, Key=upload["Key"], UploadId=upload["UploadId"])

    headers = tenant.headers[Role.EDITOR]
    if action == "parts":
        response = client.get(uploads_url(tenant, f"/{file_id}/parts"), headers=headers)
    elif action == "complete":
        url = uploads_url(tenant, f"/{file_id}/complete")
        response = client.post(url, json={}, headers=headers)
    else:
        response = client.delete(uploads_url(tenant, f"/{file_id}"), headers=headers)
    assert response.status_code == (204 if action == "abort" else 409), response.text
    assert db.get(StoredFile, uuid.UUID(file_id)) is None
    assert usage(client, tenant)["total_bytes"] == 0
