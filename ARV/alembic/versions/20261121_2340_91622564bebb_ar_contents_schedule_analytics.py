"""AR contents, their video schedule, and playback analytics

Revision ID: 91622564bebb
Revises: 1da017481fd5
Create Date: 2026-11-21 23:40:55.948726+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "91622564bebb"
down_revision: str | None = "1da017481fd5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ar_contents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_ar_contents_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_ar_contents_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ar_contents")),
    )
    op.create_index(op.f("ix_ar_contents_company_id"), "ar_contents", ["company_id"], unique=False)
    op.create_index(op.f("ix_ar_contents_deleted_at"), "ar_contents", ["deleted_at"], unique=False)
    op.create_table(
        "scheduled_videos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("ar_content_id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at",
            name=op.f("ck_scheduled_videos_window_order"),
        ),
        sa.ForeignKeyConstraint(
            ["ar_content_id"],
            ["ar_contents.id"],
            name=op.f("fk_scheduled_videos_ar_content_id_ar_contents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_scheduled_videos_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_scheduled_videos_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_videos")),
    )
    op.create_index(
        op.f("ix_scheduled_videos_ar_content_id"),
        "scheduled_videos",
        ["ar_content_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_scheduled_videos_company_id"), "scheduled_videos", ["company_id"], unique=False
    )
    op.create_index(
        op.f("ix_scheduled_videos_video_id"), "scheduled_videos", ["video_id"], unique=False
    )
    op.create_table(
        "video_daily_stats",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column("completions", sa.BigInteger(), nullable=False),
        sa.Column("watch_seconds", sa.Double(), nullable=False),
        sa.Column("unique_devices", sa.BigInteger(), nullable=False),
        sa.Column("rolled_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_video_daily_stats_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_video_daily_stats_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("video_id", "day", name=op.f("pk_video_daily_stats")),
    )
    op.create_index(
        op.f("ix_video_daily_stats_company_id"), "video_daily_stats", ["company_id"], unique=False
    )
    op.create_table(
        "video_events",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "play",
                "pause",
                "complete",
                "progress",
                name="playback_event_kind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("watched_seconds", sa.Double(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_video_events_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_video_events_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("video_id", "event_id", name=op.f("pk_video_events")),
    )
    op.create_index(
        op.f("ix_video_events_company_id"), "video_events", ["company_id"], unique=False
    )
    op.create_index(op.f("ix_video_events_day"), "video_events", ["day"], unique=False)
    op.create_index(
        "ix_video_events_video_id_day", "video_events", ["video_id", "day"], unique=False
    )
    op.create_table(
        "video_stats_backlog",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_video_stats_backlog_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_video_stats_backlog_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("video_id", "day", name=op.f("pk_video_stats_backlog")),
    )
    op.create_index(
        op.f("ix_video_stats_backlog_company_id"),
        "video_stats_backlog",
        ["company_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_video_stats_backlog_company_id"), table_name="video_stats_backlog")
    op.drop_table("video_stats_backlog")
    op.drop_index("ix_video_events_video_id_day", table_name="video_events")
    op.drop_index(op.f("ix_video_events_day"), table_name="video_events")
    op.drop_index(op.f("ix_video_events_company_id"), table_name="video_events")
    op.drop_table("video_events")
    op.drop_index(op.f("ix_video_daily_stats_company_id"), table_name="video_daily_stats")
    op.drop_table("video_daily_stats")
    op.drop_index(op.f("ix_scheduled_videos_video_id"), table_name="scheduled_videos")
    op.drop_index(op.f("ix_scheduled_videos_company_id"), table_name="scheduled_videos")
    op.drop_index(op.f("ix_scheduled_videos_ar_content_id"), table_name="scheduled_videos")
    op.drop_table("scheduled_videos")
    op.drop_index(op.f("ix_ar_contents_deleted_at"), table_name="ar_contents")
    op.drop_index(op.f("ix_ar_contents_company_id"), table_name="ar_contents")
    op.drop_table("ar_contents")
