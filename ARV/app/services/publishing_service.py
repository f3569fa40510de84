"""Publishing AR contents: `draft -> published -> unpublished`, and `archived`.

A publish checks every condition at once (the content's current marker processed, scored
at least the project's threshold, compiled, not a near-duplicate of another published
marker of the company; a default video that plays) and freezes an immutable version: the
marker, a snapshot of title, description, scene settings and schedule, and the videos the
schedule names. Viewers are served the version `ARContent.published_version` names while
the draft goes on being edited. A rollback is a publish of an old version: the same
checks, then a new version equal to the old one; the draft is set back to it too (title,
description, scene, schedule; not the marker, see `rollback`).

Every step locks the content's row, so steps on one content take turns; publishes also
take turns per company (see `_checked`). See ARV/docs/api.md#publishing.
"""

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select

from app.core.exceptions import (
    ContentTransitionError,
    NotFoundError,
    PublishRefusedError,
    VideoInUseError,
)
from app.models.ar_content import (
    ARContent,
    ARContentVersion,
    ARContentVersionVideo,
    ContentStatus,
    ScheduledVideo,
)
from app.models.marker import Marker, MarkerStatus
from app.models.user import User
from app.models.video import PLAYING_STATUSES, Video
from app.schemas.publishing import (
    FieldChange,
    MarkerSnapshot,
    ScheduleDiff,
    ScheduleEntryChange,
    ScheduleEntrySnapshot,
    Snapshot,
    VersionDiff,
)
from app.services import notifications
from app.services.ar_content_service import ARContentService
from app.services.marker_service import current_marker
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.project_scope import ProjectScopedService
from app.services.tenant import ScopedService, company_wide, lock_company
from app.services.video_schedule_service import content_schedule
from app.services.viewer_service import forget_manifest
from app.utils.marker_match import match


@dataclass(frozen=True, slots=True)
class Transition:
    """A status change other than publishing: the statuses it starts from, its audit action."""

    action: str
    allowed_from: frozenset[ContentStatus]
    audited_as: str


UNPUBLISH = Transition("unpublish", frozenset({ContentStatus.PUBLISHED}), "ar_content.unpublished")
# A published content is unpublished first: archiving never takes a content off the air.
ARCHIVE = Transition(
    "archive", frozenset({ContentStatus.DRAFT, ContentStatus.UNPUBLISHED}), "ar_content.archived"
)
UNARCHIVE = Transition("unarchive", frozenset({ContentStatus.ARCHIVED}), "ar_content.unarchived")


