"""A video's chroma key, and each rendition's kind: a ladder rung or the stacked alpha

The stacked-alpha rendition (colour over its alpha matte) is keyed from the chroma key.

Plain column changes, not batch mode: SQLite (`make run`) adds and drops such columns in
place, and recreating `videos` with foreign keys on would cascade-delete its renditions and
jobs.

Revision ID: 5b0e7a3c9d12
Revises: 7c954e5191e6
Create Date: 2026-11-29 12:55:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b0e7a3c9d12"
down_revision: str | None = "7c954e5191e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("videos", sa.Column("chroma_key", sa.JSON(), nullable=True))
    op.add_column(
        "video_renditions",
        sa.Column(
            "kind",
            sa.Enum("ladder", "stacked_alpha", name="rendition_kind", native_enum=False, length=16),
            server_default="ladder",
            nullable=False,
        ),
    )


def downgrade() -> None:
    # Stacked-alpha renditions go with the setting that made them; their files stay in
    # storage until the video is deleted.
    op.execute(sa.text("DELETE FROM video_renditions WHERE kind = 'stacked_alpha'"))
    op.drop_column("video_renditions", "kind")
    op.drop_column("videos", "chroma_key")
