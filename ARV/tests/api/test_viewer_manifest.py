"""The viewer manifest (`GET /viewer/{public_id}`): its fields, the video the published
version's schedule plays now, signed expiring links, ETag and 304, how long it may be
cached, every change that drops the cached copy (and that draft edits never show), the same
404 for every content viewers may not see, and two API processes sharing Redis.

Markers, videos and renditions are rows from the factories (processing has its own tests);
publishing goes through the API."""

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from app.core.cache import get_cache
from app.core.config import Settings
from app.core.database import session_scope
from app.core.permissions import Role
from app.models import (
    ARContent,
    Company,
    ContentStatus,
    Project,
    User,
    Video,
    VideoRendition,
    VideoStatus,
)
from app.services.video_events import publish_after_commit
from app.services.viewer_service import LINK_MARGIN_SECONDS, manifest_key
from tests.conftest import ClientFactory
from tests.support.api import assert_error
from tests.support.factories import (
    Tenant,
    make_content,
    make_marker,
    make_project,
    make_tenant,
    make_video,
)
from tests.support.processes import free_port, project_env, running, uvicorn_command, wait_until
from tests.support.publishing import call, edit, ok, publish, schedule
from tests.support.viewer import H264_HIGH_31, playing_video


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
    marker = make_marker(db, content, width=1000, height=750, score=87)
    marker.sha256 = "ab" * 32
    schedule(db, content, video)
    return content


@pytest.fixture
def published(client: TestClient, tenant: Tenant, content: ARContent) -> ARContent:
    publish(client, tenant, content)
    return content


def manifest_url(content: ARContent) -> str:
    return f"/api/v1/viewer/{content.public_id}"


def manifest(client: TestClient, content: ARContent) -> dict[str, Any]:
    return ok(client.get(manifest_url(content)))


def expiry(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["expires"][0])


# -- the document ---------------------------------------------------------------------------


def test_the_manifest_describes_the_published_version(
    client: TestClient, published: ARContent, video: Video, settings: Settings
) -> None:
    body = manifest(client, published)
    assert set(body) == {
        "schema_version",
        "content",
        "generated_at",
        "expires_at",
        "marker",
        "video",
        "scene",
        "app_link",
    }
    assert body["schema_version"] == 1
    assert body["content"] == {"public_id": published.public_id, "title": "Postcard", "version": 1}
    assert body["scene"] == published.scene.model_dump(mode="json")
    assert body["app_link"] is None
    marker = body["marker"]
    assert (marker["width_px"], marker["height_px"], marker["width_m"]) == (1000, 750, 0.15)
    assert (marker["sha256"], marker["score"]) == ("ab" * 32, 87)
    assert "/image.jpg" in marker["image_url"]
    assert "/targets.mind" in marker["mind_url"]
    played = body["video"]
    assert (played["id"], played["title"]) == (str(video.id), "Greeting")
    assert (played["duration_seconds"], played["next_change_at"]) == (30.0, None)
    assert "/poster.jpg" in played["poster_url"]
    assert played["hls_url"].startswith(f"{settings.API_PUBLIC_URL}/api/v1/media/")


def test_renditions_smallest_first_with_one_texture_and_codecs(
    client: TestClient, published: ARContent
) -> None:
    played = manifest(client, published)["video"]
    rows = [
        (r["width"], r["height"], r["codecs"], r["texture"], r["container"])
        for r in played["renditions"]
    ]
    assert rows == [
        (640, 360, "avc1.64001E,mp4a.40.2", False, "mp4"),
        (1280, 720, H264_HIGH_31, True, "mp4"),
        # No HLS variant measured: derived (encoded High, level 4.0 for 1080p30).
        (1920, 1080, "avc1.640028,mp4a.40.2", False, "mp4"),
    ]
    assert next((r["bitrate_kbps"], r["bytes"]) for r in played["renditions"]) == (640, 640_000)
    assert all(r["url"].split("?")[0].endswith(".mp4") for r in played["renditions"])
    alpha = played["stacked_alpha"]
    assert (alpha["width"], alpha["height"]) == (1280, 1440)
    assert "/alpha.mp4" in alpha["url"]


