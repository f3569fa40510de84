"""A real Celery worker process consumes our tasks and returns results, on Redis and on
the zero-configuration filesystem broker."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from app.background_tasks.celery_app import create_celery_app
from app.background_tasks.names import AUTH_PURGE_EXPIRED, QUEUE_DEFAULT, SYSTEM_PING
from app.core.config import Settings
from tests.conftest import TEST_REDIS_URL
from tests.support.processes import celery_worker_command, project_env, running


def round_trip(
    settings: Settings, env: dict[str, str], log: Path, task: str = SYSTEM_PING
) -> dict[str, Any]:
    producer = create_celery_app(settings)
    # Two pool processes: both are forked from the parent and must not share its sockets.
    with running(celery_worker_command(QUEUE_DEFAULT, concurrency=2), env, log):
        result = producer.send_task(task, queue=QUEUE_DEFAULT)
        try:
            payload: dict[str, Any] = result.get(timeout=60)
        except Exception as error:
            raise AssertionError(
                f"no result from the worker; its log:\n{log.read_text()}"
            ) from error
    return payload


@pytest.mark.integration
def test_worker_round_trip_on_redis(tmp_path: Path) -> None:
    redis_url = TEST_REDIS_URL.rsplit("/", 1)[0] + "/5"
    settings = Settings(_env_file=None, REDIS_URL=redis_url, VAR_DIR=tmp_path)
    env = project_env(REDIS_URL=redis_url, VAR_DIR=str(tmp_path))
    payload = round_trip(settings, env, tmp_path / "worker.log")
    assert payload["pong"] == "ok"
    assert payload["hostname"]


@pytest.mark.integration
def test_worker_runs_database_tasks_on_postgresql(tmp_path: Path, engine: Engine) -> None:
    redis_url = TEST_REDIS_URL.rsplit("/", 1)[0] + "/5"
    settings = Settings(_env_file=None, REDIS_URL=redis_url, VAR_DIR=tmp_path)
    env = project_env(REDIS_URL=redis_url, VAR_DIR=str(tmp_path))  # DATABASE_URL: the test DB
    deleted = round_trip(settings, env, tmp_path / "worker.log", task=AUTH_PURGE_EXPIRED)
    assert set(deleted) == {"oauth_states", "one_time_tokens", "auth_sessions"}


@pytest.mark.integration
def test_worker_round_trip_with_nothing_configured(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, REDIS_URL="", VAR_DIR=tmp_path)
    env = project_env(REDIS_URL="", VAR_DIR=str(tmp_path))
    payload = round_trip(settings, env, tmp_path / "worker.log")
    assert payload["pong"] == "ok"
    assert any((tmp_path / "celery" / "results").iterdir()), "result not on the filesystem"


def test_reliability_settings_hold_for_long_media_jobs() -> None:
    settings = Settings(
        _env_file=None,
        REDIS_URL="redis://example:6379/0",
        FFMPEG_TIMEOUT_SECONDS=50,
        CELERY_TASK_SOFT_TIME_LIMIT=100,
        CELERY_TASK_TIME_LIMIT=200,
        CELERY_VISIBILITY_TIMEOUT=300,
    )
    conf = create_celery_app(settings).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (100, 200)
    assert conf.broker_transport_options["visibility_timeout"] == 300
    assert conf.result_backend_transport_options["visibility_timeout"] == 300
    assert conf.visibility_timeout == 300
    assert conf.accept_content == ["json"]
    assert {queue.name for queue in conf.task_queues} == {"media", "default", "notifications"}
