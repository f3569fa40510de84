"""The storage contract: every test here runs against local disk and against S3 (moto in
server mode, over real HTTP). Links are fetched over HTTP as a client would: S3's from
moto, local ones from the API's signed-link routes through a TestClient."""

import hashlib
import random
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.storage import (
    InvalidKeyError,
    InvalidUploadError,
    ObjectInfo,
    ObjectNotFoundError,
    S3Storage,
    StorageError,
    StorageProvider,
    UploadedPart,
)
from app.core.storage.s3 import WRITER_PART_BYTES
from app.main import create_app
from tests.support.s3_server import S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY

MIB = 1024**2
MIN_PART = 5 * MIB
LOCAL_BASE_URL = "http://testserver"
KEY = "companies/a/files/1/original"
BAD_KEYS = ["../x", "/abs", "a//b", "a/./b", "a/\x00b", "a\\b"]


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def quoted_md5(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def write(
    provider: StorageProvider, key: str, data: bytes, content_type: str | None = None
) -> None:
    writer = provider.open_writer(key, content_type)
    for offset in range(0, len(data), MIB):
        writer.write(data[offset : offset + MIB])
    assert writer.commit() == len(data)


def read(provider: StorageProvider, key: str, start: int = 0, end: int | None = None) -> bytes:
    with closing(provider.open_read(key, start, end)) as stream:
        return stream.read()


@pytest.fixture
def local_client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    local = settings.model_copy(
        update={
            "STORAGE_PROVIDER": "local",
            "STORAGE_LOCAL_ROOT": tmp_path / "storage",
            "API_PUBLIC_URL": LOCAL_BASE_URL,
        }
    )
    with TestClient(create_app(local), base_url=LOCAL_BASE_URL) as client:
        yield client


@pytest.fixture
def s3_storage(s3_endpoint: str, s3_bucket: str) -> S3Storage:
    return S3Storage(
        s3_bucket,
        endpoint_url=s3_endpoint,
        region=S3_REGION,
        access_key_id=S3_ACCESS_KEY_ID,
        secret_access_key=S3_SECRET_ACCESS_KEY,
    )


@pytest.fixture(params=["local", "s3"])
def provider(request: pytest.FixtureRequest) -> StorageProvider:
    if request.param == "local":
        client: TestClient = request.getfixturevalue("local_client")
        storage: StorageProvider = client.app.state.storage  # type: ignore[attr-defined]
        return storage
    s3: StorageProvider = request.getfixturevalue("s3_storage")
    return s3


@pytest.fixture
def http(provider: StorageProvider, request: pytest.FixtureRequest) -> Iterator[httpx2.Client]:
    """Requests to a link's absolute URL: into the app for local links, over the wire to S3."""
    if provider.name == "local":
        yield request.getfixturevalue("local_client")
        return
    with httpx2.Client(timeout=30) as client:
        yield client


PartSender = Callable[[str, int, bytes], httpx2.Response]


@pytest.fixture
def send_part(provider: StorageProvider, http: httpx2.Client) -> PartSender:
    def send(upload_id: str, part_number: int, data: bytes) -> httpx2.Response:
        return http.put(provider.part_upload_url(KEY, upload_id, part_number, 60), content=data)

    return send


# Writing and reading


def test_writer_publishes_only_on_commit(provider: StorageProvider) -> None:
    writer = provider.open_writer(KEY, "text/plain")
    writer.write(b"hello ")
    writer.write(b"world")
    assert not provider.exists(KEY)
    assert list(provider.list("companies/")) == []

    assert writer.commit() == 11
    assert provider.stat(KEY) == ObjectInfo(KEY, 11, "text/plain")
    assert read(provider, KEY) == b"hello world"


def test_a_write_larger_than_a_part_goes_up_in_parts(provider: StorageProvider) -> None:
    data = payload(2 * WRITER_PART_BYTES + 5)
    writer = provider.open_writer(KEY, "video/mp4")
    head, tail = data[: WRITER_PART_BYTES + MIB], data[WRITER_PART_BYTES + MIB :]
    writer.write(head)  # on S3 the first part is uploaded now, yet nothing is visible
    assert not provider.exists(KEY)
    writer.write(tail)

    assert writer.commit() == len(data)
    assert provider.stat(KEY) == ObjectInfo(KEY, len(data), "video/mp4")
    assert hashlib.sha256(read(provider, KEY)).digest() == hashlib.sha256(data).digest()


def test_an_aborted_write_leaves_the_previous_object_alone(provider: StorageProvider) -> None:
    write(provider, KEY, b"previous")
    writer = provider.open_writer(KEY)
    writer.write(payload(WRITER_PART_BYTES + MIB))
    writer.abort()

    assert read(provider, KEY) == b"previous"
    provider.delete(KEY)
    aborted = provider.open_writer("companies/a/never")
    aborted.write(b"data")
    aborted.abort()
    assert list(provider.list("")) == []


def test_put_file_and_download_file(provider: StorageProvider, tmp_path: Path) -> None:
    data = payload(WRITER_PART_BYTES + MIB)  # large enough for a multipart transfer on S3
    source, copy = tmp_path / "source.mp4", tmp_path / "copy.mp4"
    source.write_bytes(data)

    provider.put_file(KEY, source, "video/mp4")
    assert provider.stat(KEY) == ObjectInfo(KEY, len(data), "video/mp4")
    provider.download_file(KEY, copy)
    assert copy.read_bytes() == data
    with pytest.raises(ObjectNotFoundError):
        provider.download_file("companies/a/missing", tmp_path / "missing")


def test_open_read_serves_byte_ranges(provider: StorageProvider) -> None:
    data = payload(1000)
    write(provider, KEY, data)

    assert read(provider, KEY, 10, 19) == data[10:20]
    assert read(provider, KEY, 990) == data[990:]
    assert read(provider, KEY, 995, 5000) == data[995:]  # an end past the object is clipped
    with closing(provider.open_read(KEY, 100, 349)) as stream:
        pieces = iter(lambda: stream.read(64), b"")
        assert b"".join(pieces) == data[100:350]


def test_open_read_refuses_bad_ranges_and_missing_objects(provider: StorageProvider) -> None:
    write(provider, KEY, payload(1000))

    with pytest.raises(StorageError):
        provider.open_read(KEY, 1000)
    with pytest.raises(ValueError, match="byte range"):
        provider.open_read(KEY, 5, 4)
    with pytest.raises(ObjectNotFoundError):
        provider.open_read("companies/a/missing")


def test_stat_exists_and_delete(provider: StorageProvider) -> None:
    assert not provider.exists(KEY)
    with pytest.raises(ObjectNotFoundError):
        provider.stat(KEY)
    write(provider, KEY, b"data")
    assert provider.exists(KEY)
    assert provider.stat(KEY).size == 4

    provider.delete(KEY)
    provider.delete(KEY)  # deleting what is gone is not an error
    assert not provider.exists(KEY)


def test_list_and_delete_prefix_keep_to_their_prefix(provider: StorageProvider) -> None:
    for key, data in {
        "companies/a/x": b"1",
        "companies/a/sub/y": b"22",
        "companies/ab/z": b"333",
        "other": b"4444",
    }.items():
        write(provider, key, data)

    assert list(provider.list("companies/a/")) == [
        ObjectInfo("companies/a/sub/y", 2),
        ObjectInfo("companies/a/x", 1),
    ]
    # A prefix is a string prefix, as on S3: without the slash it reaches companies/ab too.
    assert [info.key for info in provider.list("companies/a")] == [
        "companies/a/sub/y",
        "companies/a/x",
        "companies/ab/z",
    ]
    assert provider.delete_prefix("companies/a/") == 2
    assert [info.key for info in provider.list("")] == ["companies/ab/z", "other"]
    assert provider.delete_prefix("companies/a/") == 0


@pytest.mark.parametrize("prefix", ["", "companies/a", "../"])
def test_delete_prefix_wants_a_folder(provider: StorageProvider, prefix: str) -> None:
    write(provider, "companies/ab/z", b"1")
    with pytest.raises(InvalidKeyError):
        provider.delete_prefix(prefix)
    assert provider.exists("companies/ab/z")


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused_everywhere(
    provider: StorageProvider, key: str, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"data")
    upload_id = "0" * 32
    operations: list[Callable[[], object]] = [
        lambda: provider.open_writer(key),
        lambda: provider.put_file(key, source),
        lambda: provider.download_file(key, tmp_path / "copy"),
        lambda: provider.open_read(key),
        lambda: provider.stat(key),
        lambda: provider.exists(key),
        lambda: provider.delete(key),
        lambda: list(provider.list(f"{key}/")),
        lambda: provider.delete_prefix(f"{key}/"),
        lambda: provider.download_url(key, 60),
        lambda: provider.upload_url(key, 60),
        lambda: provider.create_multipart_upload(key),
        lambda: provider.part_upload_url(key, upload_id, 1, 60),
        lambda: provider.list_parts(key, upload_id),
        lambda: provider.complete_multipart_upload(key, upload_id, []),
        lambda: provider.abort_multipart_upload(key, upload_id),
    ]
    for operation in operations:
        with pytest.raises(InvalidKeyError):
            operation()


# Links


def test_a_download_link_serves_ranges(provider: StorageProvider, http: httpx2.Client) -> None:
    data = payload(1000)
    write(provider, KEY, data, "application/octet-stream")
    url = provider.download_url(KEY, 60, filename="отчёт 1.mp4", content_type="video/mp4")

    whole = http.get(url)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%201.mp4"
    )

    part = http.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == "bytes 100-199/1000"