def test_the_texture_is_the_smallest_rung_when_every_rung_is_larger(
    client: TestClient, db: Session, published: ARContent, video: Video
) -> None:
    for rendition in db.scalars(select(VideoRendition).where(VideoRendition.video_id == video.id)):
        rendition.short_side += 1000
    db.flush()
    textures = [r["texture"] for r in manifest(client, published)["video"]["renditions"]]
    assert textures == [True, False, False]


def test_media_links_are_signed_and_expire_with_the_document(
    client: TestClient, published: ARContent, settings: Settings
) -> None:
    before = int(time.time())
    body = manifest(client, published)
    expires_at = int(datetime.fromisoformat(body["expires_at"]).timestamp())
    assert (
        before + settings.STORAGE_URL_TTL_SECONDS
        <= expires_at
        <= int(time.time()) + (settings.STORAGE_URL_TTL_SECONDS)
    )
    played = body["video"]
    links = [
        body["marker"]["image_url"],
        body["marker"]["mind_url"],
        played["poster_url"],
        played["hls_url"],
        played["stacked_alpha"]["url"],
        *(r["url"] for r in played["renditions"]),
    ]
    for link in links:
        assert "signature=" in link
        assert abs(expiry(link) - expires_at) <= 1
    # The playlist link is the API's own: its signature holds, then the object is missing.
    hls = urlsplit(played["hls_url"])
    assert client.get(f"{hls.path}?{hls.query}").status_code == 404
    forged = client.get(f"{hls.path}?{hls.query.replace('signature=', 'signature=0')}")
    assert_error(forged, 403, "link_invalid")


def test_the_app_link_comes_from_the_template(
    client_for: ClientFactory, settings: Settings, client: TestClient, published: ARContent
) -> None:
    linked = client_for(
        settings.model_copy(update={"VIEWER_APP_LINK_TEMPLATE": "arvlite://content/{public_id}"})
    )
    body = manifest(linked, published)
    assert body["app_link"] == f"arvlite://content/{published.public_id}"


def test_the_app_link_template_must_name_the_public_id() -> None:
    with pytest.raises(ValueError, match="public_id"):
        Settings(VIEWER_APP_LINK_TEMPLATE="arvlite://content/")
    with pytest.raises(ValueError, match="public_id"):
        Settings(VIEWER_APP_LINK_TEMPLATE="arvlite://{company}/{public_id}")


# -- the schedule ---------------------------------------------------------------------------


def test_the_scheduled_video_plays_in_its_window_until_it_ends(
    client: TestClient,
    db: Session,
    tenant: Tenant,
    project: Project,
    video: Video,
) -> None:
    content = make_content(db, project, "Sale")
    make_marker(db, content)
    schedule(db, content, video)
    now = datetime.now(UTC)
    ends_at = now + timedelta(minutes=10)
    special = playing_video(db, tenant.company, "Special")
    schedule(db, content, special, starts_at=now - timedelta(hours=1), ends_at=ends_at, priority=1)
    later = now + timedelta(hours=5)
    schedule(db, content, special, starts_at=later, ends_at=later + timedelta(hours=1), priority=2)
    publish(client, tenant, content)

    response = client.get(manifest_url(content))
    played = ok(response)["video"]
    assert played["title"] == "Special"
    assert datetime.fromisoformat(played["next_change_at"]) == ends_at
    assert 0 < max_age(response) <= 600


def test_a_scheduled_video_that_does_not_play_yet_is_passed_over(
    client: TestClient, db: Session, tenant: Tenant, project: Project, video: Video
) -> None:
    content = make_content(db, project, "Sale")
    make_marker(db, content)
    schedule(db, content, video)
    processing = make_video(db, tenant.company, "Processing", VideoStatus.PROCESSING)
    schedule(db, content, processing, priority=1, starts_at=datetime(2020, 1, 1, tzinfo=UTC))
    publish(client, tenant, content)
    played = manifest(client, content)["video"]
    assert played["title"] == "Greeting"
    assert played["next_change_at"] is None


