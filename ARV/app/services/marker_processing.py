"""A marker's job on the media queue, as the system actor of the marker's company:
check and normalise the upload, compile the MindAR target (Node, one process per job),
score trackability with the target's point counts, draw the heat-map, fingerprint it and
look for near-duplicates among the company's other markers, store the outputs, and record
it all on the marker. Claimed under the one job lease, so a redelivered task never runs a
marker twice; a transient failure is retried, and after the last attempt the marker is
visibly failed with the reason (an admin can retry it). See ARV/docs/markers.md."""

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from app.background_tasks.names import MARKER_PROCESS, QUEUE_MEDIA
from app.core.config import Settings
from app.core.database import session_scope
from app.core.storage import StorageError, StorageProvider
from app.models.ar_content import ARContent
from app.models.marker import Marker, MarkerStatus
from app.models.project import Project
from app.models.storage import StoredFile
from app.services import leases, notifications
from app.services.leases import WORKER_STOPPED, Outcome, gave_up, retry_delay
from app.services.object_keys import MarkerKeys
from app.services.tenant import ScopedService, system_scope
from app.utils.clock import utcnow
from app.utils.marker_image import MarkerImageRejected, PreparedMarker, prepare_marker
from app.utils.marker_match import fingerprint, match
from app.utils.marker_score import feature_heatmap, score_marker
from app.utils.mind_compiler import CompiledTarget, MindCompileError, compile_mind_target
from app.utils.subprocesses import WorkerStopping

logger = logging.getLogger(__name__)

# Uploads larger than this are not read into memory: no sensible marker image is.
MAX_UPLOAD_BYTES = 40 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Claimed:
    marker_id: uuid.UUID
    company_id: uuid.UUID
    content_id: uuid.UUID
    source_key: str
    source_bytes: int
    attempts: int
    max_attempts: int


@dataclass(frozen=True, slots=True)
class Processed:
    prepared: PreparedMarker
    target: CompiledTarget
    report: dict[str, Any]
    score: int
    stars: int
    fingerprint: bytes
    heatmap: bytes
    seconds: dict[str, float]


class TargetCompiler(Protocol):
    """What compiles a normalised marker into a MindAR target: `compile_mind_target` (the
    marker tests pass one that compiles each distinct image once)."""

    def __call__(
        self,
        image_jpeg: bytes,
        *,
        timeout_seconds: float,
        memory_limit_mb: int,
        node_binary: str | None = None,
    ) -> CompiledTarget: ...


