"""Pending renditions (a re-process builds them while the live ones play) and the purge
list of outputs a newer set replaced

Revision ID: 7fe7fcea60dd
Revises: f7c69615c9e5
Create Date: 2026-11-29 10:46:00.733759+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7fe7fcea60dd"
down_revision: str | None = "f7c69615c9e5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "video_output_purges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_video_output_purges_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_video_output_purges_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_output_purges")),
    )
    op.create_index(
        op.f("ix_video_output_purges_company_id"),
        "video_output_purges",
        ["company_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_video_output_purges_purge_after"),
        "video_output_purges",
        ["purge_after"],
        unique=False,
    )
    op.create_index(
        op.f("ix_video_output_purges_video_id"), "video_output_purges", ["video_id"], unique=False
    )
    # Batch mode: SQLite (`make run`) cannot drop a constraint in place.
    with op.batch_alter_table("video_renditions") as batch_op:
        batch_op.add_column(
            sa.Column("live", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )
        batch_op.drop_constraint("uq_video_renditions_video_id_name", type_="unique")
        batch_op.create_unique_constraint(
            "uq_video_renditions_video_id_live_name", ["video_id", "live", "name"]
        )


def downgrade() -> None:
    # Renditions a re-process was still building are dropped; the live ones stay.
    op.execute(sa.text("DELETE FROM video_renditions WHERE NOT live"))
    with op.batch_alter_table("video_renditions") as batch_op:
        batch_op.drop_constraint("uq_video_renditions_video_id_live_name", type_="unique")
        batch_op.create_unique_constraint("uq_video_renditions_video_id_name", ["video_id", "name"])
        batch_op.drop_column("live")
    op.drop_index(op.f("ix_video_output_purges_video_id"), table_name="video_output_purges")
    op.drop_index(op.f("ix_video_output_purges_purge_after"), table_name="video_output_purges")
    op.drop_index(op.f("ix_video_output_purges_company_id"), table_name="video_output_purges")
    op.drop_table("video_output_purges")
