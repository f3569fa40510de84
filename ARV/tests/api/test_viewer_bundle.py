"""The offline pack (`GET /viewer/{public_id}/bundle`): a zip holding the marker image, the
compiled target, the smallest MP4 of the video playing now and, last, a manifest naming
them by path with the size and SHA-256 of what was stored; no links; the same 404 for every
content viewers may not see; no video entry when none plays; streamed in bounded chunks.

Markers, videos and renditions are rows from the factories with bytes put in the local
storage under their keys; publishing goes through the API."""

import hashlib
import io
import json
import os
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.storage import StorageProvider, build_storage
from app.models import ARContent, Marker, Project, Video, VideoRendition, VideoStatus
from app.services import viewer_bundle, viewer_service
from tests.support.api import assert_error
from tests.support.factories import Tenant, make_content, make_marker, make_project, make_tenant
from tests.support.publishing import call, ok, publish, schedule
from tests.support.viewer import playing_video

VIDEO_BYTES = 3 * 1024 * 1024 + 123


@pytest.fixture
def storage(settings: Settings) -> StorageProvider:
    settings.local_storage_root.mkdir(parents=True, exist_ok=True)
    return build_storage(settings)


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def project(db: Session, tenant: Tenant) -> Project:
    return make_project(db, tenant.company)


@pytest.fixture
def video(db: Session, tenant: Tenant) -> Video:
    return playing_video(db, tenant.company)


@pytest.fixture
def content(db: Session, project: Project, video: Video) -> ARContent:
    content = make_content(db, project, "Postcard")
    make_marker(db, content, width=1000, height=750, score=87)
    schedule(db, content, video)
    return content


@pytest.fixture
def stored(
    db: Session, storage: StorageProvider, content: ARContent, video: Video
) -> dict[str, bytes]:
    """Bytes under the marker's and the renditions' keys; by entry name, what the pack holds."""
    marker = db.scalars(select(Marker).where(Marker.ar_content_id == content.id)).one()
    renditions = {r.name: r.mp4_key for r in video_renditions(db, video)}
    by_key = {marker.image_key: b"\xff\xd8jpeg" * 100, marker.mind_key: b"mind" * 2000}
    by_key |= {key: os.urandom(1000) for key in renditions.values()}
    by_key[renditions["360p"]] = os.urandom(VIDEO_BYTES)  # the smallest
    for key, data in by_key.items():
        assert key is not None
        put(storage, key, data)
    return {
        "marker.jpg": by_key[marker.image_key],
        "target.mind": by_key[marker.mind_key],
        "video.mp4": by_key[renditions["360p"]],
    }


@pytest.fixture
def published(client: TestClient, tenant: Tenant, content: ARContent) -> ARContent:
    publish(client, tenant, content)
    return content


def video_renditions(db: Session, video: Video) -> list[VideoRendition]:
    return list(db.scalars(select(VideoRendition).where(VideoRendition.video_id == video.id)))


def put(storage: StorageProvider, key: str, data: bytes) -> None:
    writer = storage.open_writer(key)
    writer.write(data)
    writer.commit()


def bundle_url(content: ARContent) -> str:
    return f"/api/v1/viewer/{content.public_id}/bundle"


def download(client: TestClient, content: ARContent) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    response = client.get(bundle_url(content))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{content.public_id}.zip"'
    )
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return archive, json.loads(archive.read("manifest.json"))


def test_the_pack_holds_the_files_the_manifest_names(
    client: TestClient, published: ARContent, stored: dict[str, bytes], video: Video
) -> None:
    archive, manifest = download(client, published)
    assert archive.testzip() is None
    names = archive.namelist()
    assert names == ["marker.jpg", "target.mind", "video.mp4", "manifest.json"]
    for name, data in stored.items():
        assert archive.read(name) == data
    assert manifest["marker"]["image"] == file_entry("marker.jpg", stored)
    assert manifest["marker"]["mind"] == file_entry("target.mind", stored)
    played = manifest["video"]
    assert played["file"] == file_entry("video.mp4", stored)
    assert (played["id"], played["title"]) == (str(video.id), "Greeting")
    assert (played["width"], played["height"], played["codecs"]) == (
        640,
        360,
        "avc1.64001E,mp4a.40.2",
    )
    assert manifest["content"] == {
        "public_id": published.public_id,
        "title": "Postcard",
        "version": 1,
    }
    assert (manifest["marker"]["width_px"], manifest["marker"]["score"]) == (1000, 87)
    assert manifest["scene"] == published.scene.model_dump(mode="json")


