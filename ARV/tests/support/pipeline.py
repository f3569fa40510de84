"""The media pipeline in-process, on real ffmpeg and the local provider, against the test's
PostgreSQL transaction: fixtures that make a video and its first job, and helpers to run
jobs and read back what they did."""

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.storage import StorageProvider, build_storage
from app.models import (
    Company,
    FileStatus,
    JobKind,
    PipelineStage,
    StoredFile,
    Video,
    VideoJob,
    VideoRendition,
    VideoStatus,
)
from app.services.leases import Outcome
from app.services.storage_service import file_key
from app.services.video_pipeline import VideoPipeline
from app.services.video_service import new_job
from tests.support.factories import make_company

VideoMaker = Callable[[Path], VideoJob]


@pytest.fixture
def storage(settings: Settings) -> StorageProvider:
    settings.local_storage_root.mkdir(parents=True, exist_ok=True)
    return build_storage(settings)


@pytest.fixture
def company(db: Session) -> Company:
    company = make_company(db)
    company.plan = "pro"  # HLS included
    db.flush()
    return company


@pytest.fixture
def make_video(
    db: Session, storage: StorageProvider, settings: Settings, company: Company
) -> VideoMaker:
    def make(clip: Path) -> VideoJob:
        stored = StoredFile(
            company_id=company.id,
            status=FileStatus.AVAILABLE,
            filename=clip.name,
            content_type="video/mp4",
            size_bytes=clip.stat().st_size,
            storage_key=file_key(company.id, uuid.uuid4()),
        )
        storage.put_file(stored.storage_key, clip, "video/mp4")
        db.add(stored)
        db.flush()
        video = Video(
            company_id=company.id,
            file_id=stored.id,
            title=clip.stem,
            status=VideoStatus.UPLOADED,
            stage=PipelineStage.QUEUED,
        )
        db.add(video)
        db.flush()
        return new_job(db, video, JobKind.PROCESS, settings)

    return make


@pytest.fixture
def pipeline(
    session_factory: sessionmaker[Session], storage: StorageProvider, settings: Settings
) -> VideoPipeline:
    return VideoPipeline(session_factory, storage, settings)


def run(pipeline: VideoPipeline, job: VideoJob) -> Outcome:
    assert job.task_id
    return pipeline.run(job.id, job.task_id)


def renditions(db: Session, video_id: uuid.UUID, *, live: bool = True) -> dict[str, VideoRendition]:
    rows = db.scalars(
        select(VideoRendition).where(
            VideoRendition.video_id == video_id, VideoRendition.live.is_(live)
        )
    )
    return {row.name: row for row in rows}


def reloaded(db: Session, job: VideoJob) -> tuple[Video, VideoJob]:
    db.expire_all()
    return db.get_one(Video, job.video_id), db.get_one(VideoJob, job.id)
