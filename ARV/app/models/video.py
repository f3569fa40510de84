"""Videos, their renditions, and the processing jobs that make them."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy import true as sql_true
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import (
    Base,
    PubliclyReadable,
    SchemaJSON,
    SoftDeletable,
    TenantOwned,
    Timestamped,
    UUIDPrimaryKey,
    string_enum,
)
from app.models.lease import Leased, LeaseStates
from app.schemas.chroma_key import ChromaKey


class VideoStatus(StrEnum):
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    # At least one rendition plays; the rest of the ladder may still be encoding.
    PLAYABLE = "playable"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PipelineStage(StrEnum):
    QUEUED = "queued"
    DOWNLOAD = "download"
    PROBE = "probe"
    PLAYABLE = "playable"
    LADDER = "ladder"
    HLS = "hls"
    STILLS = "stills"
    FINALIZE = "finalize"


class RenditionStatus(StrEnum):
    WAITING = "waiting"
    ENCODING = "encoding"
    DONE = "done"
    FAILED = "failed"


class RenditionKind(StrEnum):
    # A rung of the H.264 ladder, in HLS too on plans with it.
    LADDER = "ladder"
    # The colour over its alpha matte in one MP4 twice as tall, for WebGL viewers; not in HLS.
    STACKED_ALPHA = "stacked_alpha"


class JobKind(StrEnum):
    PROCESS = "process"
    RENDITION = "rendition"
    POSTER = "poster"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
# A video in one of these has renditions that play.
PLAYING_STATUSES = (VideoStatus.PLAYABLE, VideoStatus.READY)


class Video(UUIDPrimaryKey, TenantOwned, Timestamped, SoftDeletable, PubliclyReadable, Base):
    __tablename__ = "videos"

    @classmethod
    def public_rows(cls) -> ColumnElement[bool]:
        """Viewers report playback of a video once it has been probed (its duration known);
        the viewer manifest will narrow this to what published contents schedule."""
        return cls.duration_seconds.is_not(None)

    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("files.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[VideoStatus] = mapped_column(
        string_enum(VideoStatus, "video_status"), index=True
    )
    stage: Mapped[PipelineStage] = mapped_column(string_enum(PipelineStage, "pipeline_stage"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    failed_stage: Mapped[PipelineStage | None] = mapped_column(
        string_enum(PipelineStage, "pipeline_stage")
    )
    duration_seconds: Mapped[float | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    rotation: Mapped[int | None]
    has_audio: Mapped[bool | None]
    source_codec: Mapped[str | None] = mapped_column(String(32))
    source_is_standard: Mapped[bool | None]
    probe: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # None: the first non-black frame; otherwise the second the admin picked.
    poster_at_seconds: Mapped[float | None]
    poster_key: Mapped[str | None] = mapped_column(String(1024))
    # Keyed out into a stacked-alpha rendition when set.
    chroma_key: Mapped[ChromaKey | None] = mapped_column(SchemaJSON(ChromaKey))
    thumbnail_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    storyboard_key: Mapped[str | None] = mapped_column(String(1024))
    storyboard_vtt_key: Mapped[str | None] = mapped_column(String(1024))
    # Poster, thumbnails, storyboard and HLS master playlist as stored, for the quota.
    assets_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    hls_master_key: Mapped[str | None] = mapped_column(String(1024))
    playable_at: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class VideoRendition(UUIDPrimaryKey, TenantOwned, Timestamped, Base):
    """One rung of the ladder. Live renditions are what plays; a job re-processing a video
    that already plays builds pending ones (`live` false) and swaps them in when done."""

    __tablename__ = "video_renditions"
    __table_args__ = (UniqueConstraint("video_id", "live", "name"),)

    video_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(16))
    kind: Mapped[RenditionKind] = mapped_column(
        string_enum(RenditionKind, "rendition_kind"),
        default=RenditionKind.LADDER,
        server_default=RenditionKind.LADDER.value,
    )
    live: Mapped[bool] = mapped_column(default=True, server_default=sql_true())
    short_side: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]
    status: Mapped[RenditionStatus] = mapped_column(
        string_enum(RenditionStatus, "rendition_status")
    )
    # The source's own streams copied, not re-encoded.
    is_copy: Mapped[bool] = mapped_column(default=False)
    percent: Mapped[float] = mapped_column(default=0.0)
    eta_seconds: Mapped[float | None]
    bitrate_kbps: Mapped[int | None]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # The rendition's HLS playlist and segments as stored.
    hls_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    mp4_key: Mapped[str | None] = mapped_column(String(1024))
    hls_playlist_key: Mapped[str | None] = mapped_column(String(1024))
    # The master playlist's entry, measured from the real segments (peak bandwidth, codecs).
    hls_variant: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class VideoJob(UUIDPrimaryKey, TenantOwned, Leased, Timestamped, Base):
    """One unit of media work. A worker claims it with a conditional UPDATE that takes a
    lease; a redelivered task, or the watchdog after the lease ran out, may claim it again
    until `max_attempts` is spent."""

    __tablename__ = "video_jobs"
    __table_args__ = (
        Index("ix_video_jobs_status_queued_at", "status", "queued_at"),
        # One active job per video: re-processing waits for (or cancels) the current one.
        Index(
            "uq_video_jobs_active_video",
            "video_id",
            unique=True,
            postgresql_where=sql_text("status IN ('queued', 'running')"),
            sqlite_where=sql_text("status IN ('queued', 'running')"),
        ),
    )
    lease_states = LeaseStates(
        waiting=JobStatus.QUEUED,
        held=JobStatus.RUNNING,
        done=JobStatus.SUCCEEDED,
        failed=JobStatus.FAILED,
    )

    video_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[JobKind] = mapped_column(string_enum(JobKind, "job_kind"))
    # The rendition to re-encode, for RENDITION jobs.
    target: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[JobStatus] = mapped_column(string_enum(JobStatus, "job_status"))
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    queued_at: Mapped[datetime]

    @classmethod
    def claimable(cls, now: datetime) -> ColumnElement[bool]:
        return cls.cancel_requested.is_(False)

    @property
    def may_run_again(self) -> bool:
        return super().may_run_again and not self.cancel_requested


class VideoOutputPurge(UUIDPrimaryKey, TenantOwned, Timestamped, Base):
    """A stored output a newer one replaced: deleted from storage once `purge_after` has
    passed, when every link handed out before the switch has expired."""

    __tablename__ = "video_output_purges"

    video_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), index=True
    )
    # An object key, or a folder (ending with '/') whose every object goes.
    key: Mapped[str] = mapped_column(String(1024))
    purge_after: Mapped[datetime] = mapped_column(index=True)