def file_entry(name: str, stored: dict[str, bytes]) -> dict[str, Any]:
    data = stored[name]
    return {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_the_manifest_names_no_links(
    client: TestClient, published: ARContent, stored: dict[str, bytes]
) -> None:
    _, manifest = download(client, published)
    text = json.dumps(manifest)
    assert "http" not in text
    assert "/storage/" not in text
    assert "expires_at" not in manifest
    assert not any(key.endswith("_url") for key in walk_keys(manifest))


def walk_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [key for k, v in value.items() for key in [k, *walk_keys(v)]]
    if isinstance(value, list):
        return [key for item in value for key in walk_keys(item)]
    return []


def test_without_a_video_playing_the_pack_has_no_video(
    client: TestClient, db: Session, published: ARContent, stored: dict[str, bytes], video: Video
) -> None:
    video.status = VideoStatus.FAILED
    db.flush()
    archive, manifest = download(client, published)
    assert archive.namelist() == ["marker.jpg", "target.mind", "manifest.json"]
    assert manifest["video"] is None


def test_contents_viewers_may_not_see_are_not_found_alike(
    client: TestClient, tenant: Tenant, content: ARContent, stored: dict[str, bytes]
) -> None:
    assert_error(client.get(bundle_url(content)), 404, "not_found")  # a draft
    publish(client, tenant, content)
    assert client.get(bundle_url(content)).status_code == 200
    ok(call(client, tenant, content, "/unpublish"))
    assert_error(client.get(bundle_url(content)), 404, "not_found")
    assert_error(client.get("/api/v1/viewer/nosuchid/bundle"), 404, "not_found")


def test_the_pack_streams_in_bounded_chunks(
    db: Session,
    published: ARContent,
    stored: dict[str, bytes],
    storage: StorageProvider,
    settings: Settings,
) -> None:
    """The large MP4 is read and handed over a chunk at a time, never whole."""
    reads: list[int] = []
    source = viewer_service.bundle_source(
        db, ReadCounter(storage, reads), settings, published.public_id
    )
    chunks = list(viewer_bundle.stream_bundle(ReadCounter(storage, reads), source))
    bound = viewer_bundle.READ_CHUNK_BYTES + 1024
    assert len(chunks) > VIDEO_BYTES // viewer_bundle.READ_CHUNK_BYTES
    assert max(len(chunk) for chunk in chunks) <= bound
    assert max(reads) <= viewer_bundle.READ_CHUNK_BYTES
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.read("video.mp4") == stored["video.mp4"]


class ReadCounter:
    """The storage, recording the size of every read from a stream it opens."""

    def __init__(self, storage: StorageProvider, reads: list[int]) -> None:
        self._storage = storage
        self._reads = reads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    def open_read(self, key: str, start: int = 0, end: int | None = None) -> "CountedStream":
        return CountedStream(self._storage.open_read(key, start, end), self._reads)


class CountedStream:
    def __init__(self, stream: Any, reads: list[int]) -> None:
        self._stream = stream
        self._reads = reads

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        self._reads.append(len(data) if size < 0 else size)
        return data

    def __enter__(self) -> "CountedStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()


def test_a_stored_file_gone_missing_is_a_404_before_anything_is_sent(
    client: TestClient,
    db: Session,
    storage: StorageProvider,
    published: ARContent,
    stored: dict[str, bytes],
) -> None:
    marker = db.scalars(select(Marker).where(Marker.ar_content_id == published.id)).one()
    assert marker.mind_key is not None
    storage.delete(marker.mind_key)
    response = client.get(bundle_url(published))
    assert_error(response, 404, "not_found")
    assert response.json()["error"]["details"] == {"missing": ["target.mind"]}
