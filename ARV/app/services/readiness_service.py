"""Readiness: can this instance serve traffic right now? Each dependency is checked
with a short timeout and reported by name."""

import os
import time
from collections.abc import Callable

import boto3
from botocore.config import Config
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.redis import get_redis
from app.schemas.ops import ComponentStatus

_S3_PROBE_CONFIG = Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1})


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
        if self.settings.STORAGE_PROVIDER == "s3":
            self._check_s3_bucket()
            return
        root = self.settings.local_storage_root
        if not root.is_dir():
            raise RuntimeError(f"storage root {root} does not exist")
        if not os.access(root, os.W_OK):
            raise RuntimeError(f"storage root {root} is not writable")

    def _check_s3_bucket(self) -> None:
        secret = self.settings.S3_SECRET_ACCESS_KEY
        client = boto3.client(
            "s3",
            endpoint_url=self.settings.S3_ENDPOINT_URL,
            region_name=self.settings.S3_REGION,
            aws_access_key_id=self.settings.S3_ACCESS_KEY_ID,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=_S3_PROBE_CONFIG,
        )
        client.head_bucket(Bucket=self.settings.S3_BUCKET)


def _timed(probe: Callable[[], object]) -> ComponentStatus:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:
        return ComponentStatus(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
    return ComponentStatus(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))
