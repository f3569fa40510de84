"""Markers (one row per upload, processed under the job lease) and published versions of
AR contents, with the videos each version schedules

Revision ID: 0d72c6ee18bc
Revises: e0a9962ed5ae
Create Date: 2026-11-29 12:58:59.735088+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0d72c6ee18bc"
down_revision: str | None = "e0a9962ed5ae"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "markers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("ar_content_id", sa.Uuid(), nullable=False),
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "processing",
                "ready",
                "rejected",
                "failed",
                name="marker_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("width_mm", sa.Integer(), nullable=False),
        sa.Column("rejection_code", sa.String(length=32), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("image_key", sa.String(length=1024), nullable=True),
        sa.Column("preview_key", sa.String(length=1024), nullable=True),
        sa.Column("heatmap_key", sa.String(length=1024), nullable=True),
        sa.Column("mind_key", sa.String(length=1024), nullable=True),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("matching_points", sa.Integer(), nullable=True),
        sa.Column("tracking_points", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ar_content_id"],
            ["ar_contents.id"],
            name=op.f("fk_markers_ar_content_id_ar_contents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_markers_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_markers_file_id_files"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_markers_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_markers")),
    )
    op.create_index(op.f("ix_markers_ar_content_id"), "markers", ["ar_content_id"], unique=False)
    op.create_index(op.f("ix_markers_company_id"), "markers", ["company_id"], unique=False)
    op.create_index(op.f("ix_markers_project_id"), "markers", ["project_id"], unique=False)
    op.create_table(
        "ar_content_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("ar_content_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("marker_id", sa.Uuid(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("published_by_id", sa.Uuid(), nullable=True),
        sa.Column("copied_from", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ar_content_id"],
            ["ar_contents.id"],
            name=op.f("fk_ar_content_versions_ar_content_id_ar_contents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_ar_content_versions_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["marker_id"],
            ["markers.id"],
            name=op.f("fk_ar_content_versions_marker_id_markers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_ar_content_versions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["users.id"],
            name=op.f("fk_ar_content_versions_published_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ar_content_versions")),
        sa.UniqueConstraint(
            "ar_content_id", "number", name=op.f("uq_ar_content_versions_ar_content_id_number")
        ),
    )
    op.create_index(
        op.f("ix_ar_content_versions_ar_content_id"),
        "ar_content_versions",
        ["ar_content_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ar_content_versions_company_id"),
        "ar_content_versions",
        ["company_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ar_content_versions_project_id"),
        "ar_content_versions",
        ["project_id"],
        unique=False,
    )
    op.create_table(
        "ar_content_version_videos",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("video_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_ar_content_version_videos_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["ar_content_versions.id"],
            name=op.f("fk_ar_content_version_videos_version_id_ar_content_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_ar_content_version_videos_video_id_videos"),
        ),
        sa.PrimaryKeyConstraint(
            "version_id", "video_id", name=op.f("pk_ar_content_version_videos")
        ),
    )
    op.create_index(
        op.f("ix_ar_content_version_videos_company_id"),
        "ar_content_version_videos",
        ["company_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ar_content_version_videos_video_id"),
        "ar_content_version_videos",
        ["video_id"],
        unique=False,
    )
    op.add_column("ar_contents", sa.Column("published_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("ar_contents", "published_version")
    op.drop_index(
        op.f("ix_ar_content_version_videos_video_id"), table_name="ar_content_version_videos"
    )
    op.drop_index(
        op.f("ix_ar_content_version_videos_company_id"), table_name="ar_content_version_videos"
    )
    op.drop_table("ar_content_version_videos")
    op.drop_index(op.f("ix_ar_content_versions_project_id"), table_name="ar_content_versions")
    op.drop_index(op.f("ix_ar_content_versions_company_id"), table_name="ar_content_versions")
    op.drop_index(op.f("ix_ar_content_versions_ar_content_id"), table_name="ar_content_versions")
    op.drop_table("ar_content_versions")
    op.drop_index(op.f("ix_markers_project_id"), table_name="markers")
    op.drop_index(op.f("ix_markers_company_id"), table_name="markers")
    op.drop_index(op.f("ix_markers_ar_content_id"), table_name="markers")
    op.drop_table("markers")
