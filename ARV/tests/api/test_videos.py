"""Videos API: create from an uploaded file, follow processing, cancel, re-process,
re-encode one rendition, pick the poster frame, media links, delete, and tenancy.

The pipeline is not run here (it has its own tests): rows are put into the state a test
needs directly through the test's session."""

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.core.storage import build_storage
from app.models import (
    FileStatus,
    JobKind,
    JobStatus,
    PipelineStage,
    RenditionStatus,
    StoredFile,
    Video,
    VideoJob,
    VideoRendition,
    VideoStatus,
)
from app.services.object_keys import video_prefix
from app.services.storage_service import file_key
from app.utils.clock import utcnow
from tests.support.api import assert_error
from tests.support.factories import Tenant, make_tenant

MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(5000)


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


def videos_url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/v1/companies/{tenant.company.id}/videos{suffix}"


def make_file(
    db: Session,
    tenant: Tenant,
    *,
    content_type: str | None = "video/mp4",
    status: FileStatus = FileStatus.AVAILABLE,
) -> StoredFile:
    stored = StoredFile(
        company_id=tenant.company.id,
        status=status,
        filename="clip.mp4",
        content_type=content_type,
        size_bytes=len(MP4),
        storage_key=file_key(tenant.company.id, uuid.uuid4()),
    )
    db.add(stored)
    db.flush()
    return stored


