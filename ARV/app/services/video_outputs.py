"""A video's output sets, and how outputs a newer set replaced are retired.

Each job writes under a folder of its own (`object_keys.job_output_prefix`), so a key never
holds two different outputs once it has been linked: links to renditions, segments and
stills can be cached as immutable. Re-processing a video that already plays builds pending
renditions there while the live ones keep playing, then swaps them in one transaction.
What the swap replaced is recorded in `video_output_purges` and deleted once every link
handed out before the swap has expired.

Every query goes through the caller's scope (a member's service or the system actor of a
worker), so it reads only the caller's company.
"""

import posixpath
import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.background_tasks.names import VIDEO_PURGE_SUPERSEDED
from app.core.storage import StorageProvider
from app.models.video import (
    PLAYING_STATUSES,
    RenditionKind,
    RenditionStatus,
    Video,
    VideoOutputPurge,
    VideoRendition,
)
from app.services.object_keys import job_output_prefix
from app.services.tenant import ScopedService, for_each_company
from app.services.viewer_service import forget_manifests_playing


def rendition_keys(rendition: VideoRendition) -> list[str]:
    """The rendition's MP4, and the folder of its HLS playlist and segments."""
    keys = [rendition.mp4_key] if rendition.mp4_key else []
    if rendition.hls_playlist_key:
        keys.append(posixpath.dirname(rendition.hls_playlist_key) + "/")
    return keys


def retire(db: Session, video: Video, keys: Iterable[str | None], purge_after: datetime) -> None:
    """Have `keys` (objects, or folders ending with '/') deleted once `purge_after` passed."""
    for key in dict.fromkeys(key for key in keys if key):
        db.add(
            VideoOutputPurge(
                company_id=video.company_id, video_id=video.id, key=key, purge_after=purge_after
            )
        )


def renditions_of(
    scope: ScopedService, video_id: uuid.UUID, *, live: bool | None = None
) -> list[VideoRendition]:
    """The video's renditions, smallest first: live ones, pending ones, or both (None)."""
    statement = scope.scoped(VideoRendition).where(VideoRendition.video_id == video_id)
    if live is not None:
        statement = statement.where(VideoRendition.live.is_(live))
    return list(scope.db.scalars(statement.order_by(VideoRendition.short_side)))


def plays_older_outputs(scope: ScopedService, video: Video, job_prefix: str) -> bool:
    """Whether the video plays renditions an earlier job made: then the job's set stays
    pending until complete, instead of replacing them as it goes."""
    if video.status not in PLAYING_STATUSES:
        return False
    older = (
        scope.scoped(VideoRendition)
        .where(
            VideoRendition.video_id == video.id,
            VideoRendition.live.is_(True),
            VideoRendition.status == RenditionStatus.DONE,
            ~VideoRendition.mp4_key.startswith(job_prefix, autoescape=True),
        )
        .limit(1)
    )
    return scope.db.scalar(older) is not None


def renditions_after(
    scope: ScopedService, video_id: uuid.UUID, *, replaces_all: bool
) -> list[VideoRendition]:
    """What plays once the pending renditions are swapped in: they replace the live ones of
    the same name, or every live one when the job re-made the whole ladder."""
    rows = renditions_of(scope, video_id)
    pending = {row.name for row in rows if not row.live}
    return [row for row in rows if not row.live or not (replaces_all or row.name in pending)]


def swap_in_pending(
    scope: ScopedService, video: Video, *, replaces_all: bool, purge_after: datetime
) -> None:
    """Make the pending renditions live, in the caller's transaction, and retire what they
    replace."""
    keep = {row.id for row in renditions_after(scope, video.id, replaces_all=replaces_all)}
    pending = renditions_of(scope, video.id, live=False)
    for row in renditions_of(scope, video.id, live=True):
        if row.id not in keep:
            retire(scope.db, video, rendition_keys(row), purge_after)
            scope.db.delete(row)
    # The replaced rows must be gone before their names turn up live again.
    scope.db.flush()
    for row in pending:
        row.live = True


def drop_renditions_of_kind(
    scope: ScopedService, video: Video, kind: RenditionKind, purge_after: datetime
) -> None:
    """Take the video's renditions of `kind` off the air, and retire their files."""
    for row in renditions_of(scope, video.id):
        if row.kind == kind:
            retire(scope.db, video, rendition_keys(row), purge_after)
            scope.db.delete(row)
    forget_manifests_playing(scope.db, video)


def discard_pending(scope: ScopedService, video: Video, job_id: uuid.UUID, now: datetime) -> None:
    """A job that stopped before its set went live: its pending renditions go, and its
    folder with them (nothing in it was ever linked, so at once)."""
    for rendition in renditions_of(scope, video.id, live=False):
        scope.db.delete(rendition)
    retire(scope.db, video, [job_output_prefix(video.company_id, video.id, job_id)], now)


def stored_bytes(scope: ScopedService) -> int:
    """What the company's live videos' outputs take in storage: every rendition (MP4 and
    HLS, pending ones too) and each video's stills and master playlist."""
    live_videos = scope.scoped(Video).with_only_columns(Video.id)
    renditions = scope.db.scalar(
        scope.scoped(VideoRendition)
        .with_only_columns(
            func.coalesce(
                func.sum(func.coalesce(VideoRendition.size_bytes, 0) + VideoRendition.hls_bytes), 0
            )
        )
        .where(VideoRendition.video_id.in_(live_videos))
    )
    assets = scope.db.scalar(
        scope.scoped(Video).with_only_columns(func.coalesce(func.sum(Video.assets_bytes), 0))
    )
    return int(renditions or 0) + int(assets or 0)


def purge_due(
    sessions: sessionmaker[Session], storage: StorageProvider, now: datetime, limit: int = 500
) -> int:
    """Delete what is due from storage, then forget it, one company per unit of work (as
    the system actor); returns how many entries went. Deleting is idempotent: a storage
    failure rolls that company's batch back for the next run."""
    due = select(VideoOutputPurge.company_id).where(VideoOutputPurge.purge_after <= now)
    return for_each_company(
        sessions,
        due,
        VIDEO_PURGE_SUPERSEDED,
        lambda scope: _purge_company_due(scope, storage, now, limit),
    )


def _purge_company_due(
    scope: ScopedService, storage: StorageProvider, now: datetime, limit: int
) -> int:
    due = scope.db.scalars(
        scope.scoped(VideoOutputPurge)
        .where(VideoOutputPurge.purge_after <= now)
        .order_by(VideoOutputPurge.purge_after)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for entry in due:
        if entry.key.endswith("/"):
            storage.delete_prefix(entry.key)
        else:
            storage.delete(entry.key)
    scope.db.execute(delete(VideoOutputPurge).where(VideoOutputPurge.id.in_([e.id for e in due])))
    return len(due)
