"""The viewer manifest: what an AR viewer needs to show a published content (the marker to
track, the video the version's schedule plays now with signed links to its media, the
scene settings), built from the served version and kept in the shared cache.

A hit is served without the database: the cached entry holds the body, its strong ETag and
until when it is fresh: the earliest of the links' expiry (less a margin, so a client
fetching media at the last moment still can) and the next schedule change. Everything that
changes the answer deletes the entry after its commit (`forget_manifest`,
`forget_manifests_playing`); the next request builds it again. See ARV/docs/viewer.md.
"""

import hashlib
import math
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fractions import Fraction

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.core.cache import get_cache, get_or_build, invalidate
from app.core.config import Settings, get_settings
from app.core.database import session_scope
from app.core.events import on_commit
from app.core.exceptions import NotFoundError
from app.core.storage import StorageProvider
from app.models.ar_content import (
    ARContent,
    ARContentVersion,
    ARContentVersionVideo,
    ContentStatus,
)
from app.models.marker import Marker
from app.models.video import (
    PLAYING_STATUSES,
    RenditionKind,
    RenditionStatus,
    Video,
    VideoRendition,
)
from app.schemas.publishing import ScheduleEntrySnapshot, Snapshot
from app.schemas.viewer import (
    Manifest,
    ManifestContent,
    ManifestMarker,
    ManifestRendition,
    ManifestStackedAlpha,
    ManifestVideo,
)
from app.services.context import SystemActor
from app.services.media_delivery import MediaDelivery
from app.services.public_contents import PublishedContent, published_content
from app.services.tenant import readable
from app.services.video_schedule_service import pick
from app.utils.ffmpeg import codecs_attribute
from app.utils.media_probe import MAX_FPS, MediaInfo

# The texture rendition: the largest whose short side is at most this (a phone decodes and
# uploads it to the GPU every frame).
TEXTURE_MAX_SHORT_SIDE = 720
# A cached manifest goes stale this long before its links expire (a quarter of their life
# when that is shorter), so a client that fetched it last still has time to use them.
LINK_MARGIN_SECONDS = 300
# Of the H.264 levels (Table A-1): level_idc, macroblocks a frame, macroblocks a second.
_H264_LEVELS = (
    (21, 792, 19_800),
    (22, 1_620, 20_250),
    (30, 1_620, 40_500),
    (31, 3_600, 108_000),
    (32, 5_120, 216_000),
    (40, 8_192, 245_760),
    (42, 8_704, 522_240),
    (50, 22_080, 589_824),
    (51, 36_864, 983_040),
    (52, 36_864, 2_073_600),
)
# Renditions this pipeline encodes are H.264 High with AAC LC (`transcode_command`).
_ENCODED_PROFILE = "High"
_ENCODED_AUDIO_PROFILE = "LC"
_DEFAULT_FPS = 30.0


@dataclass(frozen=True, slots=True)
class ServedManifest:
    """A manifest as served: the JSON body, its strong ETag, and until when (Unix time) it
    may be served as it is."""

    body: bytes
    etag: str
    fresh_until: int

    def max_age(self, now: float) -> int:
        return max(0, self.fresh_until - math.ceil(now))

    def encode(self) -> bytes:
        return f"{self.fresh_until} {self.etag}\n".encode() + self.body

    @classmethod
    def decode(cls, data: bytes) -> "ServedManifest":
        head, body = data.split(b"\n", 1)
        fresh_until, etag = head.decode().split(" ", 1)
        return cls(body, etag, int(fresh_until))


def manifest_key(public_id: str) -> str:
    return f"viewer:manifest:{public_id}"


async def served_manifest(
    sessions: sessionmaker[Session], storage: StorageProvider, settings: Settings, public_id: str
) -> ServedManifest:
    """The cached manifest while it is fresh; otherwise built in the threadpool, in a unit
    of work of its own from `sessions`, and cached until it goes stale."""

    async def build() -> bytes:
        served = await run_in_threadpool(_build_in_unit, sessions, storage, settings, public_id)
        return served.encode()

    def fresh(value: bytes) -> int:
        return ServedManifest.decode(value).max_age(time.time())

    value = await get_or_build(get_cache(settings), manifest_key(public_id), fresh, build)
    return ServedManifest.decode(value)


def _build_in_unit(
    sessions: sessionmaker[Session], storage: StorageProvider, settings: Settings, public_id: str
) -> ServedManifest:
    with session_scope(sessions) as db:
        return build_manifest(db, storage, settings, public_id)


def build_manifest(
    db: Session, storage: StorageProvider, settings: Settings, public_id: str
) -> ServedManifest:
    """404 alike for an unknown, unpublished, archived or deleted content."""
    return _builder(db, storage, settings, public_id).build()


