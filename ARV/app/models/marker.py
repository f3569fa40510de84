"""Markers: the printed image a tracker looks for, checked, scored for trackability and
compiled for trackers by one job per upload. A marker row is immutable once processed: a
new upload makes a new marker, and published versions keep pointing at theirs."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantOwned, Timestamped, UUIDPrimaryKey, string_enum
from app.models.lease import Leased, LeaseStates
from app.models.project import InProject


class MarkerStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    # The image cannot be a marker (CMYK, too small...): `rejection_code` says why.
    REJECTED = "rejected"
    # Processing broke (a compile that timed out, storage down) after its attempts.
    FAILED = "failed"


class Marker(UUIDPrimaryKey, TenantOwned, InProject, Leased, Timestamped, Base):
    __tablename__ = "markers"
    lease_states = LeaseStates(
        waiting=MarkerStatus.QUEUED,
        held=MarkerStatus.PROCESSING,
        done=MarkerStatus.READY,
        failed=MarkerStatus.FAILED,
    )

    ar_content_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ar_contents.id", ondelete="CASCADE"), index=True
    )
    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("files.id", ondelete="RESTRICT"))
    status: Mapped[MarkerStatus] = mapped_column(string_enum(MarkerStatus, "marker_status"))
    width_mm: Mapped[int]
    rejection_code: Mapped[str | None] = mapped_column(String(32))
    # The normalised image every tracker input is made from (sRGB JPEG, long side <= 1000).
    width: Mapped[int | None]
    height: Mapped[int | None]
    sha256: Mapped[str | None] = mapped_column(String(64))
    image_key: Mapped[str | None] = mapped_column(String(1024))
    preview_key: Mapped[str | None] = mapped_column(String(1024))
    heatmap_key: Mapped[str | None] = mapped_column(String(1024))
    mind_key: Mapped[str | None] = mapped_column(String(1024))
    # What the outputs above take in storage, for the company's quota.
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    score: Mapped[int | None]
    stars: Mapped[int | None]
    # Sub-scores, hints, warnings, keypoint figures and timings, as shown to the admin.
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # From the compiled MindAR target: no tracking points means it cannot track.
    matching_points: Mapped[int | None]
    tracking_points: Mapped[int | None]
    # ORB keypoints and descriptors, compared with the company's other markers.
    fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary)
    processed_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(Text)
