"""Re-processing a video that plays: what plays keeps playing until the new set is
complete, then the new set replaces it in one transaction and the old files are deleted
once every link to them has expired. Run in-process on real ffmpeg and local storage."""

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.storage import StorageProvider
from app.models import (
    JobKind,
    JobStatus,
    RenditionStatus,
    StoredFile,
    Video,
    VideoOutputPurge,
    VideoStatus,
)
from app.services.context import SystemActor
from app.services.media_delivery import MediaDelivery
from app.services.object_keys import job_output_prefix
from app.services.tenant import ScopedService
from app.services.video_outputs import purge_due, rendition_keys
from app.services.video_pipeline import VideoPipeline
from app.services.video_service import new_job, settle_cancelled
from app.utils.clock import utcnow
from tests.support.media import make_clip
from tests.support.pipeline import VideoMaker, reloaded, renditions, run


@pytest.fixture(scope="module")
def two_rung_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Standard H.264/AAC with 2 s keyframes: 720p copied, 360p encoded."""
    folder = tmp_path_factory.mktemp("reprocess")
    return make_clip(folder / "two_rungs.mp4", width=1280, height=720, seconds=3, gop=50)


@pytest.fixture
def ready_video(
    db: Session, pipeline: VideoPipeline, make_video: VideoMaker, two_rung_clip: Path
) -> Video:
    job = make_video(two_rung_clip)
    assert run(pipeline, job).status == "succeeded"
    video, _ = reloaded(db, job)
    assert video.status == VideoStatus.READY
    assert set(renditions(db, video.id)) == {"360p", "720p"}
    return video


def live_keys(db: Session, video: Video) -> set[str]:
    db.refresh(video)
    keys = {key for row in renditions(db, video.id).values() for key in rendition_keys(row)}
    stills = [video.poster_key, *video.thumbnail_keys, video.storyboard_key]
    return keys | {key for key in [*stills, video.storyboard_vtt_key, video.hls_master_key] if key}


def purge_list(db: Session, video: Video) -> set[str]:
    rows = db.scalars(select(VideoOutputPurge.key).where(VideoOutputPurge.video_id == video.id))
    return set(rows)


def after_links_expire(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.STORAGE_URL_TTL_SECONDS + 1)


def test_a_reprocessed_video_swaps_its_whole_set_at_once(
    session_factory: sessionmaker[Session],
    db: Session,
    pipeline: VideoPipeline,
    ready_video: Video,
    storage: StorageProvider,
    settings: Settings,
) -> None:
    before = live_keys(db, ready_video)
    job = new_job(db, ready_video, JobKind.PROCESS, settings)
    assert run(pipeline, job).status == "succeeded"

    video, finished = reloaded(db, job)
    assert (video.status, finished.status) == (VideoStatus.READY, JobStatus.SUCCEEDED)
    after = live_keys(db, video)
    folder = job_output_prefix(video.company_id, video.id, job.id)
    assert after
    assert all(key.startswith(folder) for key in after)
    assert renditions(db, video.id, live=False) == {}
    # Everything the old set held waits for its links to expire, then goes.
    assert purge_list(db, video) == before
    assert all(key.endswith("/") or storage.exists(key) for key in before), (
        "deleted before its links expired"
    )
    assert purge_due(session_factory, storage, utcnow()) == 0
    assert purge_due(session_factory, storage, utcnow() + after_links_expire(settings)) == len(
        before
    )
    assert not any(storage.exists(key) for key in before if not key.endswith("/"))
    assert all(storage.exists(key) for key in after if not key.endswith("/"))


def test_a_failed_reprocess_leaves_the_video_playing_what_it_had(
    db: Session,
    pipeline: VideoPipeline,
    ready_video: Video,
    storage: StorageProvider,
    settings: Settings,
    tmp_path: Path,
) -> None:
    before = live_keys(db, ready_video)
    source = db.get_one(StoredFile, ready_video.file_id)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 4096)
    storage.put_file(source.storage_key, damaged, "video/mp4")
    job = new_job(db, ready_video, JobKind.PROCESS, settings)
    assert run(pipeline, job).status == "failed"

    video, failed = reloaded(db, job)
    assert failed.status == JobStatus.FAILED
    assert failed.last_error
    assert video.status == VideoStatus.READY
    assert video.failure_reason is None
    assert live_keys(db, video) == before
    assert all(row.status == RenditionStatus.DONE for row in renditions(db, video.id).values())
    assert renditions(db, video.id, live=False) == {}
    # Only the failed job's own folder is to go, at once: nothing in it was ever linked.
    assert purge_list(db, video) == {job_output_prefix(video.company_id, video.id, job.id)}


def test_a_re_encoded_rendition_replaces_only_itself(
    db: Session,
    pipeline: VideoPipeline,
    ready_video: Video,
    settings: Settings,
    storage: StorageProvider,
    client: TestClient,
) -> None:
    kept = renditions(db, ready_video.id)["720p"].mp4_key
    replaced = renditions(db, ready_video.id)["360p"]
    old_files = rendition_keys(replaced)
    job = new_job(db, ready_video, JobKind.RENDITION, settings, target="360p")
    assert run(pipeline, job).status == "succeeded"

    video, _ = reloaded(db, job)
    assert video.status == VideoStatus.READY
    live = renditions(db, video.id)
    assert live["720p"].mp4_key == kept
    folder = job_output_prefix(video.company_id, video.id, job.id)
    assert (live["360p"].mp4_key or "").startswith(folder)
    assert set(old_files) <= purge_list(db, video)

    # The new master names variants in two jobs' folders; players still reach both.
    assert (video.hls_master_key or "").startswith(folder)
    delivery = MediaDelivery(storage, settings)
    master = client.get(delivery.link(video.hls_master_key or "", int(utcnow().timestamp()) + 60))
    variants = [line for line in master.text.splitlines() if line.startswith("http")]
    assert len(variants) == 2
    for url in variants:
        variant = client.get(url)
        assert variant.status_code == 200, variant.text
        segments = [line for line in variant.text.splitlines() if line.startswith("http")]
        assert segments
        assert all(client.head(segment).status_code == 200 for segment in segments)


def test_a_cancelled_reprocess_leaves_the_video_ready(
    db: Session, ready_video: Video, settings: Settings
) -> None:
    before = live_keys(db, ready_video)
    job = new_job(db, ready_video, JobKind.PROCESS, settings)
    settle_cancelled(ScopedService(db, SystemActor(job.company_id, task="test")), ready_video, job)
    db.refresh(ready_video)
    assert ready_video.status == VideoStatus.READY
    assert live_keys(db, ready_video) == before
