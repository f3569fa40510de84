"""Markers as admins handle them: upload one for an AR content (it replaces the current
one, processed on the media queue), read the current one with its score, hints and
links, see the history, retry one whose processing failed."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from app.background_tasks.names import MARKER_PROCESS, QUEUE_MEDIA
from app.core.config import Settings
from app.core.exceptions import (
    MarkerNotRetryableError,
    MarkerWidthRequiredError,
    NotAnImageError,
    NotFoundError,
    UploadIncompleteError,
)
from app.core.task_queue import enqueue_after_commit
from app.models.ar_content import ARContent
from app.models.marker import Marker, MarkerStatus
from app.models.storage import FileStatus, StoredFile
from app.services import leases
from app.services.ar_content_service import ARContentService
from app.services.media_delivery import MediaDelivery
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.project_scope import ProjectScopedService
from app.services.storage_usage import FileUse
from app.services.tenant import ScopedService, company_wide
from app.utils.clock import utcnow
from app.utils.marker_image import ACCEPTED_TYPES

MARKER_ENTITY = "Marker"
HIDDEN_CONTENT = "a content in a project you cannot see"


@dataclass(frozen=True, slots=True)
class MarkerLinks:
    expires_at: datetime
    image: str | None
    preview: str | None
    heatmap: str | None
    mind_target: str | None


@dataclass(frozen=True, slots=True)
class Duplicate:
    marker_id: uuid.UUID
    content_id: uuid.UUID
    content_title: str
    inliers: int


@dataclass(frozen=True, slots=True)
class MarkerView:
    """A marker as one reader is shown it: near-duplicates in projects the reader cannot
    see are only counted, never named."""

    marker: Marker
    links: MarkerLinks | None
    duplicates: list[Duplicate]
    hidden_duplicates: int
    hints: list[dict[str, str]]


def queue_processing(db: Session, marker: Marker, settings: Settings) -> None:
    """Send the marker's job once the transaction commits, under a new task id."""
    marker.max_attempts = settings.MARKER_JOB_MAX_ATTEMPTS
    marker.task_id = leases.restart(marker)
    db.flush()  # a new marker's id is given on insert; the task names it
    enqueue_after_commit(
        db, MARKER_PROCESS, [str(marker.id)], queue=QUEUE_MEDIA, task_id=marker.task_id
    )


def markers_of(scope: ScopedService, content_id: uuid.UUID) -> Select[Any]:
    """A content's markers as `scope` may read them, newest first: the newest upload is
    the content's current marker."""
    return (
        scope.scoped(Marker)
        .where(Marker.ar_content_id == content_id)
        .order_by(Marker.created_at.desc(), Marker.id.desc())
    )


def current_marker(scope: ScopedService, content_id: uuid.UUID) -> Marker | None:
    marker: Marker | None = scope.db.scalar(markers_of(scope, content_id).limit(1))
    return marker


