"""Migrations, on their own PostgreSQL database: up to head, no drift from the models,
and all the way back down."""

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, create_engine, insert, inspect, text

from app.core.database import build_engine
from app.models import Base
from tests.conftest import ADMIN_DATABASE_URL
from tests.support.databases import create_database, drop_database, migrate

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_database() -> Iterator[Connection]:
    url = f"{ADMIN_DATABASE_URL.rsplit('/', 1)[0]}/arv_migrations_{uuid.uuid4().hex[:8]}"
    create_database(ADMIN_DATABASE_URL, url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()
        drop_database(ADMIN_DATABASE_URL, url)


def test_upgrade_matches_models_and_downgrade_removes_everything(
    empty_database: Connection,
) -> None:
    migrate(empty_database, "upgrade", "head")
    tables = set(inspect(empty_database).get_table_names())
    assert set(Base.metadata.tables) <= tables

    drift = compare_metadata(
        MigrationContext.configure(
            empty_database, opts={"compare_type": True, "compare_server_default": True}
        ),
        Base.metadata,
    )
    assert drift == [], f"models and migrations disagree: {drift}"

    migrate(empty_database, "downgrade", "base")
    assert set(inspect(empty_database).get_table_names()) == {"alembic_version"}


def test_every_revision_steps_down_and_up_again(empty_database: Connection) -> None:
    migrate(empty_database, "upgrade", "head")
    migrate(empty_database, "downgrade", "base")
    migrate(empty_database, "upgrade", "head")
    assert set(Base.metadata.tables) <= set(inspect(empty_database).get_table_names())


BEFORE_PROJECTS = "5b0e7a3c9d12"


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Connection]:
    """A SQLite file as `make run` has it: foreign keys on."""
    engine = build_engine(f"sqlite:///{tmp_path / 'arv.db'}")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _seed_contents_before_projects(connection: Connection) -> dict[str, uuid.UUID]:
    """Two companies with AR contents (one with a scheduled video), as they were before
    projects existed."""
    tables = MetaData()
    tables.reflect(connection)
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    ids = {key: uuid.uuid4() for key in ("a", "b", "a1", "a2", "b1")}
    # Reflected SQLite columns are CHAR(32): bind UUIDs as the app stores them there.
    key: Any = (lambda name: ids[name].hex) if connection.dialect.name == "sqlite" else ids.get
    for company in ("a", "b"):
        connection.execute(
            insert(tables.tables["companies"]).values(
                id=key(company), name=company, slug=company, plan="free", settings={}, **stamps
            )
        )
    for content, company in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        connection.execute(
            insert(tables.tables["ar_contents"]).values(
                id=key(content), company_id=key(company), name=f"Postcard {content}", **stamps
            )
        )
    connection.commit()
    return ids


@pytest.mark.parametrize("database", ["empty_database", "sqlite_database"])
def test_contents_move_into_a_default_project_per_company(
    database: str, request: pytest.FixtureRequest
) -> None:
    connection: Connection = request.getfixturevalue(database)
    migrate(connection, "upgrade", BEFORE_PROJECTS)
    ids = _seed_contents_before_projects(connection)
    migrate(connection, "upgrade", "head")

    projects = {
        row.company_id: row
        for row in connection.execute(text("SELECT id, company_id, name, status FROM projects"))
    }
    assert {_uuid(company_id) for company_id in projects} == {ids["a"], ids["b"]}
    assert {row.name for row in projects.values()} == {"Default project"}
    contents = {
        _uuid(row.id): row
        for row in connection.execute(
            text("SELECT id, company_id, project_id, title, public_id, status FROM ar_contents")
        )
    }
    assert set(contents) == {ids["a1"], ids["a2"], ids["b1"]}
    for key in ("a1", "a2", "b1"):
        row = contents[ids[key]]
        assert row.title == f"Postcard {key}"
        assert row.status == "draft"
        assert _uuid(row.project_id) == _uuid(projects[row.company_id].id)
        assert re.fullmatch(r"[A-Za-z0-9_-]{12}", row.public_id)
    assert len({row.public_id for row in contents.values()}) == 3

    migrate(connection, "downgrade", BEFORE_PROJECTS)
    names = connection.execute(text("SELECT name FROM ar_contents ORDER BY name")).scalars()
    assert list(names) == ["Postcard a1", "Postcard a2", "Postcard b1"]


def _uuid(value: object) -> uuid.UUID:
    # SQLite hands UUIDs back as hex text from a raw query.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
