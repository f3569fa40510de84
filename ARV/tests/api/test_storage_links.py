"""The local provider's signed-link routes: ranges, refusals in the error envelope, keys
that try to leave the root, uploads streamed to disk."""

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import httpx2
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.storage import LocalStorage
from app.core.storage.local import INTERNAL_DIR, OBJECTS_PATH, SignedLink
from app.main import create_app
from tests.support.processes import free_port

BASE_URL = "http://testserver"
KEY = "companies/a/files/1/original"
DATA = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "storage"


@pytest.fixture
def local_settings(settings: Settings, root: Path) -> Settings:
    return settings.model_copy(
        update={
            "STORAGE_PROVIDER": "local",
            "STORAGE_LOCAL_ROOT": root,
            "API_PUBLIC_URL": BASE_URL,
        }
    )


def client_of(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url=BASE_URL, raise_server_exceptions=False)


@pytest.fixture
def client(local_settings: Settings) -> Iterator[TestClient]:
    with client_of(local_settings) as client:
        yield client


@pytest.fixture
def storage(client: TestClient) -> LocalStorage:
    storage: LocalStorage = client.app.state.storage  # type: ignore[attr-defined]
    return storage


@pytest.fixture
def stored(storage: LocalStorage) -> str:
    writer = storage.open_writer(KEY, "video/mp4")
    writer.write(DATA)
    writer.commit()
    return KEY


