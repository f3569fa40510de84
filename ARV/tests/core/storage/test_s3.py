"""What only the S3 provider has to get right: links signed for the host browsers reach,
no multipart upload left behind, and failures reported as storage errors."""

from urllib.parse import parse_qs, urlsplit

import pytest

from app.core.config import Settings
from app.core.storage import S3Storage, StorageError, build_storage
from app.core.storage.s3 import WRITER_PART_BYTES
from tests.support.processes import free_port
from tests.support.s3_server import (
    S3_ACCESS_KEY_ID,
    S3_REGION,
    S3_SECRET_ACCESS_KEY,
    s3_client,
)

KEY = "companies/a/files/1/original"


def storage_at(endpoint: str, bucket: str, public_endpoint: str | None = None) -> S3Storage:
    return S3Storage(
        bucket,
        endpoint_url=endpoint,
        public_endpoint_url=public_endpoint,
        region=S3_REGION,
        access_key_id=S3_ACCESS_KEY_ID,
        secret_access_key=S3_SECRET_ACCESS_KEY,
    )


def test_links_are_signed_for_the_public_endpoint(s3_endpoint: str, s3_bucket: str) -> None:
    storage = storage_at(s3_endpoint, s3_bucket, public_endpoint="http://localhost:9999")

    for url in (
        storage.download_url(KEY, 120),
        storage.upload_url(KEY, 120),
        storage.part_upload_url(KEY, "upload-1", 3, 120),
    ):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == "http://localhost:9999"
        assert parts.path == f"/{s3_bucket}/{KEY}"  # path-style, as MinIO wants
        assert parse_qs(parts.query)["X-Amz-Expires"] == ["120"]
    part_query = parse_qs(urlsplit(storage.part_upload_url(KEY, "upload-1", 3, 60)).query)
    assert (part_query["uploadId"], part_query["partNumber"]) == (["upload-1"], ["3"])


def test_without_a_public_endpoint_links_use_the_api_endpoint(
    s3_endpoint: str, s3_bucket: str
) -> None:
    url = storage_at(s3_endpoint, s3_bucket).download_url(KEY, 60)
    assert url.startswith(f"{s3_endpoint}/{s3_bucket}/{KEY}?")


def test_an_aborted_writer_leaves_no_multipart_upload(s3_endpoint: str, s3_bucket: str) -> None:
    writer = storage_at(s3_endpoint, s3_bucket).open_writer(KEY)
    writer.write(b"x" * (WRITER_PART_BYTES + 1))  # one part uploaded
    client = s3_client(s3_endpoint)
    assert len(client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])) == 1

    writer.abort()
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def test_check_reports_a_missing_bucket(s3_endpoint: str) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        storage_at(s3_endpoint, "no-such-bucket").check()


def test_an_unreachable_endpoint_is_a_storage_error(settings: Settings) -> None:
    storage = build_storage(
        settings.model_copy(
            update={
                "STORAGE_PROVIDER": "s3",
                "S3_BUCKET": "arvlite",
                "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
            }
        )
    )
    with pytest.raises(StorageError):
        storage.check()