class MarkerProcessor:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        storage: StorageProvider,
        settings: Settings,
        *,
        compiler: TargetCompiler = compile_mind_target,
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.settings = settings
        self.compiler = compiler

    def run(self, marker_id: uuid.UUID, task_id: str) -> Outcome:
        claimed = self._claim(marker_id, task_id)
        if claimed is None:
            return Outcome("skipped")
        try:
            processed = self._process(claimed)
            finished = self._store_and_finish(claimed, task_id, processed)
        except WorkerStopping:
            # Not the marker's fault: the attempt is refunded and the message goes back.
            with session_scope(self.sessions) as db:
                leases.hand_back(db, Marker, marker_id, task_id, WORKER_STOPPED)
            raise
        except MarkerImageRejected as rejected:
            self._reject(claimed, task_id, rejected)
            return Outcome("rejected")
        except (MindCompileError, StorageError, OSError) as error:
            logger.warning(
                "marker attempt failed",
                extra={"marker_id": str(marker_id), "error": str(error)},
            )
            return self._retry_or_fail(claimed, task_id, _reason_shown(error))
        # Lost: the lease ran out meanwhile, and the marker is another delivery's.
        return Outcome("ready" if finished else "lost")

    def recover_lost(self, now: datetime) -> dict[str, int]:
        """The watchdog: re-send markers whose worker died (their lease ran out before
        `now`), and fail those with no attempt left, with the last error."""
        recovery = leases.requeue_expired(self.sessions, Marker, MARKER_PROCESS, QUEUE_MEDIA, now)
        failed = sum(self.give_up(marker_id) for marker_id in recovery.exhausted)
        return {"requeued": len(recovery.requeued), "failed": failed}

    def give_up(self, marker_id: uuid.UUID) -> bool:
        """The watchdog's call for a marker out of attempts whose worker died."""
        with session_scope(self.sessions) as db:
            marker = db.get(Marker, marker_id, with_for_update=True)
            if marker is None or marker.status is not MarkerStatus.PROCESSING:
                return False
            reason = gave_up(marker.attempts, marker.last_error or "the worker stopped")
            leases.fail(marker, reason)
            marker.failure_reason = reason
            company_id = marker.company_id
        self._discard(company_id, marker_id)
        return True

    def _claim(self, marker_id: uuid.UUID, task_id: str) -> Claimed | None:
        with session_scope(self.sessions) as db:
            marker = leases.claim(
                db, Marker, marker_id, task_id, self.settings.MARKER_JOB_LEASE_SECONDS
            )
            if marker is None:
                return None
            scope = self._scope(db, marker_id)
            source = scope.get_owned(StoredFile, marker.file_id, "File")
            return Claimed(
                marker_id=marker.id,
                company_id=marker.company_id,
                content_id=marker.ar_content_id,
                source_key=source.storage_key,
                source_bytes=source.size_bytes,
                attempts=marker.attempts,
                max_attempts=marker.max_attempts,
            )

    def _process(self, claimed: Claimed) -> Processed:
        if claimed.source_bytes > MAX_UPLOAD_BYTES:
            raise MarkerImageRejected(
                "too_large",
                f"The file is {claimed.source_bytes // (1024 * 1024)} MB; a marker image must "
                f"be under {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
            )
        with self.storage.open_read(claimed.source_key) as source:
            prepared = prepare_marker(source.read())
        started = time.monotonic()
        target = self.compiler(
            prepared.normalised_jpeg,
            timeout_seconds=self.settings.MIND_COMPILE_TIMEOUT_SECONDS,
            memory_limit_mb=self.settings.MIND_COMPILE_MEMORY_MB,
            node_binary=self.settings.NODE_BINARY,
        )
        compiled_at = time.monotonic()
        report = score_marker(prepared.normalised_jpeg, tracking_points=target.tracking_points)
        heatmap = feature_heatmap(prepared.normalised_jpeg)
        prints = fingerprint(prepared.normalised_jpeg)
        scored_at = time.monotonic()
        return Processed(
            prepared=prepared,
            target=target,
            report=report.to_json(),
            score=report.score,
            stars=report.stars,
            fingerprint=prints,
            heatmap=heatmap,
            seconds={
                "compile": round(compiled_at - started, 3),
                "score": round(scored_at - compiled_at, 3),
            },
        )

    def _store_and_finish(self, claimed: Claimed, task_id: str, done: Processed) -> bool:
        """Store the outputs, then make the marker ready; False if the lease ran out
        meanwhile and another delivery holds the marker. Its outputs are then left alone:
        every delivery writes the same keys, and the one that finishes links to them
        (deleting them here could take a ready marker's files away)."""
        keys = MarkerKeys(claimed.company_id, claimed.marker_id)
        outputs = (
            (keys.image, done.prepared.normalised_jpeg, "image/jpeg"),
            (keys.preview, done.prepared.preview_jpeg, "image/jpeg"),
            (keys.heatmap, done.heatmap, "image/png"),
            (keys.mind_target, done.target.data, "application/octet-stream"),
        )
        # Every attempt writes the same keys: a retry overwrites what a failed one left, and
        # a marker that ends failed has them deleted (`_discard`).
        stored = sum(
            self.storage.put_bytes(key, data, content_type) for key, data, content_type in outputs
        )
        with session_scope(self.sessions) as db:
            scope = self._scope(db, claimed.marker_id)
            duplicates = _near_duplicates(scope, claimed, done.fingerprint)
            report = {
                **done.report,
                "duplicates": duplicates,
                "warnings": [warning._asdict() for warning in done.prepared.warnings],
                "original_size": [done.prepared.original_width, done.prepared.original_height],
                "seconds": done.seconds,
            }
            finished = leases.finish(
                db,
                Marker,
                claimed.marker_id,
                task_id,
                MarkerStatus.READY,
                width=done.prepared.width,
                height=done.prepared.height,
                sha256=done.prepared.sha256,
                image_key=keys.image,
                preview_key=keys.preview,
                heatmap_key=keys.heatmap,
                mind_key=keys.mind_target,
                stored_bytes=stored,
                score=done.score,
                stars=done.stars,
                report=report,
                matching_points=done.target.matching_points,
                tracking_points=done.target.tracking_points,
                fingerprint=done.fingerprint,
                processed_at=utcnow(),
                failure_reason=None,
                last_error=None,
            )
            if finished:
                self._tell_scored(scope, claimed.marker_id, done)
            return finished

    def _tell_scored(self, scope: ScopedService, marker_id: uuid.UUID, done: Processed) -> None:
        """The company's makers hear how trackable their print is."""
        marker = scope.get_owned(Marker, marker_id, "Marker")
        content = scope.get_owned(ARContent, marker.ar_content_id, "ARContent")
        verdict = f"{done.stars} of 5 stars for tracking."
        notifications.emit(
            scope.db,
            self.settings,
            "marker.scored",
            {
                "marker_id": str(marker_id),
                "title": content.title,
                "score": done.score,
                "verdict": verdict,
            },
            company_id=content.company_id,
            link=notifications.app_link(self.settings, content.company_id, "contents", content.id),
        )

    def _discard(self, company_id: uuid.UUID, marker_id: uuid.UUID) -> None:
        """Delete what the attempts of a marker that ended failed stored; best effort."""
        prefix = MarkerKeys(company_id, marker_id).prefix
        try:
            self.storage.delete_prefix(prefix)
        except (StorageError, OSError):
            logger.warning("failed marker's outputs left behind", extra={"prefix": prefix})

    def _reject(self, claimed: Claimed, task_id: str, rejected: MarkerImageRejected) -> None:
        with session_scope(self.sessions) as db:
            leases.finish(
                db,
                Marker,
                claimed.marker_id,
                task_id,
                MarkerStatus.REJECTED,
                rejection_code=rejected.code,
                failure_reason=rejected.message,
                processed_at=utcnow(),
            )

    def _retry_or_fail(self, claimed: Claimed, task_id: str, reason: str) -> Outcome:
        if claimed.attempts < claimed.max_attempts:
            with session_scope(self.sessions) as db:
                leases.release(db, Marker, claimed.marker_id, task_id, reason)
            delay = retry_delay(claimed.attempts)
            return Outcome("retry", retry_in=delay)
        final = gave_up(claimed.attempts, reason)
        with session_scope(self.sessions) as db:
            failed = leases.finish(
                db,
                Marker,
                claimed.marker_id,
                task_id,
                MarkerStatus.FAILED,
                last_error=final,
                failure_reason=final,
            )
        if failed:  # (not failed: the lease was lost, and the marker is another delivery's)
            logger.warning(
                "marker failed", extra={"marker_id": str(claimed.marker_id), "reason": final}
            )
            self._discard(claimed.company_id, claimed.marker_id)
        return Outcome("failed")

    def _scope(self, db: Session, marker_id: uuid.UUID) -> ScopedService:
        scope = system_scope(db, Marker, marker_id, MARKER_PROCESS)
        if scope is None:
            raise LookupError(f"marker {marker_id} is gone")
        return scope