def max_age(response: httpx2.Response) -> int:
    directives = response.headers["Cache-Control"].split(", ")
    assert directives[0] == "public"
    return int(directives[1].removeprefix("max-age="))


def test_cache_control_stops_before_the_links_expire(
    client: TestClient, published: ARContent, settings: Settings
) -> None:
    response = client.get(manifest_url(published))
    margin = min(LINK_MARGIN_SECONDS, settings.STORAGE_URL_TTL_SECONDS // 4)
    expires_at = datetime.fromisoformat(response.json()["expires_at"]).timestamp()
    assert 0 < max_age(response) <= expires_at - margin - time.time() + 1
    assert max_age(response) >= settings.STORAGE_URL_TTL_SECONDS - margin - 2


# -- ETag and the cache ---------------------------------------------------------------------


def test_etag_is_stable_and_answers_304(client: TestClient, published: ARContent) -> None:
    first = client.get(manifest_url(published))
    second = client.get(manifest_url(published))
    assert first.content == second.content
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert etag == second.headers["ETag"]
    again = client.get(manifest_url(published), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"].startswith("public, max-age=")
    other = client.get(manifest_url(published), headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


def test_a_hit_is_served_from_the_cache(
    client: TestClient, db: Session, published: ARContent, settings: Settings
) -> None:
    manifest(client, published)
    # Written behind the service's back: nothing drops the cached copy.
    published.status = ContentStatus.UNPUBLISHED
    db.flush()
    assert manifest(client, published)["content"]["title"] == "Postcard"
    get_cache(settings).delete(manifest_key(published.public_id))
    assert_error(client.get(manifest_url(published)), 404, "not_found")


# -- invalidation ---------------------------------------------------------------------------


def test_draft_edits_never_show_until_published(
    client: TestClient, db: Session, tenant: Tenant, published: ARContent
) -> None:
    manifest(client, published)
    edit(client, tenant, published, title="Renamed")
    other = playing_video(db, tenant.company, "Other")
    call(client, tenant, published, "/schedule", role=Role.EDITOR, json=_entry(other, 5))
    assert manifest(client, published)["content"]["title"] == "Postcard"
    assert manifest(client, published)["video"]["title"] == "Greeting"

    publish(client, tenant, published)
    body = manifest(client, published)
    assert (body["content"]["title"], body["content"]["version"]) == ("Renamed", 2)
    assert body["video"]["title"] == "Other"


def _entry(video: Video, priority: int) -> dict[str, Any]:
    return {"video_id": str(video.id), "priority": priority, "starts_at": "2020-01-01T00:00:00"}


def test_unpublish_archive_and_rollback_drop_the_cached_copy(
    client: TestClient, tenant: Tenant, published: ARContent
) -> None:
    edit(client, tenant, published, title="Second")
    publish(client, tenant, published)
    assert manifest(client, published)["content"]["title"] == "Second"

    ok(call(client, tenant, published, "/versions/1/rollback"), 201)
    body = manifest(client, published)
    assert (body["content"]["title"], body["content"]["version"]) == ("Postcard", 3)

    ok(call(client, tenant, published, "/unpublish"))
    assert_error(client.get(manifest_url(published)), 404, "not_found")
    ok(call(client, tenant, published, "/archive"))
    assert_error(client.get(manifest_url(published)), 404, "not_found")


def test_video_outcomes_drop_the_manifests_that_play_it(
    client: TestClient, db: Session, settings: Settings, published: ARContent, video: Video
) -> None:
    manifest(client, published)
    video.poster_key = None
    publish_after_commit(db, settings, video, "video.progress", percent=50.0)
    db.commit()
    assert manifest(client, published)["video"]["poster_url"] is not None

    publish_after_commit(db, settings, video, "video.processed", job_kind="poster")
    db.commit()
    assert manifest(client, published)["video"]["poster_url"] is None


def test_removing_the_chroma_key_drops_the_stacked_alpha_rendition(
    client: TestClient, db: Session, tenant: Tenant, published: ARContent, video: Video
) -> None:
    assert manifest(client, published)["video"]["stacked_alpha"] is not None
    url = f"/api/v1/companies/{tenant.company.id}/videos/{video.id}/chroma-key"
    assert client.delete(url, headers=tenant.headers[Role.EDITOR]).status_code == 200
    assert manifest(client, published)["video"]["stacked_alpha"] is None


# -- not found ------------------------------------------------------------------------------


def test_every_content_viewers_may_not_see_is_not_found_alike(
    client: TestClient, db: Session, tenant: Tenant, project: Project, published: ARContent
) -> None:
    draft = make_content(db, project, "Draft")
    never = make_content(db, project, "Archived", status=ContentStatus.ARCHIVED)
    hidden = make_project(db, tenant.company)
    gone = make_content(db, hidden, "Gone", status=ContentStatus.PUBLISHED, published_version=1)
    hidden.deleted_at = datetime.now(UTC)
    db.flush()
    errors = [
        assert_error(client.get(f"/api/v1/viewer/{public_id}"), 404, "not_found")
        for public_id in ("unknown-id", draft.public_id, never.public_id, gone.public_id)
    ]
    assert len({(error["message"], str(error["details"])) for error in errors}) == 1


def test_the_manifest_is_rate_limited_per_address(
    client_for: ClientFactory, settings: Settings, published: ARContent
) -> None:
    limited = client_for(settings.model_copy(update={"VIEWER_RATE_LIMIT_PER_IP": 2}))
    assert [limited.get(manifest_url(published)).status_code for _ in range(2)] == [200, 200]
    assert_error(limited.get(manifest_url(published)), 429, "rate_limited")


# -- two API processes sharing Redis --------------------------------------------------------


@pytest.fixture
def committed(engine: Engine, settings: Settings) -> Iterator[tuple[Tenant, ARContent]]:
    """A publishable content in committed rows, removed afterwards."""
    with session_scope() as db:
        tenant = make_tenant(db, settings, name=f"Two APIs {uuid.uuid4().hex[:6]}")
        content = make_content(db, make_project(db, tenant.company), "Postcard")
        make_marker(db, content)
        schedule(db, content, playing_video(db, tenant.company))
    yield tenant, content
    with session_scope() as db:
        db.execute(delete(Company).where(Company.id == tenant.company.id))
        db.execute(delete(User).where(User.id.in_(u.id for u in tenant.users.values())))


@pytest.mark.integration
def test_a_publish_through_one_instance_refreshes_the_other(
    committed: tuple[Tenant, ARContent], tmp_path: Path
) -> None:
    tenant, content = committed
    ports = [free_port(), free_port()]
    one, other = (f"http://127.0.0.1:{port}" for port in ports)
    with (
        running(uvicorn_command(ports[0]), project_env(), tmp_path / "one.log"),
        running(uvicorn_command(ports[1]), project_env(), tmp_path / "other.log"),
    ):
        for base in (one, other):
            wait_until(lambda base=base: _answers(f"{base}/health"), 30, "the API")
        content_path = (
            f"/api/v1/companies/{content.company_id}/projects/{content.project_id}"
            f"/ar-contents/{content.id}"
        )
        admin = tenant.headers[Role.ADMIN]
        assert httpx2.post(f"{one}{content_path}/publish", headers=admin).status_code == 201
        served = httpx2.get(f"{other}/api/v1/viewer/{content.public_id}")
        assert served.json()["content"]["version"] == 1
        assert httpx2.get(f"{other}/api/v1/viewer/{content.public_id}").content == served.content

        renamed = httpx2.patch(f"{one}{content_path}", headers=admin, json={"title": "Renamed"})
        assert renamed.status_code == 200
        assert httpx2.post(f"{one}{content_path}/publish", headers=admin).status_code == 201
        body = httpx2.get(f"{other}/api/v1/viewer/{content.public_id}").json()
        assert (body["content"]["title"], body["content"]["version"]) == ("Renamed", 2)

        assert httpx2.post(f"{one}{content_path}/unpublish", headers=admin).status_code == 200
        assert httpx2.get(f"{other}/api/v1/viewer/{content.public_id}").status_code == 404


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False
