"""Projects, project templates and grants; AR contents move into projects

Every company that has AR contents gets a project named "Default project" holding them
all, so nothing is lost. Contents are renamed to `title` (as videos are), get a public id
(72 random bits, URL-safe), a status (`draft`: nothing was published before) and scene
settings (`{}`: every setting at its default).

SQLite (`make run`) keeps `project_id` and `public_id` nullable, without the foreign key,
and keeps the backfill's server defaults: changing any of that would recreate
`ar_contents`, and with foreign keys on, dropping the old table would cascade-delete every
schedule entry. PostgreSQL gets the key, NOT NULL, and no server defaults.

Revision ID: e0a9962ed5ae
Revises: 5b0e7a3c9d12
Create Date: 2026-11-29 12:55:22.013895+00:00
"""

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "e0a9962ed5ae"
down_revision: str | None = "5b0e7a3c9d12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_scene", sa.JSON(), nullable=False),
        sa.Column("default_marker_width_mm", sa.Integer(), nullable=True),
        sa.Column("publish_threshold", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_project_templates_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_templates")),
        sa.UniqueConstraint(
            "company_id", "name", name=op.f("uq_project_templates_company_id_name")
        ),
    )
    op.create_index(
        op.f("ix_project_templates_company_id"), "project_templates", ["company_id"], unique=False
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "archived", name="project_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("default_scene", sa.JSON(), nullable=False),
        sa.Column("default_marker_width_mm", sa.Integer(), nullable=True),
        sa.Column("publish_threshold", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_projects_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_projects_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["project_templates.id"],
            name=op.f("fk_projects_template_id_project_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index(op.f("ix_projects_company_id"), "projects", ["company_id"], unique=False)
    op.create_index(op.f("ix_projects_deleted_at"), "projects", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_projects_status"), "projects", ["status"], unique=False)
    op.create_table(
        "project_grants",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "access",
            sa.Enum("editor", "viewer", name="project_access", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_project_grants_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_grants_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_project_grants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name=op.f("pk_project_grants")),
    )
    op.create_index(
        op.f("ix_project_grants_company_id"), "project_grants", ["company_id"], unique=False
    )
    op.create_index(op.f("ix_project_grants_user_id"), "project_grants", ["user_id"], unique=False)
    _move_contents_into_projects()


def downgrade() -> None:
    _take_contents_out_of_projects()
    op.drop_index(op.f("ix_project_grants_user_id"), table_name="project_grants")
    op.drop_index(op.f("ix_project_grants_company_id"), table_name="project_grants")
    op.drop_table("project_grants")
    op.drop_index(op.f("ix_projects_status"), table_name="projects")
    op.drop_index(op.f("ix_projects_deleted_at"), table_name="projects")
    op.drop_index(op.f("ix_projects_company_id"), table_name="projects")
    op.drop_table("projects")
    op.drop_index(op.f("ix_project_templates_company_id"), table_name="project_templates")
    op.drop_table("project_templates")


DEFAULT_PROJECT = "Default project"
CONTENT_STATUSES = ("draft", "published", "unpublished", "archived")


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _move_contents_into_projects() -> None:
    op.alter_column("ar_contents", "name", new_column_name="title")
    op.add_column("ar_contents", sa.Column("public_id", sa.String(length=12), nullable=True))
    op.add_column(
        "ar_contents",
        sa.Column(
            "status",
            sa.Enum(*CONTENT_STATUSES, name="content_status", native_enum=False, length=16),
            server_default="draft",
            nullable=False,
        ),
    )
    op.add_column("ar_contents", sa.Column("scene", sa.JSON(), server_default="{}", nullable=False))
    op.add_column("ar_contents", sa.Column("project_id", sa.Uuid(), nullable=True))
    _backfill_projects_and_public_ids()
    op.create_index(op.f("ix_ar_contents_project_id"), "ar_contents", ["project_id"])
    op.create_index(op.f("ix_ar_contents_status"), "ar_contents", ["status"])
    op.create_index(op.f("ix_ar_contents_public_id"), "ar_contents", ["public_id"], unique=True)
    if not _is_sqlite():
        for column in ("status", "scene"):
            # The defaults were for the rows already there; new rows get the model's.
            op.alter_column("ar_contents", column, server_default=None)
        op.alter_column("ar_contents", "public_id", nullable=False)
        op.alter_column("ar_contents", "project_id", nullable=False)
        op.create_foreign_key(
            op.f("fk_ar_contents_project_id_projects"),
            "ar_contents",
            "projects",
            ["project_id"],
            ["id"],
            ondelete="CASCADE",
        )


def _backfill_projects_and_public_ids() -> None:
    bind = op.get_bind()
    contents = sa.table(
        "ar_contents",
        sa.column("id", sa.Uuid()),
        sa.column("company_id", sa.Uuid()),
        sa.column("public_id"),
        sa.column("project_id", sa.Uuid()),
    )
    projects = sa.table(
        "projects",
        *(sa.column(name) for name in ("name", "status", "restricted", "publish_threshold")),
        sa.column("id", sa.Uuid()),
        sa.column("company_id", sa.Uuid()),
        sa.column("default_scene", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    company_ids = bind.execute(sa.select(contents.c.company_id).distinct()).scalars().all()
    for company_id in company_ids:
        project_id = uuid.uuid4()
        bind.execute(
            projects.insert().values(
                id=project_id,
                company_id=company_id,
                name=DEFAULT_PROJECT,
                status="active",
                restricted=False,
                publish_threshold=60,
                default_scene={},
                created_at=now,
                updated_at=now,
            )
        )
        bind.execute(
            contents.update()
            .where(contents.c.company_id == company_id)
            .values(project_id=project_id)
        )
    for content_id in bind.execute(sa.select(contents.c.id)).scalars().all():
        bind.execute(
            contents.update()
            .where(contents.c.id == content_id)
            .values(public_id=secrets.token_urlsafe(9))
        )


def _take_contents_out_of_projects() -> None:
    if not _is_sqlite():
        op.drop_constraint(
            op.f("fk_ar_contents_project_id_projects"), "ar_contents", type_="foreignkey"
        )
    op.drop_index(op.f("ix_ar_contents_public_id"), table_name="ar_contents")
    op.drop_index(op.f("ix_ar_contents_status"), table_name="ar_contents")
    op.drop_index(op.f("ix_ar_contents_project_id"), table_name="ar_contents")
    for column in ("project_id", "scene", "status", "public_id"):
        op.drop_column("ar_contents", column)
    op.alter_column("ar_contents", "title", new_column_name="name")
