"""files videos renditions jobs

Revision ID: 1da017481fd5
Revises: c3e35cd88073
Create Date: 2026-11-21 22:59:32.653018+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1da017481fd5"
down_revision: str | None = "c3e35cd88073"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("uploading", "available", name="file_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("upload_id", sa.String(length=1024), nullable=True),
        sa.Column("part_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("upload_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uploaded_by_id", sa.Uuid(), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_files_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_files_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_files_storage_key")),
    )
    op.create_index(op.f("ix_files_company_id"), "files", ["company_id"], unique=False)
    op.create_index("ix_files_company_id_status", "files", ["company_id", "status"], unique=False)
    op.create_index(op.f("ix_files_deleted_at"), "files", ["deleted_at"], unique=False)
    op.create_index(
        "ix_files_status_upload_expires_at", "files", ["status", "upload_expires_at"], unique=False
    )
    op.create_table(
        "videos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "uploaded",
                "processing",
                "playable",
                "ready",
                "failed",
                "cancelled",
                name="video_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "stage",
            sa.Enum(
                "queued",
                "download",
                "probe",
                "playable",
                "ladder",
                "hls",
                "stills",
                "finalize",
                name="pipeline_stage",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column(
            "failed_stage",
            sa.Enum(
                "queued",
                "download",
                "probe",
                "playable",
                "ladder",
                "hls",
                "stills",
                "finalize",
                name="pipeline_stage",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("rotation", sa.Integer(), nullable=True),
        sa.Column("has_audio", sa.Boolean(), nullable=True),
        sa.Column("source_codec", sa.String(length=32), nullable=True),
        sa.Column("source_is_standard", sa.Boolean(), nullable=True),
        sa.Column("probe", sa.JSON(), nullable=True),
        sa.Column("poster_at_seconds", sa.Double(), nullable=True),
        sa.Column("poster_key", sa.String(length=1024), nullable=True),
        sa.Column("thumbnail_keys", sa.JSON(), nullable=False),
        sa.Column("storyboard_key", sa.String(length=1024), nullable=True),
        sa.Column("storyboard_vtt_key", sa.String(length=1024), nullable=True),
        sa.Column("hls_master_key", sa.String(length=1024), nullable=True),
        sa.Column("playable_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_videos_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_videos_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_videos_file_id_files"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_videos")),
    )
    op.create_index(op.f("ix_videos_company_id"), "videos", ["company_id"], unique=False)
    op.create_index(op.f("ix_videos_deleted_at"), "videos", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_videos_status"), "videos", ["status"], unique=False)
    op.create_table(
        "video_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "process", "rendition", "poster", name="job_kind", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("target", sa.String(length=16), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                "cancelled",
                name="job_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_video_jobs_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_video_jobs_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_jobs")),
    )
    op.create_index(op.f("ix_video_jobs_company_id"), "video_jobs", ["company_id"], unique=False)
    op.create_index(
        "ix_video_jobs_status_queued_at", "video_jobs", ["status", "queued_at"], unique=False
    )
    op.create_index(op.f("ix_video_jobs_video_id"), "video_jobs", ["video_id"], unique=False)
    op.create_index(
        "uq_video_jobs_active_video",
        "video_jobs",
        ["video_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
        sqlite_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_table(
        "video_renditions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("short_side", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "encoding",
                "done",
                "failed",
                name="rendition_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("is_copy", sa.Boolean(), nullable=False),
        sa.Column("percent", sa.Double(), nullable=False),
        sa.Column("eta_seconds", sa.Double(), nullable=True),
        sa.Column("bitrate_kbps", sa.Integer(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("mp4_key", sa.String(length=1024), nullable=True),
        sa.Column("hls_playlist_key", sa.String(length=1024), nullable=True),
        sa.Column("hls_variant", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_video_renditions_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_video_renditions_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_renditions")),
        sa.UniqueConstraint("video_id", "name", name=op.f("uq_video_renditions_video_id_name")),
    )
    op.create_index(
        op.f("ix_video_renditions_company_id"), "video_renditions", ["company_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_video_renditions_company_id"), table_name="video_renditions")
    op.drop_table("video_renditions")
    op.drop_index(
        "uq_video_jobs_active_video",
        table_name="video_jobs",
        postgresql_where=sa.text("status IN ('queued', 'running')"),
        sqlite_where=sa.text("status IN ('queued', 'running')"),
    )
    op.drop_index(op.f("ix_video_jobs_video_id"), table_name="video_jobs")
    op.drop_index("ix_video_jobs_status_queued_at", table_name="video_jobs")
    op.drop_index(op.f("ix_video_jobs_company_id"), table_name="video_jobs")
    op.drop_table("video_jobs")
    op.drop_index(op.f("ix_videos_status"), table_name="videos")
    op.drop_index(op.f("ix_videos_deleted_at"), table_name="videos")
    op.drop_index(op.f("ix_videos_company_id"), table_name="videos")
    op.drop_table("videos")
    op.drop_index("ix_files_status_upload_expires_at", table_name="files")
    op.drop_index(op.f("ix_files_deleted_at"), table_name="files")
    op.drop_index("ix_files_company_id_status", table_name="files")
    op.drop_index(op.f("ix_files_company_id"), table_name="files")
    op.drop_table("files")
