"""Jobs of one video under concurrency, with real commits on PostgreSQL.

Job-creating requests for one video sent at the same instant to a real uvicorn serialise
on the video: one creates the job, the others answer 409 `video_busy`. And a worker
finishing a job while a request acts on its video take the two row locks in the same
order (video, then job), so they wait for each other in turn, never in a deadlock."""

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import Engine, create_engine, delete, select, text
from sqlalchemy.orm import sessionmaker

from app.core.config import Settings
from app.core.database import session_scope
from app.core.storage import build_storage
from app.models import Company, User, Video, VideoJob
from app.models.video import JobKind, JobStatus, PipelineStage, VideoStatus
from app.services.video_pipeline import VideoPipeline
from app.utils.clock import utcnow
from tests.support.api import assert_error
from tests.support.factories import auth_headers, make_company, make_user, make_video
from tests.support.processes import free_port, project_env, running, uvicorn_command, wait_until

pytestmark = pytest.mark.integration

CONCURRENT = 8
WORKER_APP_NAME = "arv-test-worker"


@dataclass(frozen=True)
class Race:
    company_id: uuid.UUID
    video_id: uuid.UUID
    headers: dict[str, str]


@pytest.fixture
def race(engine: Engine, settings: Settings) -> Iterator[Race]:
    with session_scope() as db:
        user = make_user(db)
        company = make_company(db, user, name="Job Race")
        video = make_video(db, company)
        prepared = Race(company.id, video.id, auth_headers(db, settings, user))
        user_id = user.id
    yield prepared
    with session_scope() as db:
        db.execute(delete(Company).where(Company.id == prepared.company_id))
        db.execute(delete(User).where(User.id == user_id))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(uvicorn_command(port), project_env(), tmp_path / "api.log"):
        wait_until(lambda: _answers(f"{base}/health"), 30, "the API")
        yield base


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [("PUT", "poster", {"at_seconds": 0.0}), ("POST", "reprocess", None)],
)
def test_concurrent_job_requests_for_one_video_take_turns(
    race: Race, api: str, method: str, action: str, body: dict[str, float] | None
) -> None:
    url = f"{api}/api/v1/companies/{race.company_id}/videos/{race.video_id}/{action}"
    answers: list[httpx2.Response] = []
    barrier = threading.Barrier(CONCURRENT)

    def send() -> None:
        barrier.wait()
        answers.append(httpx2.request(method, url, json=body, headers=race.headers, timeout=30))

    _run_all([threading.Thread(target=send) for _ in range(CONCURRENT)])

    assert sorted(a.status_code for a in answers) == [200] + [409] * (CONCURRENT - 1), [
        a.text for a in answers
    ]
    for refused in (a for a in answers if a.status_code == 409):
        assert assert_error(refused, 409, "video_busy")["details"]["job_id"]
    with session_scope() as db:
        jobs = db.scalars(select(VideoJob).where(VideoJob.video_id == race.video_id)).all()
    assert len(jobs) == 1


def test_a_failing_worker_and_a_cancel_on_its_video_take_turns(
    race: Race, settings: Settings
) -> None:
    """The request locks the video first, then changes the job (as cancel and delete do).
    A worker that locked the job first and then waited for the video would close a cycle;
    it must wait for the video before it touches the job."""
    job_id = _running_job(race.video_id, race.company_id)
    worker_engine = create_engine(
        settings.DATABASE_URL, connect_args={"application_name": WORKER_APP_NAME}
    )
    pipeline = VideoPipeline(
        sessionmaker(bind=worker_engine, expire_on_commit=False),
        build_storage(settings),
        settings,
    )
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            pipeline.fail(job_id, PipelineStage.LADDER, "ffmpeg gave up")
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    try:
        with session_scope() as request:
            video = request.get_one(Video, race.video_id, with_for_update=True)
            failing = threading.Thread(target=worker)
            failing.start()
            wait_until(_worker_waits_for_a_lock, 10, "the worker to wait for the video")
            job = request.get_one(VideoJob, job_id)
            job.cancel_requested = True  # would deadlock were the job locked by the worker
            request.flush()
            assert video.status == VideoStatus.READY
        failing.join(timeout=30)
    finally:
        worker_engine.dispose()

    assert errors == []
    with session_scope() as db:
        job = db.get_one(VideoJob, job_id)
        assert (job.status, job.cancel_requested) == (JobStatus.FAILED, True)


def _running_job(video_id: uuid.UUID, company_id: uuid.UUID) -> uuid.UUID:
    with session_scope() as db:
        job = VideoJob(
            company_id=company_id,
            video_id=video_id,
            kind=JobKind.PROCESS,
            status=JobStatus.RUNNING,
            attempts=1,
            max_attempts=3,
            task_id="task-1",
            queued_at=utcnow(),
            started_at=utcnow(),
        )
        db.add(job)
        db.flush()
        return job.id


def _worker_waits_for_a_lock() -> bool:
    with session_scope() as db:
        waiting = db.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = :name AND wait_event_type = 'Lock'"
            ),
            {"name": WORKER_APP_NAME},
        )
    return bool(waiting)


def _run_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False
