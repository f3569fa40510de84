"""Migrations, on their own PostgreSQL database: up to head, no drift from the models,
and all the way back down."""

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect

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
