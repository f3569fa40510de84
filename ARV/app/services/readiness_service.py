"""Readiness: can this instance serve traffic right now? Each dependency is checked
with a short timeout and reported by name."""

import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.redis import get_redis
from app.core.storage import build_storage
from app.schemas.ops import ComponentStatus


class ReadinessService:
    def __init__(self, db: Session, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def check(self) -> dict[str, ComponentStatus]:
        checks: dict[str, Callable[[], object]] = {
            "database": self._check_database,
            "storage": self._check_storage,
        }
        if redis_url := self.settings.REDIS_URL:
            checks["redis"] = get_redis(redis_url).ping
        return {name: _timed(probe) for name, probe in checks.items()}

    def _check_database(self) -> None:
        self.db.execute(text("SELECT 1"))

    def _check_storage(self) -> None:
        build_storage(self.settings).check()


def _timed(probe: Callable[[], object]) -> ComponentStatus:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:
        return ComponentStatus(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
    return ComponentStatus(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))
