"""A real Celery worker runs the video pipeline; SIGKILL its pool process mid-transcode
and the task is redelivered (acks_late + reject_on_worker_lost) and finished, with one
set of renditions; stop the worker mid-ladder as Ctrl-C or `docker stop` would and it
exits at once, leaving the video playable and its job for the next worker to finish.
These tests commit for real, so they clean up after themselves."""

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select

from app.background_tasks.names import QUEUE_MEDIA
from app.core.config import Settings
from app.core.database import session_scope
from app.core.storage import build_storage
from app.models import (
    Company,
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
from app.services.leases import WORKER_STOPPED
from app.services.storage_service import file_key
from app.services.video_service import new_job
from tests.support.media import make_clip
from tests.support.processes import (
    celery_worker_command,
    child_pids,
    is_running,
    project_env,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def committed_company(engine: Engine) -> Iterator[uuid.UUID]:
    with session_scope() as db:
        company = Company(name="Worker Test", slug=f"worker-{uuid.uuid4().hex[:8]}", plan="pro")
        db.add(company)
    yield company.id
    with session_scope() as db:
        db.execute(delete(Video).where(Video.company_id == company.id))
        db.execute(delete(Company).where(Company.id == company.id))


def queue_video(settings: Settings, company_id: uuid.UUID, clip: Path) -> uuid.UUID:
    """Commit a file, a video and its job; the task is sent when the commit succeeds."""
    storage = build_storage(settings)
    with session_scope() as db:
        stored = StoredFile(
            company_id=company_id,
            status=FileStatus.AVAILABLE,
            filename=clip.name,
            content_type="video/mp4",
            size_bytes=clip.stat().st_size,
            storage_key=file_key(company_id, uuid.uuid4()),
        )
        storage.put_file(stored.storage_key, clip)
        db.add(stored)
        db.flush()
        video = Video(
            company_id=company_id,
            file_id=stored.id,
            title="kill test",
            status=VideoStatus.UPLOADED,
            stage=PipelineStage.QUEUED,
        )
        db.add(video)
        db.flush()
        job = new_job(db, video, JobKind.PROCESS, settings)
    return job.id


def job_row(job_id: uuid.UUID) -> VideoJob:
    with session_scope() as db:
        return db.get_one(VideoJob, job_id)


def encoding_started(video_id: uuid.UUID) -> bool:
    with session_scope() as db:
        return bool(
            db.scalar(
                select(VideoRendition.id).where(
                    VideoRendition.video_id == video_id,
                    VideoRendition.status == RenditionStatus.ENCODING,
                    VideoRendition.percent > 0,
                )
            )
        )


def test_sigkilled_worker_process_has_its_job_redelivered_and_finished(
    settings: Settings, committed_company: uuid.UUID, tmp_path: Path
) -> None:
    # MPEG-4 Part 2 is not copied: the first rendition is a real encode lasting seconds.
    clip = make_clip(
        tmp_path / "long.avi", width=1280, height=720, seconds=12, vcodec="mpeg4", audio=True
    )
    job_id = queue_video(settings, committed_company, clip)
    video_id = job_row(job_id).video_id
    log = tmp_path / "worker.log"
    with running(celery_worker_command(QUEUE_MEDIA), project_env(), log) as worker:
        wait_until(lambda: encoding_started(video_id), 90, "the first encode to report progress")
        [pool_process] = child_pids(worker.pid)
        os.kill(pool_process, signal.SIGKILL)
        wait_until(
            lambda: job_row(job_id).status in (JobStatus.SUCCEEDED, JobStatus.FAILED),
            180,
            f"the redelivered job to finish; worker log:\n{log.read_text()}",
        )
    job = job_row(job_id)
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    assert job.attempts == 2
    assert "WorkerLostError" in log.read_text()
    with session_scope() as db:
        video = db.get_one(Video, video_id)
        names = list(
            db.scalars(select(VideoRendition.name).where(VideoRendition.video_id == video_id))
        )
        statuses = set(
            db.scalars(select(VideoRendition.status).where(VideoRendition.video_id == video_id))
        )
    assert video.status == VideoStatus.READY
    assert sorted(names) == ["360p", "720p"]
    assert statuses == {RenditionStatus.DONE}


def ffmpeg_descendants(pid: int) -> list[int]:
    """ffmpeg processes started by `pid` or by its children (a worker's pool processes)."""
    found = []
    for child in child_pids(pid):
        if Path(f"/proc/{child}/comm").read_text().strip() == "ffmpeg":
            found.append(child)
        found += ffmpeg_descendants(child)
    return found


def ladder_encoding(video_id: uuid.UUID) -> bool:
    """The video plays already and a further rendition of its ladder is being encoded."""
    with session_scope() as db:
        video = db.get_one(Video, video_id)
        return video.status == VideoStatus.PLAYABLE and bool(
            db.scalar(
                select(VideoRendition.id).where(
                    VideoRendition.video_id == video_id,
                    VideoRendition.status == RenditionStatus.ENCODING,
                )
            )
        )


def signal_group(sig: signal.Signals) -> Callable[[int], None]:
    """What a terminal does on Ctrl-C, or a supervisor that signals the whole group."""
    return lambda worker_pid: os.killpg(worker_pid, sig)


def signal_main_process(sig: signal.Signals) -> Callable[[int], None]:
    """What `docker stop`, systemd or `make run`'s trap do: signal the main process only."""
    return lambda worker_pid: os.kill(worker_pid, sig)


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(signal_group(signal.SIGINT), id="ctrl-c-to-the-group"),
        pytest.param(signal_group(signal.SIGTERM), id="sigterm-to-the-group"),
        pytest.param(signal_main_process(signal.SIGTERM), id="sigterm-to-the-main-process"),
    ],
)
def test_a_worker_stopped_mid_ladder_hands_the_job_back_to_the_next_worker(
    settings: Settings,
    committed_company: uuid.UUID,
    tmp_path: Path,
    stop: Callable[[int], None],
) -> None:
    # 1080p MPEG-4 Part 2: a 720p encode makes it playable, then 360p and 1080p encodes.
    clip = make_clip(
        tmp_path / "long.avi", width=1920, height=1080, seconds=10, vcodec="mpeg4", audio=True
    )
    job_id = queue_video(settings, committed_company, clip)
    video_id = job_row(job_id).video_id
    log = tmp_path / "worker.log"
    with running(celery_worker_command(QUEUE_MEDIA), project_env(), log) as worker:
        wait_until(
            lambda: ladder_encoding(video_id) and bool(ffmpeg_descendants(worker.pid)),
            120,
            f"a ladder rendition to be encoding; worker log:\n{log.read_text()}",
        )
        encoders = ffmpeg_descendants(worker.pid)
        stop(worker.pid)
        started = time.monotonic()
        worker.wait(timeout=20)
        stopped_in = time.monotonic() - started
    assert stopped_in < 10, log.read_text()
    assert not [pid for pid in encoders if is_running(pid)]
    job = job_row(job_id)
    assert job.status == JobStatus.RUNNING, log.read_text()
    assert job.attempts == 0  # a deliberate stop costs the job no attempt
    assert job.last_error == WORKER_STOPPED
    with session_scope() as db:
        assert db.get_one(Video, video_id).status == VideoStatus.PLAYABLE
        assert RenditionStatus.ENCODING not in set(
            db.scalars(select(VideoRendition.status).where(VideoRendition.video_id == video_id))
        )

    # No beat runs here: only the message put back on the queue can start the job again.
    restart_log = tmp_path / "restarted-worker.log"
    with running(celery_worker_command(QUEUE_MEDIA), project_env(), restart_log):
        wait_until(
            lambda: job_row(job_id).status in (JobStatus.SUCCEEDED, JobStatus.FAILED),
            180,
            f"the handed-back job to finish; worker log:\n{restart_log.read_text()}",
        )
    job = job_row(job_id)
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    assert job.attempts == 1
    with session_scope() as db:
        video = db.get_one(Video, video_id)
        renditions = db.scalars(
            select(VideoRendition).where(VideoRendition.video_id == video_id)
        ).all()
        assert video.status == VideoStatus.READY
        assert sorted(r.name for r in renditions) == ["1080p", "360p", "720p"]
        assert {r.status for r in renditions} == {RenditionStatus.DONE}


