"""Scan analytics under SQLite, as `make run` has it: SQLite has no `percentile_cont`, so
the rollup sorts the day's times to detect itself, and must agree with PostgreSQL."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.database import build_engine
from app.models.scan_analytics import ContentDailyStats
from app.schemas.scan_analytics import ViewerEventBatch
from app.services import event_log
from app.services.scan_analytics_service import SCANS, ingest
from app.utils.clock import utcnow
from tests.support.databases import migrate
from tests.support.factories import make_company, make_project, make_published_content


@pytest.fixture
def sqlite_session(tmp_path: Path) -> Iterator[Session]:
    engine = build_engine(f"sqlite:///{tmp_path / 'arv.db'}")
    try:
        with engine.connect() as connection:
            migrate(connection, "upgrade", "head")
            with Session(bind=connection) as db:
                yield db
    finally:
        engine.dispose()


def batch(*detect_ms: int) -> ViewerEventBatch:
    at = (utcnow() - timedelta(minutes=1)).isoformat()
    session = str(uuid.uuid4())
    events = [{"type": "page_open"}] + [
        {"type": "marker_found", "time_to_detect_ms": ms} for ms in detect_ms
    ]
    return ViewerEventBatch.model_validate(
        {
            "device_id": "sqlite-device",
            "platform": "android",
            "events": [
                {"event_id": str(uuid.uuid4()), "session_id": session, "occurred_at": at, **event}
                for event in events
            ],
        }
    )


def test_the_rollup_computes_percentiles_without_percentile_cont(
    sqlite_session: Session, settings: Settings
) -> None:
    db = sqlite_session
    content = make_published_content(db, make_project(db, make_company(db)))
    events = batch(1000, 100, 400)
    assert ingest(db, settings, content.public_id, events).accepted == 4
    assert ingest(db, settings, content.public_id, events).duplicates == 4
    assert ingest(db, settings, content.public_id, batch(200, 300)).accepted == 3
    assert event_log.roll_up(db, SCANS) == 1
    figures = db.scalars(select(ContentDailyStats)).one()
    assert (figures.opens, figures.scans, figures.found_rate) == (2, 5, 1.0)
    # The same figures as PostgreSQL's in tests/api/test_viewer_events.py.
    assert figures.detect_ms_median == pytest.approx(300)
    assert figures.detect_ms_p90 == pytest.approx(760)
