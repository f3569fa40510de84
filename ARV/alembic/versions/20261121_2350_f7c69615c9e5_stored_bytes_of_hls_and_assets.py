"""Stored bytes of HLS files, stills and the master playlist, counted in the quota

Videos processed before this revision count 0 for them until re-processed: the sizes
live in object storage, which a migration does not read.

Revision ID: f7c69615c9e5
Revises: 91622564bebb
Create Date: 2026-11-21 23:50:57.585335+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f7c69615c9e5"
down_revision: str | None = "91622564bebb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "video_renditions",
        sa.Column("hls_bytes", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "videos", sa.Column("assets_bytes", sa.BigInteger(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("videos", "assets_bytes")
    op.drop_column("video_renditions", "hls_bytes")