def _near_duplicates(scope: ScopedService, claimed: Claimed, prints: bytes) -> list[dict[str, Any]]:
    """The company's other contents whose newest processed marker looks like this one
    (contents deleted, or in a deleted project, are gone: they never play)."""
    live_projects = scope.scoped(Project).with_only_columns(Project.id)
    other_contents = (
        scope.scoped(ARContent)
        .with_only_columns(ARContent.id)
        .where(ARContent.id != claimed.content_id, ARContent.project_id.in_(live_projects))
    )
    candidates = scope.db.execute(
        scope.scoped(Marker)
        .with_only_columns(Marker.id, Marker.ar_content_id, Marker.fingerprint)
        .where(
            Marker.ar_content_id.in_(other_contents),
            Marker.status == MarkerStatus.READY,
        )
        .order_by(Marker.ar_content_id, Marker.created_at.desc(), Marker.id.desc())
    ).all()
    newest: dict[uuid.UUID, tuple[uuid.UUID, bytes]] = {}
    for marker_id, content_id, other_prints in candidates:
        if other_prints is not None:
            newest.setdefault(content_id, (marker_id, other_prints))
    matches = {
        content_id: (marker_id, result.inliers)
        for content_id, (marker_id, other_prints) in newest.items()
        if (result := match(prints, other_prints)).is_duplicate
    }
    # Ids only: who may read this marker may not see every project; the titles are
    # looked up for each reader (`MarkerService.view`).
    return [
        {"marker_id": str(marker_id), "content_id": str(content_id), "inliers": inliers}
        for content_id, (marker_id, inliers) in sorted(matches.items())
    ]


def _reason_shown(error: Exception) -> str:
    """What the admin is told: the kind of failure, never a worker's paths or output (the
    log has those)."""
    if isinstance(error, MindCompileError):
        return {
            "timeout": "compiling the tracker target took too long",
            "out_of_memory": "compiling the tracker target ran out of memory",
        }.get(error.reason, "the tracker compiler failed")
    return "storage was unavailable"
