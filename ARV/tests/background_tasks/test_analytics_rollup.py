"""The analytics rollup with real commits: run by a real Celery worker, and interleaved
with ingests in other transactions, where a lost or double-counted event would show."""

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select

from app.background_tasks import analytics_tasks
from app.background_tasks.celery_app import create_celery_app
from app.background_tasks.names import ANALYTICS_ROLL_UP, QUEUE_DEFAULT
from app.core.config import Settings, get_settings
from app.core.database import session_scope
from app.models import ARContent, Company
from app.models.scan_analytics import ContentDailyStats
from app.models.video_analytics import VideoDailyStats, VideoStatsBacklog
from app.schemas.scan_analytics import ViewerEventBatch
from app.schemas.video_analytics import PlaybackBatch
from app.services import scan_analytics_service
from app.services.video_analytics_service import ingest, roll_up
from app.utils.clock import utcnow
from tests.conftest import TEST_REDIS_URL
from tests.support.factories import (
    make_company,
    make_project,
    make_published_content,
    make_video,
)
from tests.support.processes import celery_worker_command, project_env, running

pytestmark = pytest.mark.integration


@pytest.fixture
def video_id(engine: Engine) -> Iterator[uuid.UUID]:
    with session_scope() as db:
        company = make_company(db, name="Rollup Co")
        video = make_video(db, company)
        company_id, created = company.id, video.id
    yield created
    with session_scope() as db:
        db.execute(delete(Company).where(Company.id == company_id))


def plays(video_id: uuid.UUID, count: int) -> PlaybackBatch:
    at = utcnow() - timedelta(seconds=5)
    return PlaybackBatch.model_validate(
        {
            "device_id": f"device-{uuid.uuid4().hex[:12]}",
            "events": [
                {
                    "event_id": str(uuid.uuid4()),
                    "video_id": str(video_id),
                    "session_id": str(uuid.uuid4()),
                    "type": "play",
                    "occurred_at": at.isoformat(),
                }
                for _ in range(count)
            ],
        }
    )


def committed_ingest(video_id: uuid.UUID, count: int) -> None:
    with session_scope() as db:
        assert ingest(db, get_settings(), plays(video_id, count)).accepted == count


def views(video_id: uuid.UUID) -> int:
    with session_scope() as db:
        row = db.scalar(select(VideoDailyStats).where(VideoDailyStats.video_id == video_id))
        return row.views if row else 0


def marks(video_id: uuid.UUID) -> int:
    with session_scope() as db:
        found = db.scalars(select(VideoStatsBacklog).where(VideoStatsBacklog.video_id == video_id))
        return len(list(found))


def test_a_real_worker_rolls_up_reported_events(tmp_path: Path, video_id: uuid.UUID) -> None:
    committed_ingest(video_id, 3)
    redis_url = TEST_REDIS_URL.rsplit("/", 1)[0] + "/5"
    settings = Settings(_env_file=None, REDIS_URL=redis_url, VAR_DIR=tmp_path)
    env = project_env(REDIS_URL=redis_url, VAR_DIR=str(tmp_path))
    log = tmp_path / "worker.log"
    with running(celery_worker_command(QUEUE_DEFAULT), env, log):
        result = create_celery_app(settings).send_task(ANALYTICS_ROLL_UP, queue=QUEUE_DEFAULT)
        assert result.get(timeout=60) >= 1, log.read_text()
    assert views(video_id) == 3
    assert marks(video_id) == 0


def test_an_ingest_not_yet_committed_is_counted_by_the_next_rollup(
    video_id: uuid.UUID,
) -> None:
    committed_ingest(video_id, 1)
    with session_scope() as ingesting:
        # Holds the day's mark until it commits: the rollup meanwhile passes it over.
        ingest(ingesting, get_settings(), plays(video_id, 2))
        with session_scope() as rolling:
            assert roll_up(rolling) == 0
    assert views(video_id) == 0
    with session_scope() as db:
        assert roll_up(db) == 1
    assert views(video_id) == 3


def test_an_ingest_during_a_rollup_leaves_a_new_mark(video_id: uuid.UUID) -> None:
    committed_ingest(video_id, 1)
    finished = threading.Event()

    def ingest_two_more() -> None:
        committed_ingest(video_id, 2)
        finished.set()

    with session_scope() as rolling:
        assert roll_up(rolling) == 1  # holds the mark until commit
        late = threading.Thread(target=ingest_two_more)
        late.start()
        # The ingest waits on the mark this rollup holds.
        assert not finished.wait(timeout=1.0)
    late.join(timeout=10)
    assert finished.is_set()
    assert views(video_id) == 1
    assert marks(video_id) == 1
    with session_scope() as db:
        assert roll_up(db) == 1
    assert views(video_id) == 3


@pytest.fixture
def public_id(engine: Engine) -> Iterator[str]:
    with session_scope() as db:
        company = make_company(db, name="Scan Co")
        content = make_published_content(db, make_project(db, company))
        company_id, published = company.id, content.public_id
    yield published
    with session_scope() as db:
        db.execute(delete(Company).where(Company.id == company_id))


def page_opens(count: int) -> ViewerEventBatch:
    at = utcnow() - timedelta(seconds=5)
    return ViewerEventBatch.model_validate(
        {
            "device_id": f"device-{uuid.uuid4().hex[:12]}",
            "platform": "web",
            "events": [
                {
                    "event_id": str(uuid.uuid4()),
                    "session_id": str(uuid.uuid4()),
                    "type": "page_open",
                    "occurred_at": at.isoformat(),
                }
                for _ in range(count)
            ],
        }
    )


def test_the_rollup_task_counts_playback_and_viewer_events(
    video_id: uuid.UUID, public_id: str
) -> None:
    committed_ingest(video_id, 2)
    with session_scope() as db:
        scan_analytics_service.ingest(db, get_settings(), public_id, page_opens(3))
    assert analytics_tasks.roll_up() >= 2
    assert views(video_id) == 2
    with session_scope() as db:
        opens = db.scalars(
            select(ContentDailyStats.opens)
            .join(ARContent, ARContent.id == ContentDailyStats.ar_content_id)
            .where(ARContent.public_id == public_id)
        ).one()
    assert opens == 3
