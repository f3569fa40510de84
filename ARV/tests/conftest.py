"""Test harness: a real PostgreSQL database built by `alembic upgrade head` once per run,
and every test inside an outer transaction that is rolled back at the end.

`make test` starts throwaway PostgreSQL and Redis servers and exports their URLs as
TEST_DATABASE_URL (a maintenance database on the server) and TEST_REDIS_URL.
"""

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

ADMIN_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
if not ADMIN_DATABASE_URL.startswith("postgresql") or not TEST_REDIS_URL:
    raise pytest.UsageError(
        "Tests need a real PostgreSQL and Redis: run `make test`, or export TEST_DATABASE_URL "
        "and TEST_REDIS_URL (see scripts/test_services.sh)."
    )

RUN_ID = uuid.uuid4().hex[:8]
TEST_VAR_DIR = Path(tempfile.mkdtemp(prefix=f"arvlite-var-{RUN_ID}-"))
os.environ.update(
    ENV="test",
    DATABASE_URL=f"{ADMIN_DATABASE_URL.rsplit('/', 1)[0]}/arv_test_{RUN_ID}",
    REDIS_URL=TEST_REDIS_URL,
    VAR_DIR=str(TEST_VAR_DIR),
    STORAGE_PROVIDER="local",
    # The cheapest bcrypt cost: hashing speed is not under test, and cost 12 on every test
    # user would dominate the run. Production refuses less than 12.
    PASSWORD_HASH_ROUNDS="4",
)

# The application reads its settings at import; the environment above must come first.
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Connection, Engine  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from app.api.deps import get_db  # noqa: E402
from app.core.batched_rate_limit import _batched_limiter  # noqa: E402
from app.core.config import Settings, get_settings  # noqa: E402
from app.core.database import get_engine, session_scope  # noqa: E402
from app.core.redis import get_redis  # noqa: E402
from app.main import create_app  # noqa: E402
from tests.support.databases import create_database, drop_database, migrate  # noqa: E402

pytest_plugins = [
    "tests.support.rate_limiting",
    "tests.support.s3_server",
    "tests.support.media",
    "tests.support.pipeline",
    "tests.support.mailbox",
    "tests.support.smtp_server",
    "tests.support.push",
]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(autouse=True)
def empty_redis() -> None:
    """Rate-limit counters and lock-outs must not leak from one test into the next: in
    Redis, nor in the counts the viewer rate limit keeps in this process."""
    get_redis(TEST_REDIS_URL).flushdb()
    _batched_limiter.cache_clear()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    create_database(ADMIN_DATABASE_URL, settings.DATABASE_URL)
    engine = get_engine()
    with engine.connect() as connection:
        migrate(connection, "upgrade", "head")
    yield engine
    engine.dispose()
    drop_database(ADMIN_DATABASE_URL, settings.DATABASE_URL)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    # Sessions join the test's outer transaction: their commit releases a savepoint, and
    # everything vanishes with the outer rollback.
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.close()


def app_on_test_transaction(settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    app = create_app(settings)

    def test_db() -> Iterator[Session]:
        with session_scope(session_factory) as session:
            yield session

    app.dependency_overrides[get_db] = test_db
    app.state.sessions = session_factory
    return app


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    return app_on_test_transaction(settings, session_factory)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


ClientFactory = Callable[[Settings], TestClient]


@pytest.fixture
def client_for(session_factory: sessionmaker[Session]) -> Iterator[ClientFactory]:
    """Clients of apps built with other settings, still on the test's transaction.
    Redirects are returned, not followed, so tests can inspect them."""
    with ExitStack() as clients:

        def build(settings: Settings) -> TestClient:
            app = app_on_test_transaction(settings, session_factory)
            client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
            return clients.enter_context(client)

        yield build
