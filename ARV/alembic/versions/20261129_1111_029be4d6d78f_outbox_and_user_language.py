"""The transactional outbox (emails delivered after commit under the job lease, retried,
dead-lettered), and each user's language for the emails they receive

Revision ID: 029be4d6d78f
Revises: 3a5c0e7d9b21
Create Date: 2026-11-29 11:11:38.750806+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "029be4d6d78f"
down_revision: str | None = "3a5c0e7d9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "sent",
                "dead",
                name="outbox_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_status_available_at", "outbox", ["status", "available_at"], unique=False
    )
    # Existing users get English, the language every email was in until now.
    op.add_column(
        "users",
        sa.Column(
            "language",
            sa.Enum("en", "ru", name="language", native_enum=False, length=8),
            server_default="en",
            nullable=False,
        ),
    )


def downgrade() -> None:
    # Batch mode: SQLite (`make run`) rebuilds the table where it cannot drop in place.
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("language")
    op.drop_index("ix_outbox_status_available_at", table_name="outbox")
    op.drop_table("outbox")