def quoted_md5(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def assert_refused(response: httpx2.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    message: str = error["message"]
    return message


def nothing_left(root: Path) -> bool:
    return not any(path.is_file() for path in (root / INTERNAL_DIR / "tmp").glob("*"))


# Downloads


@pytest.mark.parametrize(
    ("range_header", "content_range", "expected"),
    [
        ("bytes=0-9", "bytes 0-9/1024", DATA[:10]),
        ("bytes=1000-", "bytes 1000-1023/1024", DATA[1000:]),
        ("bytes=-24", "bytes 1000-1023/1024", DATA[-24:]),
        ("bytes=1020-5000", "bytes 1020-1023/1024", DATA[1020:]),
    ],
    ids=["start", "open-ended", "suffix", "clipped"],
)
def test_a_range_is_answered_with_206(
    client: TestClient,
    storage: LocalStorage,
    stored: str,
    range_header: str,
    content_range: str,
    expected: bytes,
) -> None:
    response = client.get(storage.download_url(stored, 60), headers={"Range": range_header})
    assert response.status_code == 206
    assert response.headers["content-range"] == content_range
    assert response.content == expected


def test_a_range_past_the_end_is_416(
    client: TestClient, storage: LocalStorage, stored: str
) -> None:
    response = client.get(storage.download_url(stored, 60), headers={"Range": "bytes=1024-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */1024"


def test_a_whole_download_says_ranges_are_accepted(
    client: TestClient, storage: LocalStorage, stored: str
) -> None:
    response = client.get(storage.download_url(stored, 60))
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "video/mp4"  # the stored type
    assert "content-disposition" not in response.headers


def test_the_signed_type_and_filename_win(
    client: TestClient, storage: LocalStorage, stored: str
) -> None:
    url = storage.download_url(stored, 60, filename='clip "1".mp4', content_type="video/webm")
    response = client.get(url)
    assert response.headers["content-type"] == "video/webm"
    assert response.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''clip%20%221%22.mp4"
    )


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("signature", "0" * 64),
        ("signature", "not hex at all \u00e9"),
        ("expires", "9999999999"),
        ("filename", "other.exe"),
        ("content_type", "text/html"),
    ],
)
def test_an_altered_link_is_403(
    client: TestClient, storage: LocalStorage, stored: str, param: str, value: str
) -> None:
    url = httpx2.URL(storage.download_url(stored, 60, filename="a.mp4"))
    altered = url.copy_set_param(param, value)
    message = assert_refused(client.get(altered), 403, "link_invalid")
    assert "signature" in message


def test_a_link_for_one_key_does_not_open_another(
    client: TestClient, storage: LocalStorage, stored: str
) -> None:
    url = storage.download_url(stored, 60)
    assert_refused(client.get(url.replace(stored, "companies/a/other")), 403, "link_invalid")


def test_an_expired_link_is_403(client: TestClient, storage: LocalStorage, stored: str) -> None:
    message = assert_refused(client.get(storage.download_url(stored, -1)), 403, "link_expired")
    assert "expired" in message


def test_a_missing_object_is_404(client: TestClient, storage: LocalStorage) -> None:
    assert_refused(client.get(storage.download_url("companies/a/missing", 60)), 404, "not_found")


def test_a_download_link_cannot_upload(
    client: TestClient, storage: LocalStorage, stored: str
) -> None:
    assert_refused(client.put(storage.download_url(stored, 60), content=b"x"), 403, "link_invalid")
    assert storage.open_read(stored).read() == DATA


# Keys that try to leave the root


def signed_path(storage: LocalStorage, method: Literal["GET", "PUT"], key: str) -> str:
    """A correctly signed link for `key` with every character of the key percent-encoded,
    as an attacker who somehow held a signature would send it."""
    url = storage.url_for(SignedLink(method, key, 2_000_000_000))
    return f"{OBJECTS_PATH}{quote(key, safe='')}?{url.partition('?')[2]}"


@pytest.mark.parametrize(
    "key",
    ["../outside.txt", "../../etc/passwd", "/etc/passwd", "a/../../x", "a\\b", f"{INTERNAL_DIR}/x"],
)
def test_a_traversing_key_is_refused_even_when_signed(
    client: TestClient, storage: LocalStorage, root: Path, key: str
) -> None:
    (root.parent / "outside.txt").write_text("outside")

    unsigned = f"{OBJECTS_PATH}{quote(key, safe='')}?expires=2000000000&signature=00"
    assert_refused(client.get(unsigned), 403, "link_invalid")
    response = client.get(signed_path(storage, "GET", key))
    assert_refused(response, 404, "not_found")
    assert b"outside" not in response.content
    assert_refused(client.put(signed_path(storage, "PUT", key), content=b"x"), 404, "not_found")


def test_a_symlink_out_of_the_root_is_not_followed(
    client: TestClient, storage: LocalStorage, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "link").symlink_to(outside, target_is_directory=True)

    response = client.get(storage.download_url("link/secret.txt", 60))
    assert_refused(response, 404, "not_found")
    assert b"secret" not in response.content
    put = client.put(storage.upload_url("link/new.txt", 60), content=b"planted")
    assert_refused(put, 404, "not_found")
    assert sorted(path.name for path in outside.iterdir()) == ["secret.txt"]


def test_links_are_not_served_when_storage_is_s3(
    local_settings: Settings, storage: LocalStorage, stored: str
) -> None:
    s3_settings = local_settings.model_copy(
        update={
            "STORAGE_PROVIDER": "s3",
            "S3_BUCKET": "arvlite",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        }
    )
    with client_of(s3_settings) as s3_client:
        assert_refused(s3_client.get(storage.download_url(stored, 60)), 404, "not_found")
        put = s3_client.put(storage.upload_url("companies/a/new", 60), content=b"x")
        assert_refused(put, 404, "not_found")


# Uploads


def test_an_upload_is_streamed_to_disk_and_answers_its_etag(
    client: TestClient, storage: LocalStorage, root: Path
) -> None:
    data = bytes(range(256)) * 12_288  # 3 MiB, sent in 64 KiB chunks without a length
    chunks = (data[offset : offset + 65_536] for offset in range(0, len(data), 65_536))

    response = client.put(storage.upload_url(KEY, 60), content=chunks)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == quoted_md5(data)
    assert storage.open_read(KEY).read() == data
    assert nothing_left(root)


def test_an_upload_takes_only_the_signed_content_type(
    client: TestClient, storage: LocalStorage
) -> None:
    url = storage.upload_url(KEY, 60, "video/mp4")
    refused = client.put(url, content=b"x", headers={"Content-Type": "text/html"})
    assert_refused(refused, 403, "content_type_mismatch")
    assert not storage.exists(KEY)

    accepted = client.put(url, content=b"x", headers={"Content-Type": "video/mp4"})
    assert accepted.status_code == 200
    assert storage.stat(KEY).content_type == "video/mp4"


def test_an_upload_keeps_the_sent_type_when_none_was_signed(
    client: TestClient, storage: LocalStorage
) -> None:
    url = storage.upload_url(KEY, 60)
    client.put(url, content=b"x", headers={"Content-Type": "image/png"})
    assert storage.stat(KEY).content_type == "image/png"


def test_an_oversized_upload_is_413_and_leaves_nothing(
    local_settings: Settings, root: Path
) -> None:
    small = local_settings.model_copy(update={"UPLOAD_MAX_BYTES": 100_000})
    with client_of(small) as client:
        storage: LocalStorage = client.app.state.storage  # type: ignore[attr-defined]
        url = storage.upload_url(KEY, 60)
        declared = client.put(url, content=b"x" * 100_001)
        assert_refused(declared, 413, "payload_too_large")
        streamed = client.put(url, content=iter([b"x" * 65_536] * 2))
        assert_refused(streamed, 413, "payload_too_large")
        assert not storage.exists(KEY)
    assert nothing_left(root)


def test_a_part_answers_its_etag(client: TestClient, storage: LocalStorage) -> None:
    upload_id = storage.create_multipart_upload(KEY)
    response = client.put(storage.part_upload_url(KEY, upload_id, 7, 60), content=b"part seven")
    assert response.status_code == 200
    assert response.headers["etag"] == quoted_md5(b"part seven")
    assert [part.part_number for part in storage.list_parts(KEY, upload_id)] == [7]


@pytest.mark.parametrize("upload_id", ["0" * 32, "not-an-upload-id"])
def test_a_part_for_an_unknown_upload_is_404(
    client: TestClient, storage: LocalStorage, upload_id: str
) -> None:
    response = client.put(storage.part_upload_url(KEY, upload_id, 1, 60), content=b"x")
    assert_refused(response, 404, "not_found")


def test_the_routes_are_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = spec["paths"]["/api/v1/storage/local/objects/{key}"]
    assert {operations["get"]["tags"][0], operations["put"]["tags"][0]} == {"storage-links"}
    assert "security" not in operations["get"]