@dataclass(frozen=True, slots=True)
class VersionView:
    number: int
    marker_id: uuid.UUID
    published_by: User | None
    copied_from: int | None
    # Whether viewers are served this version now.
    is_current: bool
    created_at: datetime
    snapshot: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a publish would freeze (the draft, or an old version for a rollback), with the
    marker it tracks and the live videos its schedule names."""

    snapshot: Snapshot
    marker: Marker | None
    videos: dict[uuid.UUID, Video]


class PublishingService(ProjectScopedService):
    def publish(self, content_id: uuid.UUID) -> VersionView:
        """A new version of the draft, served from now on: 409 `publish_refused` listing
        every unmet condition, or 409 `content_archived`."""
        content = self._contents().writable(content_id)
        version = self._freeze(content, self._draft(content, lock=True), copied_from=None)
        self._audit("ar_content.published", content, number=version.number)
        notifications.emit(
            self.db,
            self.settings,
            "content.published",
            {"content_id": str(content.id), "title": content.title, "version": version.number},
            company_id=content.company_id,
            link=notifications.app_link(self.settings, content.company_id, "contents", content.id),
        )
        return self._view(version, content, {self.ctx.user.id: self.ctx.user})

    def unpublish(self, content_id: uuid.UUID) -> ARContent:
        """Viewers are served nothing; `published_version` stays as the last one published."""
        content = self._entered(content_id, UNPUBLISH)
        return self._move(content, UNPUBLISH, ContentStatus.UNPUBLISHED)

    def archive(self, content_id: uuid.UUID) -> ARContent:
        return self._move(self._entered(content_id, ARCHIVE), ARCHIVE, ContentStatus.ARCHIVED)

    def unarchive(self, content_id: uuid.UUID) -> ARContent:
        """Back to `unpublished` if it was ever published, else to `draft`."""
        content = self._entered(content_id, UNARCHIVE)
        never_published = content.published_version is None
        status = ContentStatus.DRAFT if never_published else ContentStatus.UNPUBLISHED
        return self._move(content, UNARCHIVE, status)

    def rollback(self, content_id: uuid.UUID, number: int) -> VersionView:
        """Publish version `number` again, as a new version that copies it, after the same
        checks as a publish (the threshold may have risen, a video may be gone since).

        The draft is set back to that version as well (title, description, scene settings,
        schedule entries with their ids), so the draft and what viewers see agree again.
        Its marker stays the content's newest upload: markers are immutable upload rows,
        and the newest one is the draft's; when it differs, `diff` shows `marker`."""
        content = self._contents().writable(content_id)
        old = self._version(content.id, number)
        candidate = self._of_version(old)
        version = self._freeze(content, candidate, copied_from=old.number)
        self._restore_draft(content, candidate.snapshot)
        self._audit(
            "ar_content.rolled_back", content, number=version.number, copied_from=old.number
        )
        return self._view(version, content, {self.ctx.user.id: self.ctx.user})

    def list_versions(self, content_id: uuid.UUID, params: PageParams) -> ResultPage[VersionView]:
        """Newest first."""
        content = self._contents().get(content_id)
        statement = self._versions(content.id).order_by(ARContentVersion.number.desc())
        page = paginate(self.db, statement, params)
        publishers = self._publishers(page.items)
        return ResultPage(
            items=[self._view(version, content, publishers) for version in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    def get_version(self, content_id: uuid.UUID, number: int) -> VersionView:
        content = self._contents().get(content_id)
        version = self._version(content.id, number)
        return self._view(version, content, self._publishers([version]))

    def diff(self, content_id: uuid.UUID, number: int) -> VersionDiff:
        """What publishing the draft now would change compared with version `number`."""
        content = self._contents().get(content_id)
        version = Snapshot.model_validate(self._version(content.id, number).snapshot)
        return compare(number, version, self._draft(content, lock=False).snapshot)

    # -- steps --------------------------------------------------------------------------

    def _contents(self) -> ARContentService:
        return ARContentService(self.db, self.ctx, self.project, self.storage, self.settings)

    def _entered(self, content_id: uuid.UUID, transition: Transition) -> ARContent:
        """The content locked for `transition`; 409 when its status does not allow it (an
        archived content answers `content_archived` unless `transition` starts there)."""
        contents = self._contents()
        content = (
            contents.get(content_id, for_update=True)
            if ContentStatus.ARCHIVED in transition.allowed_from
            else contents.writable(content_id)
        )
        if content.status not in transition.allowed_from:
            allowed = sorted(status.value for status in transition.allowed_from)
            raise ContentTransitionError(
                f"An AR content that is {content.status.value} cannot be "
                f"{transition.action}d; only one that is {' or '.join(allowed)}.",
                details={
                    "status": content.status.value,
                    "action": transition.action,
                    "allowed_from": allowed,
                },
            )
        return content

    def _move(self, content: ARContent, transition: Transition, to: ContentStatus) -> ARContent:
        previous = content.status
        content.status = to
        self.db.flush()
        forget_manifest(self.db, content.public_id)
        self._audit(transition.audited_as, content, status_from=previous.value)
        return content

    def _freeze(
        self, content: ARContent, candidate: Candidate, *, copied_from: int | None
    ) -> ARContentVersion:
        marker = self._checked(content, candidate)
        number = self._last_number(content.id) + 1
        version = ARContentVersion(
            company_id=content.company_id,
            project_id=content.project_id,
            ar_content_id=content.id,
            number=number,
            marker_id=marker.id,
            snapshot=candidate.snapshot.model_dump(mode="json"),
            published_by_id=self.ctx.user.id,
            copied_from=copied_from,
        )
        self.db.add(version)
        self.db.flush()
        video_ids = sorted({entry.video_id for entry in candidate.snapshot.schedule})
        self.db.add_all(
            ARContentVersionVideo(
                company_id=content.company_id, version_id=version.id, video_id=id_
            )
            for id_ in video_ids
        )
        content.status = ContentStatus.PUBLISHED
        content.published_version = number
        self.db.flush()
        forget_manifest(self.db, content.public_id)
        return version

    def _restore_draft(self, content: ARContent, snapshot: Snapshot) -> None:
        content.title = snapshot.title
        content.description = snapshot.description
        content.scene = snapshot.scene
        wanted = {entry.id: entry for entry in snapshot.schedule}
        current = {
            row.id: row
            for row in self.db.scalars(
                self.scoped(ScheduledVideo).where(ScheduledVideo.ar_content_id == content.id)
            )
        }
        for row_id in current.keys() - wanted.keys():
            self.db.delete(current[row_id])
        for entry in snapshot.schedule:
            row = current.get(entry.id) or ScheduledVideo(
                id=entry.id, company_id=content.company_id, ar_content_id=content.id
            )
            row.video_id = entry.video_id
            row.starts_at = entry.starts_at
            row.ends_at = entry.ends_at
            row.timezone = entry.timezone
            row.priority = entry.priority
            self.db.add(row)
        self.db.flush()

    # -- what a publish would freeze ----------------------------------------------------

    def _draft(self, content: ARContent, *, lock: bool) -> Candidate:
        """The draft as a publish would freeze it. `lock` share-locks its videos: a video
        being deleted waits for the publish, then sees the new version playing it."""
        statement = content_schedule(self.ctx, content.id)
        if lock:
            statement = statement.with_for_update(read=True, of=Video)
        entries = list(self.db.scalars(statement))
        marker = current_marker(self, content.id)
        snapshot = Snapshot(
            title=content.title,
            description=content.description,
            scene=content.scene,
            marker=MarkerSnapshot.model_validate(marker) if marker else None,
            schedule=[ScheduleEntrySnapshot.model_validate(entry) for entry in entries],
        )
        return Candidate(snapshot, marker, {entry.video_id: entry.video for entry in entries})

    def _of_version(self, version: ARContentVersion) -> Candidate:
        snapshot = Snapshot.model_validate(version.snapshot)
        video_ids = {entry.video_id for entry in snapshot.schedule}
        videos = self.db.scalars(
            self.scoped(Video).where(Video.id.in_(video_ids)).with_for_update(read=True)
        )
        marker = self.get_owned(Marker, version.marker_id, "Marker")
        return Candidate(snapshot, marker, {video.id: video for video in videos})

    # -- conditions ---------------------------------------------------------------------

    def _checked(self, content: ARContent, candidate: Candidate) -> Marker:
        """The candidate's marker, once every condition holds; else 409 naming them all.
        Publishes in a company take turns (its row's lock), so two contents showing the
        same picture cannot both pass the duplicate check by each missing the other."""
        lock_company(self.db, self.ctx.company_id)
        unmet = [*self._marker_unmet(content, candidate.marker), *videos_unmet(candidate)]
        if unmet or candidate.marker is None:
            listed = "; ".join(condition["message"] for condition in unmet)
            raise PublishRefusedError(
                f"This AR content cannot be published yet: {listed}",
                details={"unmet": unmet},
            )
        return candidate.marker

    def _marker_unmet(self, content: ARContent, marker: Marker | None) -> list[dict[str, Any]]:
        if marker is None:
            return [unmet("marker_missing", "upload a marker image")]
        if marker.status is not MarkerStatus.READY:
            return [
                unmet(
                    "marker_not_ready",
                    f"the marker is {marker.status.value}, not ready",
                    marker_id=str(marker.id),
                    status=marker.status.value,
                    rejection_code=marker.rejection_code,
                )
            ]
        conditions = []
        threshold = self.project.publish_threshold
        if marker.score is None or marker.score < threshold:
            conditions.append(
                unmet(
                    "score_below_threshold",
                    f"the marker scores {marker.score} of 100, below the project's "
                    f"threshold of {threshold}",
                    score=marker.score,
                    threshold=threshold,
                )
            )
        if marker.mind_key is None:
            conditions.append(unmet("target_not_compiled", "the marker's target is not compiled"))
        conditions += [
            unmet(
                "duplicate_marker",
                f"the marker shows the same picture as the published {title!r}",
                content_id=str(other_id),
                title=title,
            )
            for other_id, title in self._published_duplicates(content, marker)
        ]
        return conditions

    def _published_duplicates(
        self, content: ARContent, marker: Marker
    ) -> list[tuple[uuid.UUID, str]]:
        """The company's other published contents, in any project, whose served marker
        shows the same picture."""
        if marker.fingerprint is None:
            return []
        company = company_wide(self, "publishing.duplicate_markers")
        served = (
            company.scoped(ARContent)
            .with_only_columns(ARContent.id, ARContent.title, Marker.fingerprint)
            .join_from(
                ARContent,
                ARContentVersion,
                ARContentVersion.served_by_its_content(),
            )
            .join(Marker, Marker.id == ARContentVersion.marker_id)
            .where(
                ARContent.status == ContentStatus.PUBLISHED,
                ARContent.id != content.id,
            )
            .order_by(ARContent.title, ARContent.id)
        )
        return [
            (other_id, title)
            for other_id, title, fingerprint in self.db.execute(served)
            if fingerprint is not None and match(marker.fingerprint, fingerprint).is_duplicate
        ]

    # -- reading versions ---------------------------------------------------------------

    def _versions(self, content_id: uuid.UUID) -> Select[Any]:
        return self.scoped(ARContentVersion).where(ARContentVersion.ar_content_id == content_id)

    def _version(self, content_id: uuid.UUID, number: int) -> ARContentVersion:
        version: ARContentVersion | None = self.db.scalar(
            self._versions(content_id).where(ARContentVersion.number == number)
        )
        if version is None:
            raise NotFoundError.for_entity("AR content version", number)
        return version

    def _last_number(self, content_id: uuid.UUID) -> int:
        last = self.db.scalar(
            self._versions(content_id).with_only_columns(func.max(ARContentVersion.number))
        )
        return int(last or 0)

    def _publishers(self, versions: Sequence[ARContentVersion]) -> dict[uuid.UUID, User]:
        ids = {version.published_by_id for version in versions if version.published_by_id}
        return {user.id: user for user in self.db.scalars(select(User).where(User.id.in_(ids)))}

    def _view(
        self, version: ARContentVersion, content: ARContent, publishers: dict[uuid.UUID, User]
    ) -> VersionView:
        publisher_id = version.published_by_id
        return VersionView(
            number=version.number,
            marker_id=version.marker_id,
            published_by=publishers.get(publisher_id) if publisher_id else None,
            copied_from=version.copied_from,
            is_current=content.status is ContentStatus.PUBLISHED
            and content.published_version == version.number,
            created_at=version.created_at,
            snapshot=version.snapshot,
        )

    def _audit(self, action: str, content: ARContent, **changes: Any) -> None:
        self.audit(
            action,
            "ar_content",
            content.id,
            {"title": content.title, "project_id": str(self.project.id), **changes},
        )


def unmet(code: str, message: str, **details: Any) -> dict[str, Any]:
    """One unmet condition of `details.unmet`."""
    return {"code": code, "message": message, **details}


def videos_unmet(candidate: Candidate) -> list[dict[str, Any]]:
    """The schedule's conditions: every video still there, and a default video (no window)
    that plays."""
    schedule, videos = candidate.snapshot.schedule, candidate.videos
    gone = sorted({entry.video_id for entry in schedule} - videos.keys())
    conditions = [
        unmet("video_deleted", "a scheduled video was deleted", video_id=str(video_id))
        for video_id in gone
    ]
    defaults = [
        videos[entry.video_id]
        for entry in schedule
        if entry.starts_at is None and entry.ends_at is None and entry.video_id in videos
    ]
    if not defaults:
        conditions.append(
            unmet("default_video_missing", "schedule a default video (one with no window)")
        )
    elif not any(video.status in PLAYING_STATUSES for video in defaults):
        conditions.append(
            unmet(
                "default_video_not_playable",
                "the default video does not play yet",
                videos=[
                    {"id": str(video.id), "title": video.title, "status": video.status.value}
                    for video in defaults
                ],
            )
        )
    return conditions


def compare(number: int, version: Snapshot, draft: Snapshot) -> VersionDiff:
    changes = [
        FieldChange(field=field, version=old, draft=new)
        for field, old, new in _field_differences(version, draft)
    ]
    schedule = _schedule_diff(version.schedule, draft.schedule)
    return VersionDiff(
        number=number,
        identical=not changes and not (schedule.added or schedule.removed or schedule.changed),
        changes=changes,
        schedule=schedule,
    )


def _field_differences(version: Snapshot, draft: Snapshot) -> Iterator[tuple[str, Any, Any]]:
    for field in ("title", "description"):
        yield from _differences(field, getattr(version, field), getattr(draft, field))
    yield from _differences(
        "scene", version.scene.model_dump(mode="json"), draft.scene.model_dump(mode="json")
    )
    yield from _differences(
        "marker",
        str(version.marker.id) if version.marker else None,
        str(draft.marker.id) if draft.marker else None,
    )


def _differences(path: str, old: Any, new: Any) -> Iterator[tuple[str, Any, Any]]:
    """(path, old, new) of every leaf that differs, nested mappings walked by key."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            yield from _differences(f"{path}.{key}", old.get(key), new.get(key))
    elif old != new:
        yield path, old, new


def _schedule_diff(
    version: list[ScheduleEntrySnapshot], draft: list[ScheduleEntrySnapshot]
) -> ScheduleDiff:
    before = {entry.id: entry for entry in version}
    after = {entry.id: entry for entry in draft}
    return ScheduleDiff(
        added=[entry for entry in draft if entry.id not in before],
        removed=[entry for entry in version if entry.id not in after],
        changed=[
            ScheduleEntryChange(id=entry.id, version=before[entry.id], draft=entry)
            for entry in draft
            if entry.id in before and before[entry.id] != entry
        ],
    )


def refuse_deleting_a_published_video(scope: ScopedService, video_id: uuid.UUID) -> None:
    """409 `video_in_use` when a version viewers are served now plays the video. Checked
    across the company, whatever projects the caller sees; only the contents the caller
    may see are named."""
    company = company_wide(scope, "publishing.video_in_use")
    playing = (
        company.scoped(ARContentVersionVideo)
        .with_only_columns(ARContentVersion.ar_content_id)
        .join_from(
            ARContentVersionVideo,
            ARContentVersion,
            ARContentVersion.id == ARContentVersionVideo.version_id,
        )
        .join(
            ARContent,
            and_(
                ARContent.id == ARContentVersion.ar_content_id,
                ARContent.published_version == ARContentVersion.number,
            ),
        )
        .where(
            ARContentVersionVideo.video_id == video_id,
            ARContent.status == ContentStatus.PUBLISHED,
            ARContent.deleted_at.is_(None),
        )
    )
    content_ids = set(scope.db.scalars(playing))
    if not content_ids:
        return
    named = list(
        scope.db.scalars(
            scope.scoped(ARContent)
            .where(ARContent.id.in_(content_ids))
            .order_by(ARContent.title, ARContent.id)
        )
    )
    titles = ", ".join(repr(content.title) for content in named) or "a content"
    raise VideoInUseError(
        f"This video plays in the published version of {titles}; unpublish it, or publish "
        "it without this video, first.",
        details={
            "contents": [
                {
                    "id": str(content.id),
                    "title": content.title,
                    "project_id": str(content.project_id),
                }
                for content in named
            ],
            "hidden_contents": len(content_ids) - len(named),
        },
    )