def create(
    client: TestClient, tenant: Tenant, file_id: uuid.UUID, title: str = "Birthday card"
) -> dict[str, Any]:
    response = client.post(
        videos_url(tenant),
        json={"file_id": str(file_id), "title": title},
        headers=tenant.headers[Role.EDITOR],
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def video(client: TestClient, tenant: Tenant, db: Session) -> dict[str, Any]:
    """A video just created through the API: its process job is queued."""
    return create(client, tenant, make_file(db, tenant).id)


def post(client: TestClient, tenant: Tenant, video_id: str, action: str) -> Any:
    return client.post(
        videos_url(tenant, f"/{video_id}/{action}"), headers=tenant.headers[Role.EDITOR]
    )


def fresh(db: Session) -> None:
    """Write pending changes, then forget what the session holds: the app changed rows."""
    db.flush()
    db.expire_all()


def video_row(db: Session, video_id: str) -> Video:
    fresh(db)
    return db.get_one(Video, uuid.UUID(video_id))


def jobs_of(db: Session, video_id: str) -> list[VideoJob]:
    fresh(db)
    rows = db.scalars(
        select(VideoJob)
        .where(VideoJob.video_id == uuid.UUID(video_id))
        .order_by(VideoJob.queued_at)
    )
    return list(rows)


def finish_jobs(db: Session, video_id: str, status: JobStatus = JobStatus.SUCCEEDED) -> None:
    for job in jobs_of(db, video_id):
        if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            job.status = status
            job.finished_at = utcnow()
    db.flush()


def add_rendition(
    db: Session,
    tenant: Tenant,
    video_id: str,
    name: str = "720p",
    *,
    status: RenditionStatus = RenditionStatus.DONE,
    mp4_key: str | None = None,
) -> VideoRendition:
    short_side = int(name.removesuffix("p"))
    rendition = VideoRendition(
        company_id=tenant.company.id,
        video_id=uuid.UUID(video_id),
        name=name,
        short_side=short_side,
        width=short_side * 16 // 9,
        height=short_side,
        status=status,
        percent=100.0 if status == RenditionStatus.DONE else 0.0,
        size_bytes=len(MP4),
        mp4_key=mp4_key,
        finished_at=utcnow() if status == RenditionStatus.DONE else None,
    )
    db.add(rendition)
    db.flush()
    return rendition


# Creating
def test_create_queues_processing_in_order(client: TestClient, tenant: Tenant, db: Session) -> None:
    source = make_file(db, tenant)
    first = create(client, tenant, source.id, title="Birthday card")
    assert first["file_id"] == str(source.id)
    assert first["title"] == "Birthday card"
    assert (first["status"], first["stage"]) == ("uploaded", "queued")
    assert first["renditions"] == []
    assert first["duration_seconds"] is None
    job = first["job"]
    assert (job["kind"], job["status"], job["target"]) == ("process", "queued", None)
    assert job["queue_position"] >= 1
    assert job["attempts"] == 0
    assert job["started_at"] is None

    second = create(client, tenant, make_file(db, tenant).id, title="Wedding card")
    assert second["job"]["queue_position"] == job["queue_position"] + 1
    # The first keeps its place: the later one waits behind it.
    again = client.get(videos_url(tenant, f"/{first['id']}"), headers=tenant.headers[Role.VIEWER])
    assert again.json()["job"]["queue_position"] == job["queue_position"]

    rows = jobs_of(db, first["id"])
    assert [(row.id, row.kind, row.status) for row in rows] == [
        (uuid.UUID(job["id"]), JobKind.PROCESS, JobStatus.QUEUED)
    ]
    assert rows[0].task_id
    assert video_row(db, first["id"]).created_by_id == tenant.users[Role.EDITOR].id


def test_create_from_an_image_is_unsupported(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    image = make_file(db, tenant, content_type="image/png")
    response = client.post(
        videos_url(tenant),
        json={"file_id": str(image.id), "title": "Card"},
        headers=tenant.headers[Role.EDITOR],
    )
    error = assert_error(response, 415, "not_a_video")
    assert "image/png" in error["message"]
    assert db.scalar(select(Video).where(Video.company_id == tenant.company.id)) is None


def test_create_from_a_file_still_uploading_conflicts(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    uploading = make_file(db, tenant, content_type=None, status=FileStatus.UPLOADING)
    response = client.post(
        videos_url(tenant),
        json={"file_id": str(uploading.id), "title": "Card"},
        headers=tenant.headers[Role.EDITOR],
    )
    assert_error(response, 409, "upload_incomplete")


def test_create_from_another_companys_file_is_not_found(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings
) -> None:
    other = make_tenant(db, settings, name="Other")
    foreign = make_file(db, other)
    response = client.post(
        videos_url(tenant),
        json={"file_id": str(foreign.id), "title": "Card"},
        headers=tenant.headers[Role.EDITOR],
    )
    error = assert_error(response, 404, "not_found")
    assert error["details"] == {"entity": "File", "id": str(foreign.id)}


def test_create_from_a_deleted_file_is_not_found(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    deleted = make_file(db, tenant)
    deleted.soft_delete()
    db.flush()
    response = client.post(
        videos_url(tenant),
        json={"file_id": str(deleted.id), "title": "Card"},
        headers=tenant.headers[Role.EDITOR],
    )
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("extra", "loc", "kind"),
    [
        ({"title": "x" * 201}, ["body", "title"], "string_too_long"),
        ({"title": ""}, ["body", "title"], "string_too_short"),
        ({"status": "ready"}, ["body", "status"], "extra_forbidden"),
    ],
    ids=["title-too-long", "title-empty", "extra-field"],
)
def test_create_validates_the_body(
    client: TestClient,
    tenant: Tenant,
    db: Session,
    extra: dict[str, str],
    loc: list[str],
    kind: str,
) -> None:
    source = make_file(db, tenant)
    response = client.post(
        videos_url(tenant),
        json={"file_id": str(source.id), "title": "Card", **extra},
        headers=tenant.headers[Role.EDITOR],
    )
    error = assert_error(response, 422, "validation_error")
    assert {"loc": loc, "type": kind} in [
        {"loc": problem["loc"], "type": problem["type"]} for problem in error["details"]
    ]


def test_viewer_reads_but_cannot_change_anything(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    viewer = tenant.headers[Role.VIEWER]
    response = client.post(
        videos_url(tenant),
        json={"file_id": str(make_file(db, tenant).id), "title": "Card"},
        headers=viewer,
    )
    assert_error(response, 403, "permission_denied")
    renamed = client.patch(
        videos_url(tenant, f"/{video['id']}"), json={"title": "X"}, headers=viewer
    )
    assert_error(renamed, 403, "permission_denied")
    cancelled = client.post(videos_url(tenant, f"/{video['id']}/cancel"), headers=viewer)
    assert_error(cancelled, 403, "permission_denied")
    assert [job.status for job in jobs_of(db, video["id"])] == [JobStatus.QUEUED]
    assert client.get(videos_url(tenant), headers=viewer).json()["total"] == 1


# Reading and renaming
def test_list_filters_by_status_and_title_and_paginates(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    titles = ["Birthday card", "Wedding CARD", "Holiday 100%"]
    ids = [create(client, tenant, make_file(db, tenant).id, title)["id"] for title in titles]
    video_row(db, ids[1]).status = VideoStatus.READY
    db.flush()
    viewer = tenant.headers[Role.VIEWER]

    def listed(**params: Any) -> dict[str, Any]:
        response = client.get(videos_url(tenant), params=params, headers=viewer)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    everything = listed()
    assert everything["total"] == 3
    assert [item["id"] for item in everything["items"]] == ids[::-1]  # newest first
    assert "renditions" not in everything["items"][0]

    ready = listed(status="ready")
    assert [item["id"] for item in ready["items"]] == [ids[1]]
    assert ready["items"][0]["status"] == "ready"
    assert listed(status="uploaded")["total"] == 2

    cards = listed(title="card")
    assert sorted(item["title"] for item in cards["items"]) == sorted(titles[:2])
    assert [item["title"] for item in listed(title="100%")["items"]] == ["Holiday 100%"]
    assert listed(title="0%")["total"] == 1  # '%' is a character, not a wildcard
    assert listed(title="ready", status="ready")["total"] == 0

    page = listed(limit=1, offset=1)
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [item["id"] for item in page["items"]] == [ids[1]]

    bad = client.get(videos_url(tenant), params={"status": "nonsense"}, headers=viewer)
    assert_error(bad, 422, "validation_error")


def test_detail_and_rename(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    add_rendition(db, tenant, video["id"], "360p")
    url = videos_url(tenant, f"/{video['id']}")
    detail = client.get(url, headers=tenant.headers[Role.VIEWER])
    assert detail.status_code == 200
    body = detail.json()
    assert (body["id"], body["title"], body["job"]["id"]) == (
        video["id"],
        video["title"],
        video["job"]["id"],
    )
    assert [(r["name"], r["status"], r["percent"]) for r in body["renditions"]] == [
        ("360p", "done", 100.0)
    ]

    renamed = client.patch(url, json={"title": "New name"}, headers=tenant.headers[Role.EDITOR])
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "New name"
    assert video_row(db, video["id"]).title == "New name"

    extra = client.patch(
        url, json={"title": "A", "file_id": str(uuid.uuid4())}, headers=tenant.headers[Role.EDITOR]
    )
    assert_error(extra, 422, "validation_error")
    missing = client.get(
        videos_url(tenant, f"/{uuid.uuid4()}"), headers=tenant.headers[Role.VIEWER]
    )
    assert_error(missing, 404, "not_found")


# Cancelling
def test_cancel_a_queued_job(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    response = post(client, tenant, video["id"], "cancel")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["job"]["status"] == "cancelled"
    assert body["job"]["queue_position"] is None
    assert body["job"]["finished_at"] is not None
    assert video_row(db, video["id"]).status == VideoStatus.CANCELLED
    assert [job.status for job in jobs_of(db, video["id"])] == [JobStatus.CANCELLED]

    again = post(client, tenant, video["id"], "cancel")
    assert_error(again, 409, "nothing_to_cancel")


def test_cancel_a_running_job_asks_the_worker(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    (job,) = jobs_of(db, video["id"])
    job.status = JobStatus.RUNNING
    job.started_at = utcnow()
    row = video_row(db, video["id"])
    row.status, row.stage = VideoStatus.PROCESSING, PipelineStage.LADDER
    db.flush()

    response = post(client, tenant, video["id"], "cancel")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["stage"]) == ("processing", "ladder")
    assert body["job"]["status"] == "running"
    assert body["job"]["queue_position"] is None
    (job,) = jobs_of(db, video["id"])
    assert job.cancel_requested is True
    assert job.status == JobStatus.RUNNING
    assert video_row(db, video["id"]).status == VideoStatus.PROCESSING


# Processing again
def test_reprocess_waits_for_the_active_job(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    busy = post(client, tenant, video["id"], "reprocess")
    assert_error(busy, 409, "video_busy")
    assert len(jobs_of(db, video["id"])) == 1

    finish_jobs(db, video["id"], JobStatus.FAILED)
    row = video_row(db, video["id"])
    row.status, row.stage = VideoStatus.FAILED, PipelineStage.PROBE
    row.failure_reason, row.failed_stage = "moov atom not found", PipelineStage.PROBE
    db.flush()

    response = post(client, tenant, video["id"], "reprocess")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["stage"]) == ("uploaded", "queued")
    assert (body["failure_reason"], body["failed_stage"]) == (None, None)
    assert body["job"]["id"] != video["job"]["id"]
    assert (body["job"]["kind"], body["job"]["status"]) == ("process", "queued")
    assert body["job"]["queue_position"] >= 1
    assert [job.status for job in jobs_of(db, video["id"])] == [
        JobStatus.FAILED,
        JobStatus.QUEUED,
    ]


def test_refused_reprocess_changes_nothing(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    row = video_row(db, video["id"])
    row.status, row.stage = VideoStatus.PLAYABLE, PipelineStage.LADDER
    db.flush()
    assert_error(post(client, tenant, video["id"], "reprocess"), 409, "video_busy")
    row = video_row(db, video["id"])
    assert (row.status, row.stage) == (VideoStatus.PLAYABLE, PipelineStage.LADDER)


# Re-encoding one rendition
def test_reencode_an_existing_rendition(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    add_rendition(db, tenant, video["id"], "720p")
    finish_jobs(db, video["id"])
    url = "renditions/720p/reencode"

    response = post(client, tenant, video["id"], url)
    assert response.status_code == 200, response.text
    body = response.json()
    # The rendition keeps playing until the new encode replaces it.
    assert [(r["name"], r["status"]) for r in body["renditions"]] == [("720p", "done")]
    assert body["pending_renditions"] == []
    assert (body["job"]["kind"], body["job"]["target"], body["job"]["status"]) == (
        "rendition",
        "720p",
        "queued",
    )
    fresh(db)
    rendition = db.scalar(
        select(VideoRendition).where(VideoRendition.video_id == uuid.UUID(video["id"]))
    )
    assert rendition is not None
    assert rendition.status == RenditionStatus.DONE


def test_refused_reencode_leaves_the_rendition_done(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    rendition = add_rendition(db, tenant, video["id"], "720p")
    reencode = post(client, tenant, video["id"], "renditions/720p/reencode")
    assert_error(reencode, 409, "video_busy")
    fresh(db)
    assert db.get_one(VideoRendition, rendition.id).status == RenditionStatus.DONE


def test_reencode_an_unknown_rendition_is_invalid(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    finish_jobs(db, video["id"])
    unknown = post(client, tenant, video["id"], "renditions/1080p/reencode")
    error = assert_error(unknown, 422, "unknown_rendition")
    assert error["details"] == {"rendition": "1080p"}

    bad_name = post(client, tenant, video["id"], "renditions/abc/reencode")
    error = assert_error(bad_name, 422, "validation_error")
    assert error["details"][0]["loc"] == ["path", "rendition"]
    assert len(jobs_of(db, video["id"])) == 1


# The poster frame
def test_poster_time_needs_a_probed_video_and_a_time_inside_it(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    finish_jobs(db, video["id"])
    url = videos_url(tenant, f"/{video['id']}/poster")
    editor = tenant.headers[Role.EDITOR]

    not_probed = client.put(url, json={"at_seconds": 1.0}, headers=editor)
    error = assert_error(not_probed, 409, "video_not_ready")
    assert "probed" in error["message"]

    row = video_row(db, video["id"])
    row.duration_seconds = 10.0
    db.flush()
    for at_seconds in (10.0, 12.5):
        late = client.put(url, json={"at_seconds": at_seconds}, headers=editor)
        error = assert_error(late, 422, "poster_time_out_of_range")
        assert error["details"] == {"duration_seconds": 10.0}
    negative = client.put(url, json={"at_seconds": -1}, headers=editor)
    assert_error(negative, 422, "validation_error")
    assert video_row(db, video["id"]).poster_at_seconds is None

    response = client.put(url, json={"at_seconds": 2.5}, headers=editor)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["poster_at_seconds"] == 2.5
    assert (body["job"]["kind"], body["job"]["status"]) == ("poster", "queued")
    assert video_row(db, video["id"]).poster_at_seconds == 2.5
    assert [(job.kind, job.status) for job in jobs_of(db, video["id"])] == [
        (JobKind.PROCESS, JobStatus.SUCCEEDED),
        (JobKind.POSTER, JobStatus.QUEUED),
    ]


# Media links
def test_media_links_carry_the_company_player_defaults(
    client: TestClient, tenant: Tenant, video: dict[str, Any]
) -> None:
    url = videos_url(tenant, f"/{video['id']}/media-links")
    links = client.get(url, headers=tenant.headers[Role.VIEWER]).json()
    assert links["playback"] == {"loop": True, "muted_autoplay": True}

    defaults = {"loop": False, "muted_autoplay": False, "max_resolution": 720}
    response = client.patch(
        f"/api/v1/companies/{tenant.company.id}",
        json={"settings": {"video_defaults": defaults}},
        headers=tenant.headers[Role.OWNER],
    )
    assert response.status_code == 200, response.text
    links = client.get(url, headers=tenant.headers[Role.VIEWER]).json()
    assert links["playback"] == {"loop": False, "muted_autoplay": False}


def test_media_links_serve_finished_renditions_with_ranges(
    client: TestClient,
    tenant: Tenant,
    db: Session,
    settings: Settings,
    video: dict[str, Any],
    tmp_path: Path,
) -> None:
    content = MP4 + uuid.uuid4().bytes * 64
    local = tmp_path / "720p.mp4"
    local.write_bytes(content)
    prefix = video_prefix(tenant.company.id, uuid.UUID(video["id"]))
    settings.local_storage_root.mkdir(parents=True, exist_ok=True)
    build_storage(settings).put_file(f"{prefix}mp4/720p.mp4", local, "video/mp4")
    add_rendition(db, tenant, video["id"], "720p", mp4_key=f"{prefix}mp4/720p.mp4")
    # Not finished: no link, even with a key.
    add_rendition(
        db, tenant, video["id"], "1080p", status=RenditionStatus.ENCODING, mp4_key=f"{prefix}x.mp4"
    )

    response = client.get(
        videos_url(tenant, f"/{video['id']}/media-links"), headers=tenant.headers[Role.VIEWER]
    )
    assert response.status_code == 200, response.text
    links = response.json()
    assert set(links["renditions"]) == {"720p"}
    assert (links["hls"], links["poster"], links["storyboard"], links["storyboard_vtt"]) == (
        None,
        None,
        None,
        None,
    )
    assert links["thumbnails"] == []
    assert links["expires_at"]

    url = links["renditions"]["720p"]
    assert url.startswith(settings.API_PUBLIC_URL)
    whole = client.get(url)
    assert whole.status_code == 200
    assert whole.content == content
    assert whole.headers["Content-Type"].startswith("video/mp4")
    assert whole.headers["Cache-Control"].endswith(", immutable")
    ranged = client.get(url, headers={"Range": "bytes=4-11"})
    assert ranged.status_code == 206
    assert ranged.content == content[4:12] == b"ftypisom"
    assert ranged.headers["Content-Range"] == f"bytes 4-11/{len(content)}"


# Deleting
def test_delete_hides_the_video_and_stops_its_job(
    client: TestClient, tenant: Tenant, db: Session, video: dict[str, Any]
) -> None:
    url = videos_url(tenant, f"/{video['id']}")
    response = client.delete(url, headers=tenant.headers[Role.EDITOR])
    assert response.status_code == 204
    assert response.content == b""
    assert_error(client.get(url, headers=tenant.headers[Role.VIEWER]), 404, "not_found")
    assert client.get(videos_url(tenant), headers=tenant.headers[Role.VIEWER]).json()["total"] == 0
    assert video_row(db, video["id"]).deleted_at is not None
    assert [job.status for job in jobs_of(db, video["id"])] == [JobStatus.CANCELLED]
    again = client.delete(url, headers=tenant.headers[Role.EDITOR])
    assert_error(again, 404, "not_found")


def test_a_file_in_use_by_a_video_cannot_be_deleted(
    client: TestClient, tenant: Tenant, video: dict[str, Any]
) -> None:
    file_url = f"/api/v1/companies/{tenant.company.id}/storage/files/{video['file_id']}"
    editor = tenant.headers[Role.EDITOR]
    in_use = client.delete(file_url, headers=editor)
    error = assert_error(in_use, 409, "file_in_use")
    assert error["details"] == {
        "used_by": [{"kind": "video", "id": video["id"], "name": video["title"]}]
    }
    assert video["title"] in error["message"]
    assert client.get(file_url, headers=editor).status_code == 200

    assert client.delete(videos_url(tenant, f"/{video['id']}"), headers=editor).status_code == 204
    assert client.delete(file_url, headers=editor).status_code == 204


# Tenancy
def test_another_companys_video_is_not_found_on_every_route(
    client: TestClient, tenant: Tenant, db: Session, settings: Settings, video: dict[str, Any]
) -> None:
    finish_jobs(db, video["id"])
    row = video_row(db, video["id"])
    row.duration_seconds = 10.0
    db.flush()
    add_rendition(db, tenant, video["id"], "720p", mp4_key="companies/x/videos/y/720p.mp4")
    other = make_tenant(db, settings, name="Other")
    base = f"/api/v1/companies/{other.company.id}/videos/{video['id']}"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "", None),
        ("PATCH", "", {"title": "Stolen"}),
        ("POST", "/cancel", None),
        ("POST", "/reprocess", None),
        ("POST", "/renditions/720p/reencode", None),
        ("PUT", "/poster", {"at_seconds": 1.0}),
        ("GET", "/media-links", None),
        ("DELETE", "", None),
    ]
    for method, suffix, body in calls:
        response = client.request(
            method, base + suffix, json=body, headers=other.headers[Role.OWNER]
        )
        error = assert_error(response, 404, "not_found")
        assert error["details"] == {"entity": "Video", "id": video["id"]}, (method, suffix)

    listed = client.get(
        f"/api/v1/companies/{other.company.id}/videos", headers=other.headers[Role.OWNER]
    )
    assert listed.json()["total"] == 0
    row = video_row(db, video["id"])
    assert (row.title, row.deleted_at, row.poster_at_seconds) == (video["title"], None, None)
    assert [job.status for job in jobs_of(db, video["id"])] == [JobStatus.SUCCEEDED]