# Local links only: S3 checks its own presigned signatures (moto does not emulate that).
@pytest.mark.parametrize("provider", ["local"], indirect=True)
def test_forged_and_expired_links_are_refused(
    provider: StorageProvider, http: httpx2.Client
) -> None:
    write(provider, KEY, b"secret")
    write(provider, "companies/a/other", b"other")
    url = provider.download_url(KEY, 60)
    assert http.get(url).status_code == 200

    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    other_key = url.replace(KEY, "companies/a/other")
    expired = provider.download_url(KEY, -1)
    for link in (forged, other_key, expired):
        assert http.get(link).status_code == 403, link


def test_an_upload_link_takes_one_whole_object(
    provider: StorageProvider, http: httpx2.Client
) -> None:
    url = provider.upload_url(KEY, 60, "text/plain")

    response = http.put(url, content=b"hello", headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    assert response.headers["etag"] == quoted_md5(b"hello")
    assert provider.stat(KEY) == ObjectInfo(KEY, 5, "text/plain")
    assert read(provider, KEY) == b"hello"


# Multipart uploads


def test_a_multipart_upload_over_http(provider: StorageProvider, send_part: PartSender) -> None:
    first, last = payload(MIN_PART, seed=1), payload(1234, seed=2)
    upload_id = provider.create_multipart_upload(KEY, "video/mp4")
    assert provider.list_parts(KEY, upload_id) == []

    sent = send_part(upload_id, 1, first)
    assert sent.status_code == 200
    assert sent.headers["etag"] == quoted_md5(first)
    # A resumed upload asks what arrived, then sends the rest.
    assert provider.list_parts(KEY, upload_id) == [UploadedPart(1, quoted_md5(first), MIN_PART)]
    assert send_part(upload_id, 2, last).status_code == 200
    parts = provider.list_parts(KEY, upload_id)
    assert parts == [
        UploadedPart(1, quoted_md5(first), MIN_PART),
        UploadedPart(2, quoted_md5(last), 1234),
    ]
    assert not provider.exists(KEY)

    info = provider.complete_multipart_upload(KEY, upload_id, parts)
    assert info == ObjectInfo(KEY, MIN_PART + 1234, "video/mp4")
    assert read(provider, KEY) == first + last
    with pytest.raises(ObjectNotFoundError):
        provider.list_parts(KEY, upload_id)


def test_completion_refuses_parts_that_do_not_match(
    provider: StorageProvider, send_part: PartSender
) -> None:
    upload_id = provider.create_multipart_upload(KEY)
    small, tail = payload(1000), b"tail"
    assert send_part(upload_id, 1, small).status_code == 200
    assert send_part(upload_id, 2, tail).status_code == 200

    wrong_etag = [UploadedPart(1, quoted_md5(b"something else"), 1000)]
    too_small = [UploadedPart(1, quoted_md5(small), 1000), UploadedPart(2, quoted_md5(tail), 4)]
    for parts in (wrong_etag, too_small):
        # The client's mistake, told apart from a storage failure so the API answers 4xx.
        with pytest.raises(InvalidUploadError):
            provider.complete_multipart_upload(KEY, upload_id, parts)
    assert not provider.exists(KEY)
    assert len(provider.list_parts(KEY, upload_id)) == 2  # still there to fix and retry


def test_an_aborted_upload_is_gone(provider: StorageProvider, send_part: PartSender) -> None:
    upload_id = provider.create_multipart_upload(KEY)
    assert send_part(upload_id, 1, b"part").status_code == 200

    provider.abort_multipart_upload(KEY, upload_id)
    provider.abort_multipart_upload(KEY, upload_id)  # aborting again is not an error
    with pytest.raises(ObjectNotFoundError):
        provider.list_parts(KEY, upload_id)
    assert not provider.exists(KEY)


def test_check_passes_when_healthy(provider: StorageProvider) -> None:
    provider.check()