class MarkerService(ProjectScopedService):
    def upload(self, content_id: uuid.UUID, file_id: uuid.UUID, width_mm: int | None) -> Marker:
        content = self._contents().writable(content_id)
        # Locked: a concurrent delete of the file waits, then sees this marker using it.
        source = self.get_owned(StoredFile, file_id, "File", for_update=True)
        if source.status != FileStatus.AVAILABLE:
            raise UploadIncompleteError("The file is still uploading; complete the upload first.")
        if source.content_type not in ACCEPTED_TYPES:
            raise NotAnImageError(
                f"A marker is a JPEG, PNG or WebP image; this file is {source.content_type}.",
                details={"content_type": source.content_type},
            )
        width = width_mm or self.project.default_marker_width_mm
        if width is None:
            raise MarkerWidthRequiredError()
        marker = Marker(
            company_id=self.ctx.company_id,
            project_id=self.project.id,
            ar_content_id=content.id,
            file_id=source.id,
            width_mm=width,
            status=MarkerStatus.QUEUED,
            report={},
        )
        self.db.add(marker)
        queue_processing(self.db, marker, self.settings)
        self._audit("marker.uploaded", marker)
        return marker

    def current(self, content_id: uuid.UUID) -> Marker:
        self._contents().get(content_id)
        marker = current_marker(self, content_id)
        if marker is None:
            raise NotFoundError(
                "This AR content has no marker yet; upload one.",
                details={"entity": MARKER_ENTITY, "content_id": str(content_id)},
            )
        return marker

    def get(self, content_id: uuid.UUID, marker_id: uuid.UUID) -> Marker:
        self._contents().get(content_id)
        marker: Marker | None = self.db.scalar(
            markers_of(self, content_id).where(Marker.id == marker_id)
        )
        if marker is None:
            raise NotFoundError.for_entity(MARKER_ENTITY, marker_id)
        return marker

    def history(self, content_id: uuid.UUID, params: PageParams) -> ResultPage[Marker]:
        self._contents().get(content_id)
        return paginate(self.db, markers_of(self, content_id), params)

    def retry(self, content_id: uuid.UUID, marker_id: uuid.UUID) -> Marker:
        self._contents().writable(content_id)
        marker = self.get(content_id, marker_id)
        if not (marker.status is MarkerStatus.FAILED or self._stuck_in_queue(marker)):
            raise MarkerNotRetryableError(
                f"Only a marker whose processing failed, or that has waited in the queue "
                f"longer than a job may take, can be retried; this one is {marker.status.value}.",
                details={"status": marker.status.value},
            )
        marker.failure_reason = None
        queue_processing(self.db, marker, self.settings)
        self._audit("marker.retried", marker)
        return marker

    def _stuck_in_queue(self, marker: Marker) -> bool:
        """Queued for longer than a job's lease: its message was lost on the way."""
        waited = utcnow() - marker.updated_at
        return marker.status is MarkerStatus.QUEUED and waited > timedelta(
            seconds=self.settings.MARKER_JOB_LEASE_SECONDS
        )

    def view(self, marker: Marker, *, with_links: bool = True) -> MarkerView:
        """The marker for this reader; links (once ready) unless `with_links` is false."""
        found: list[dict[str, Any]] = (marker.report or {}).get("duplicates", [])
        ids = [uuid.UUID(entry["content_id"]) for entry in found]
        titles = self._visible_titles(ids) if ids else {}
        duplicates = [
            Duplicate(
                marker_id=uuid.UUID(entry["marker_id"]),
                content_id=content_id,
                content_title=titles[content_id],
                inliers=entry["inliers"],
            )
            for entry, content_id in zip(found, ids, strict=True)
            if content_id in titles
        ]
        hidden = len(found) - len(duplicates)
        linked = with_links and marker.status is MarkerStatus.READY
        return MarkerView(
            marker=marker,
            links=self.links(marker) if linked else None,
            duplicates=duplicates,
            hidden_duplicates=hidden,
            hints=[*(marker.report or {}).get("hints", []), *_duplicate_hints(duplicates, hidden)],
        )

    def _visible_titles(self, content_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        rows = self.db.execute(
            self.scoped(ARContent)
            .with_only_columns(ARContent.id, ARContent.title)
            .where(ARContent.id.in_(content_ids))
        ).all()
        return dict(rows)

    def links(self, marker: Marker) -> MarkerLinks:
        """Signed links to the marker's outputs, expiring together; linked as immutable,
        since a marker's outputs are written once."""
        expires_at = utcnow() + timedelta(seconds=self.settings.STORAGE_URL_TTL_SECONDS)
        delivery = MediaDelivery(self.storage, self.settings)

        def link(key: str | None) -> str | None:
            return delivery.link(key, int(expires_at.timestamp())) if key else None

        return MarkerLinks(
            expires_at=expires_at,
            image=link(marker.image_key),
            preview=link(marker.preview_key),
            heatmap=link(marker.heatmap_key),
            mind_target=link(marker.mind_key),
        )

    def _contents(self) -> ARContentService:
        return ARContentService(self.db, self.ctx, self.project, self.storage, self.settings)

    def _audit(self, action: str, marker: Marker) -> None:
        self.audit(
            action,
            "marker",
            marker.id,
            {"ar_content_id": str(marker.ar_content_id), "width_mm": marker.width_mm},
        )


def _duplicate_hints(duplicates: list[Duplicate], hidden: int) -> list[dict[str, str]]:
    why = "two contents would fight over one print: use a different picture, or unpublish one."
    named = [
        f"Looks like the marker of {duplicate.content_title!r}: {why}" for duplicate in duplicates
    ]
    if hidden:
        named.append(f"Looks like a marker in a project you cannot see: {why}")
    return [{"code": "looks_like_another_marker", "message": message} for message in named]


def file_uses(scope: ScopedService, file_id: uuid.UUID) -> list[FileUse]:
    """Markers made from the file (which then cannot be deleted), in the whole company;
    those in projects the reader cannot see are not named."""
    company = company_wide(scope, "markers.file_uses")
    rows = company.db.execute(
        company.scoped(Marker)
        .with_only_columns(Marker.id, Marker.ar_content_id)
        .where(Marker.file_id == file_id)
    ).all()
    visible = scope.scoped(ARContent).with_only_columns(ARContent.id, ARContent.title)
    titles = dict(scope.db.execute(visible.where(ARContent.id.in_([row[1] for row in rows]))).all())
    return [
        FileUse(kind="marker", id=marker_id, name=titles.get(content_id, HIDDEN_CONTENT))
        for marker_id, content_id in rows
    ]


def stored_bytes(scope: ScopedService) -> int:
    """What the company's markers' outputs take in storage."""
    company = company_wide(scope, "markers.stored_bytes")
    total = company.db.scalar(
        company.scoped(Marker).with_only_columns(func.coalesce(func.sum(Marker.stored_bytes), 0))
    )
    return int(total or 0)