def on_air(video_id: uuid.UUID) -> tuple[VideoStatus, set[str], bool]:
    """The video's status, the job folders its live renditions come from, and whether a
    pending set is being built, read in one transaction."""
    with session_scope() as db:
        status = db.get_one(Video, video_id).status
        rows = db.execute(
            select(VideoRendition.live, VideoRendition.status, VideoRendition.mp4_key).where(
                VideoRendition.video_id == video_id
            )
        ).all()
    folders = {
        key.split("/out/")[1].split("/")[0]
        for live, state, key in rows
        if live and state == RenditionStatus.DONE and key
    }
    return status, folders, any(not live for live, _, _ in rows)


def test_a_video_reprocessed_by_a_real_worker_never_leaves_the_air(
    settings: Settings, committed_company: uuid.UUID, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "hd.mp4", width=1280, height=720, seconds=8, gop=50)
    first_job = queue_video(settings, committed_company, clip)
    video_id = job_row(first_job).video_id
    log = tmp_path / "worker.log"
    with running(celery_worker_command(QUEUE_MEDIA), project_env(), log):
        wait_until(
            lambda: job_row(first_job).status == JobStatus.SUCCEEDED,
            120,
            f"the first processing; worker log:\n{log.read_text()}",
        )
        with session_scope() as db:
            video = db.get_one(Video, video_id, with_for_update=True)
            video.stage = PipelineStage.QUEUED
            again = new_job(db, video, JobKind.PROCESS, settings).id

        seen: list[tuple[VideoStatus, set[str], bool]] = []
        deadline = time.monotonic() + 120
        while job_row(again).status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            assert time.monotonic() < deadline, f"reprocess too slow:\n{log.read_text()}"
            seen.append(on_air(video_id))
            time.sleep(0.05)
        seen.append(on_air(video_id))

    assert job_row(again).status == JobStatus.SUCCEEDED, job_row(again).last_error
    # At every look: playing, from exactly one complete set, the old one and then the new.
    assert {status for status, _, _ in seen} <= {VideoStatus.READY}
    assert all(len(folders) == 1 for _, folders, _ in seen), seen
    assert seen[0][1] == {str(first_job)}
    assert seen[-1][1] == {str(again)}
    assert any(pending for _, _, pending in seen), "the new set was never seen being built"
