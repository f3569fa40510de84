"""Create, migrate and drop PostgreSQL databases for tests that need their own."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parents[3]


def alembic_config(connection: Connection) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.attributes["connection"] = connection
    config.attributes["configure_logger"] = False
    return config


def migrate(connection: Connection, direction: str, revision: str) -> None:
    getattr(command, direction)(alembic_config(connection), revision)
    connection.commit()


def create_database(admin_url: str, database_url: str) -> None:
    _run_admin(admin_url, f'CREATE DATABASE "{make_url(database_url).database}"')


def drop_database(admin_url: str, database_url: str) -> None:
    _run_admin(
        admin_url, f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)'
    )


def _run_admin(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()
