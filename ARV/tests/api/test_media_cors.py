"""CORS on media behind signed links (local storage objects, `/media/` playlists): any
origin may read them, so a WebAR page on another origin can use a video as a WebGL
texture. Every answer to GET and HEAD (200, 206, 304, errors) says `*` and exposes what a
player reads; preflights for reads (a Range that is not a single simple range needs one)
are answered; the credentialed CORS of the rest of the API is unchanged, signed uploads
included."""

import time
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.storage import build_storage
from app.core.storage.local import LocalStorage
from app.services.media_delivery import MediaDelivery

PAGE_ORIGIN = "https://ar.example.net"
EXPOSED = {"content-length", "content-range", "accept-ranges", "etag"}
MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360\n360p/index.m3u8\n"


@pytest.fixture
def storage(settings: Settings) -> LocalStorage:
    settings.local_storage_root.mkdir(parents=True, exist_ok=True)
    built = build_storage(settings)
    assert isinstance(built, LocalStorage)
    return built


@pytest.fixture
def folder(storage: LocalStorage) -> str:
    folder = f"companies/{uuid.uuid4()}/videos/{uuid.uuid4()}/out/"
    for key, data in (
        (f"{folder}360p.mp4", b"0123456789" * 100),
        (f"{folder}master.m3u8", MASTER.encode()),
    ):
        writer = storage.open_writer(key)
        writer.write(data)
        writer.commit()
    return folder


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def assert_open_to_any_origin(headers: Mapping[str, str]) -> None:
    assert headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in headers
    exposed = headers["access-control-expose-headers"]
    assert {name.strip().lower() for name in exposed.split(",")} == EXPOSED


def test_a_signed_object_is_readable_from_any_origin(
    client: TestClient, storage: LocalStorage, folder: str
) -> None:
    url = path_of(storage.download_url(f"{folder}360p.mp4", 600, immutable=True))
    origin = {"Origin": PAGE_ORIGIN}
    whole = client.get(url, headers=origin)
    assert whole.status_code == 200
    assert_open_to_any_origin(whole.headers)
    part = client.get(url, headers={**origin, "Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, b"0123456789")
    assert_open_to_any_origin(part.headers)
    cached = client.get(url, headers={**origin, "If-None-Match": whole.headers["ETag"]})
    assert cached.status_code == 304
    assert_open_to_any_origin(cached.headers)
    head = client.head(url, headers=origin)
    assert_open_to_any_origin(head.headers)
    # Sent whatever the origin (or none), so a shared cache may keep one copy for all.
    assert_open_to_any_origin(client.get(url).headers)
    assert_open_to_any_origin(client.get(url + "x", headers=origin).headers)  # 403


def test_a_signed_playlist_is_readable_from_any_origin(
    client: TestClient, storage: LocalStorage, settings: Settings, folder: str
) -> None:
    link = MediaDelivery(storage, settings).link(f"{folder}master.m3u8", int(time.time()) + 600)
    origin = {"Origin": PAGE_ORIGIN}
    playlist = client.get(path_of(link), headers=origin)
    assert playlist.status_code == 200, playlist.text
    assert_open_to_any_origin(playlist.headers)
    cached = client.get(
        path_of(link), headers={**origin, "If-None-Match": playlist.headers["ETag"]}
    )
    assert cached.status_code == 304
    assert_open_to_any_origin(cached.headers)


@pytest.mark.parametrize(
    "path", ["/api/v1/storage/local/objects/companies/a/b.mp4", "/api/v1/media/companies/a/b.m3u8"]
)
def test_a_preflight_for_a_read_is_answered(client: TestClient, path: str) -> None:
    """A suffix or multi-part Range is not CORS-safelisted: the browser asks first."""
    response = client.options(
        path,
        headers={
            "Origin": PAGE_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET, HEAD"
    assert response.headers["access-control-allow-headers"] == "range"


def test_uploads_and_the_rest_of_the_api_keep_their_cors(
    client: TestClient, settings: Settings
) -> None:
    stranger = {"Origin": PAGE_ORIGIN, "Access-Control-Request-Method": "PUT"}
    upload = client.options("/api/v1/storage/local/objects/companies/a/b.mp4", headers=stranger)
    assert upload.headers.get("access-control-allow-origin") != "*"
    app_origin = settings.CORS_ORIGINS[0]
    api = client.get("/api/v1/users/me", headers={"Origin": app_origin})
    assert api.headers["access-control-allow-origin"] == app_origin
    assert api.headers["access-control-allow-credentials"] == "true"
    assert (
        "access-control-allow-origin"
        not in client.get("/api/v1/users/me", headers={"Origin": PAGE_ORIGIN}).headers
    )
