"""A video's chroma key through the API: set (validated, queued like a re-encode), removed
(its stacked-alpha rendition off the air, its files to the purge list), and the rendition
in the detail and the media links. The pipeline is not run here (see
tests/services/test_stacked_alpha.py): rows are put in the state a test needs."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.models import (
    JobKind,
    JobStatus,
    RenditionKind,
    RenditionStatus,
    Video,
    VideoJob,
    VideoOutputPurge,
    VideoRendition,
    VideoStatus,
)
from app.schemas.chroma_key import ChromaKey
from app.services.video_service import new_job
from app.utils.clock import utcnow
from tests.support.api import assert_error
from tests.support.factories import Tenant, make_tenant, make_video


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def video(db: Session, tenant: Tenant) -> Video:
    """A ready video with one ladder rendition and no job running."""
    video = make_video(db, tenant.company)
    add_rendition(db, video, "720p", RenditionKind.LADDER)
    return video


def add_rendition(db: Session, video: Video, name: str, kind: RenditionKind) -> VideoRendition:
    height = 720 if kind == RenditionKind.LADDER else 1440
    rendition = VideoRendition(
        company_id=video.company_id,
        video_id=video.id,
        name=name,
        kind=kind,
        short_side=720,
        width=1280,
        height=height,
        status=RenditionStatus.DONE,
        percent=100.0,
        size_bytes=1000,
        mp4_key=f"companies/{video.company_id}/videos/{video.id}/out/x/renditions/{name}.mp4",
    )
    db.add(rendition)
    db.flush()
    return rendition


def url(tenant: Tenant, video: Video, suffix: str = "/chroma-key") -> str:
    return f"/api/v1/companies/{tenant.company.id}/videos/{video.id}{suffix}"


def put_key(client: TestClient, tenant: Tenant, video: Video, body: dict[str, Any]) -> Any:
    return client.put(url(tenant, video), json=body, headers=tenant.headers[Role.EDITOR])


def jobs_of(db: Session, video: Video) -> list[VideoJob]:
    db.expire_all()
    return list(db.scalars(select(VideoJob).where(VideoJob.video_id == video.id)))


def test_keying_a_playing_video_queues_its_alpha_rendition(
    client: TestClient, tenant: Tenant, db: Session, video: Video
) -> None:
    response = put_key(client, tenant, video, {"color": "#1aff2b", "similarity": 0.25})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["chroma_key"] == {"color": "#1AFF2B", "similarity": 0.25, "blend": 0.05}
    assert body["status"] == "ready"
    assert (body["job"]["kind"], body["job"]["target"], body["job"]["status"]) == (
        "rendition",
        "alpha",
        "queued",
    )
    assert [(r["name"], r["kind"]) for r in body["renditions"]] == [("720p", "ladder")]

    # Another key while that job waits is refused, and changes nothing.
    busy = put_key(client, tenant, video, {})
    assert_error(busy, 409, "video_busy")
    db.expire_all()
    assert db.get_one(Video, video.id).chroma_key == ChromaKey(color="#1AFF2B", similarity=0.25)


def test_keying_a_video_that_does_not_play_processes_it_again(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    failed = make_video(db, tenant.company, status=VideoStatus.FAILED)
    response = put_key(client, tenant, failed, {})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["chroma_key"] == {"color": "#00FF00", "similarity": 0.1, "blend": 0.05}
    assert (body["status"], body["job"]["kind"]) == ("uploaded", "process")


@pytest.mark.parametrize(
    "body",
    [
        {"color": "green"},
        {"color": "#00FF0"},
        {"color": "#00FF0G"},
        {"similarity": 0},
        {"similarity": 1.5},
        {"blend": -0.1},
        {"blend": 1.01},
        {"spill": 0.5},
    ],
)
def test_a_bad_key_is_refused(
    client: TestClient, tenant: Tenant, db: Session, video: Video, body: dict[str, Any]
) -> None:
    assert_error(put_key(client, tenant, video, body), 422, "validation_error")
    assert jobs_of(db, video) == []


def test_the_alpha_rendition_is_linked_apart_from_the_ladder(
    client: TestClient, tenant: Tenant, db: Session, video: Video, settings: Settings
) -> None:
    video.chroma_key = ChromaKey()
    alpha = add_rendition(db, video, "alpha", RenditionKind.STACKED_ALPHA)
    alpha_id, alpha_key = alpha.id, alpha.mp4_key
    detail = client.get(url(tenant, video, ""), headers=tenant.headers[Role.VIEWER]).json()
    assert [(r["name"], r["kind"], r["height"]) for r in detail["renditions"]] == [
        ("720p", "ladder", 720),
        ("alpha", "stacked_alpha", 1440),
    ]

    links = client.get(url(tenant, video, "/media-links"), headers=tenant.headers[Role.VIEWER])
    assert links.status_code == 200, links.text
    assert set(links.json()["renditions"]) == {"720p"}
    assert "/renditions/alpha.mp4?" in links.json()["stacked_alpha"]

    removed = client.delete(url(tenant, video), headers=tenant.headers[Role.EDITOR])
    assert removed.status_code == 200, removed.text
    assert removed.json()["chroma_key"] is None
    assert [r["name"] for r in removed.json()["renditions"]] == ["720p"]
    db.expire_all()
    assert db.get(VideoRendition, alpha_id) is None
    purge = db.scalars(select(VideoOutputPurge).where(VideoOutputPurge.video_id == video.id)).one()
    assert purge.key == alpha_key
    expiry = utcnow() + timedelta(seconds=settings.STORAGE_URL_TTL_SECONDS)
    assert abs(purge.purge_after - expiry) < timedelta(seconds=30)

    again = client.delete(url(tenant, video), headers=tenant.headers[Role.EDITOR])
    assert again.status_code == 200, again.text


def test_removing_the_key_waits_for_the_active_job(
    client: TestClient, tenant: Tenant, db: Session, video: Video, settings: Settings
) -> None:
    video.chroma_key = ChromaKey()
    add_rendition(db, video, "alpha", RenditionKind.STACKED_ALPHA)
    job = new_job(db, video, JobKind.PROCESS, settings)
    busy = client.delete(url(tenant, video), headers=tenant.headers[Role.EDITOR])
    error = assert_error(busy, 409, "video_busy")
    assert error["details"] == {"job_id": str(job.id)}
    db.expire_all()
    assert db.get_one(Video, video.id).chroma_key == ChromaKey()
    assert [j.status for j in jobs_of(db, video)] == [JobStatus.QUEUED]


def test_another_companys_video_is_not_found(
    client: TestClient, tenant: Tenant, db: Session, video: Video, settings: Settings
) -> None:
    other = make_tenant(db, settings, name="Other")
    base = f"/api/v1/companies/{other.company.id}/videos/{video.id}/chroma-key"
    for method, body in (("PUT", {}), ("DELETE", None)):
        response = client.request(method, base, json=body, headers=other.headers[Role.OWNER])
        error = assert_error(response, 404, "not_found")
        assert error["details"] == {"entity": "Video", "id": str(video.id)}
    assert jobs_of(db, video) == []
    db.expire_all()
    assert db.get_one(Video, video.id).chroma_key is None