@dataclass(frozen=True, slots=True)
class BundleSource:
    """What an offline pack holds: the manifest as served (links included), the keys of
    the marker's normalised image and compiled target, and the smallest MP4 rendition of
    the video playing now (None when none plays)."""

    manifest: Manifest
    image_key: str | None
    mind_key: str | None
    rendition: VideoRendition | None


def bundle_source(
    db: Session, storage: StorageProvider, settings: Settings, public_id: str
) -> BundleSource:
    """404 alike for an unknown, unpublished, archived or deleted content."""
    builder = _builder(db, storage, settings, public_id)
    manifest = builder.manifest()
    marker = builder.marker
    return BundleSource(
        manifest,
        marker.image_key if marker else None,
        marker.mind_key if marker else None,
        builder.ladder[0] if builder.ladder else None,
    )


def _builder(
    db: Session, storage: StorageProvider, settings: Settings, public_id: str
) -> "_ManifestBuilder":
    published = published_content(db, public_id)
    if published is None:
        raise NotFoundError("No AR content is published under this id.")
    return _ManifestBuilder(db, MediaDelivery(storage, settings), settings, published)


class _ManifestBuilder:
    """Reads what the served version names (its marker, its videos and their live
    renditions) as the system actor of the content's company: the public actor, which found
    the content, reads no marker or rendition rows."""

    def __init__(
        self,
        db: Session,
        delivery: MediaDelivery,
        settings: Settings,
        published: PublishedContent,
    ) -> None:
        self.db = db
        self.delivery = delivery
        self.settings = settings
        self.published = published
        self.actor = SystemActor(published.content.company_id, "viewer.manifest")
        self.now = datetime.now(UTC)
        self.expires = int(self.now.timestamp()) + settings.STORAGE_URL_TTL_SECONDS
        # What `manifest` read: the marker, and the playing video's ladder, smallest first.
        self.marker: Marker | None = None
        self.ladder: list[VideoRendition] = []
        self.next_change_at: datetime | None = None

    def build(self) -> ServedManifest:
        manifest = self.manifest()
        margin = min(LINK_MARGIN_SECONDS, self.settings.STORAGE_URL_TTL_SECONDS // 4)
        fresh_until = self.expires - margin
        if self.next_change_at is not None:
            fresh_until = min(fresh_until, math.floor(self.next_change_at.timestamp()))
        return ServedManifest(manifest.model_dump_json().encode(), _etag(manifest), fresh_until)

    def manifest(self) -> Manifest:
        snapshot = Snapshot.model_validate(self.published.version.snapshot)
        video, next_change_at = self._active(snapshot.schedule)
        self.next_change_at = next_change_at
        return Manifest(
            content=ManifestContent(
                public_id=self.published.content.public_id,
                title=snapshot.title,
                version=self.published.version.number,
            ),
            generated_at=self.now,
            expires_at=datetime.fromtimestamp(self.expires, UTC),
            marker=self._marker(),
            video=self._video(video, next_change_at) if video else None,
            scene=snapshot.scene,
            app_link=self._app_link(),
        )

    def _active(
        self, schedule: list[ScheduleEntrySnapshot]
    ) -> tuple[Video | None, datetime | None]:
        """The video the schedule plays now, and the next window edge."""
        ids = {entry.video_id for entry in schedule}
        videos = {
            video.id: video
            for video in self.db.scalars(readable(Video, self.actor).where(Video.id.in_(ids)))
        }

        def plays(entry: ScheduleEntrySnapshot) -> bool:
            video = videos.get(entry.video_id)
            return video is not None and video.status in PLAYING_STATUSES

        entry, next_change_at = pick(schedule, self.now, plays)
        return (videos[entry.video_id] if entry else None), next_change_at

    def _marker(self) -> ManifestMarker:
        marker = self.db.scalar(
            readable(Marker, self.actor).where(Marker.id == self.published.version.marker_id)
        )
        if marker is None:  # versions hold their marker (RESTRICT)
            raise NotFoundError("No AR content is published under this id.")
        self.marker = marker
        return ManifestMarker(
            image_url=self._link(marker.image_key),
            width_px=marker.width,
            height_px=marker.height,
            width_m=marker.width_mm / 1000,
            sha256=marker.sha256,
            score=marker.score,
            mind_url=self._link(marker.mind_key),
        )

    def _video(self, video: Video, next_change_at: datetime | None) -> ManifestVideo:
        renditions = list(
            self.db.scalars(
                readable(VideoRendition, self.actor)
                .where(
                    VideoRendition.video_id == video.id,
                    VideoRendition.live.is_(True),
                    VideoRendition.status == RenditionStatus.DONE,
                    VideoRendition.mp4_key.is_not(None),
                )
                .order_by(VideoRendition.short_side, VideoRendition.name)
            )
        )
        ladder = self.ladder = [r for r in renditions if r.kind == RenditionKind.LADDER]
        alpha = next((r for r in renditions if r.kind == RenditionKind.STACKED_ALPHA), None)
        texture = texture_rendition(ladder)
        return ManifestVideo(
            id=video.id,
            title=video.title,
            duration_seconds=video.duration_seconds,
            poster_url=self._link(video.poster_key),
            hls_url=self._link(video.hls_master_key),
            renditions=[
                ManifestRendition(
                    url=self._mp4_link(rendition),
                    codecs=rendition_codecs(video, rendition),
                    width=rendition.width,
                    height=rendition.height,
                    bitrate_kbps=rendition.bitrate_kbps,
                    bytes=rendition.size_bytes,
                    texture=rendition is texture,
                )
                for rendition in ladder
            ],
            stacked_alpha=ManifestStackedAlpha(
                url=self._mp4_link(alpha), width=alpha.width, height=alpha.height
            )
            if alpha
            else None,
            next_change_at=next_change_at,
        )

    def _link(self, key: str | None) -> str | None:
        return self.delivery.link(key, self.expires) if key else None

    def _mp4_link(self, rendition: VideoRendition) -> str:
        # Renditions are selected with their MP4 stored: `mp4_key` is set.
        return self.delivery.link(rendition.mp4_key or "", self.expires)

    def _app_link(self) -> str | None:
        template = self.settings.VIEWER_APP_LINK_TEMPLATE
        return template.format(public_id=self.published.content.public_id) if template else None


def _etag(manifest: Manifest) -> str:
    """Of the body without `generated_at`: the same answer built twice has the same tag."""
    digest = hashlib.sha256(manifest.model_dump_json(exclude={"generated_at"}).encode())
    return f'"{digest.hexdigest()[:32]}"'


def texture_rendition(ladder: list[VideoRendition]) -> VideoRendition | None:
    """Of renditions smallest first: the largest with a short side of at most
    `TEXTURE_MAX_SHORT_SIDE`, else the smallest."""
    fitting = [r for r in ladder if r.short_side <= TEXTURE_MAX_SHORT_SIDE]
    return fitting[-1] if fitting else next(iter(ladder), None)


def rendition_codecs(video: Video, rendition: VideoRendition) -> str | None:
    """RFC 6381 codecs: as measured for the HLS variant when there is one; else derived, for
    a stream copy from the source's probe, for an encode from what the pipeline encodes
    (H.264 High at the level its size needs, AAC LC)."""
    measured = (rendition.hls_variant or {}).get("codecs")
    if measured:
        return str(measured)
    if video.probe is None:
        return None
    source = _media_info(video.probe)
    if rendition.is_copy:
        return codecs_attribute(source)
    level = h264_level(rendition.width, rendition.height, min(source.fps, MAX_FPS))
    encoded = replace(
        source, profile=_ENCODED_PROFILE, level=level, audio_profile=_ENCODED_AUDIO_PROFILE
    )
    return codecs_attribute(encoded)


def _media_info(probe: dict[str, object]) -> MediaInfo:
    """`Video.probe` (a `MediaInfo` as stored, its ratio as text) back as a `MediaInfo`."""
    ratio = Fraction(str(probe.get("sample_aspect_ratio") or 1))
    return MediaInfo(**{**probe, "sample_aspect_ratio": ratio})  # type: ignore[arg-type]


def h264_level(width: int | None, height: int | None, fps: float) -> int | None:
    """The lowest H.264 level_idc whose frame size and macroblock rate hold the picture."""
    if not width or not height:
        return None
    frame = math.ceil(width / 16) * math.ceil(height / 16)
    rate = frame * (fps or _DEFAULT_FPS)
    return next(
        (
            level
            for level, max_frame, max_rate in _H264_LEVELS
            if frame <= max_frame and rate <= max_rate
        ),
        None,
    )


# -- invalidation ---------------------------------------------------------------------------


def forget_manifest(db: Session, public_id: str) -> None:
    """Once `db` commits, drop the cached manifest of `public_id` (for every API instance,
    through Redis)."""
    cache = get_cache(get_settings())
    on_commit(db, lambda: invalidate(cache, manifest_key(public_id)))


def forget_manifests_playing(db: Session, video: Video) -> None:
    """Once `db` commits, drop the cached manifests of the published contents whose served
    version schedules `video` (its status, renditions or stills changed)."""
    actor = SystemActor(video.company_id, "viewer.invalidate")
    served = (
        readable(ARContent, actor)
        .with_only_columns(ARContent.public_id)
        .join(
            ARContentVersion,
            ARContentVersion.served_by_its_content(),
        )
        .join(ARContentVersionVideo, ARContentVersionVideo.version_id == ARContentVersion.id)
        .where(
            ARContent.status == ContentStatus.PUBLISHED,
            ARContentVersionVideo.video_id == video.id,
        )
    )
    for public_id in db.scalars(served):
        forget_manifest(db, public_id)
