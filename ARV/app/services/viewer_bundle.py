"""The offline pack of a published content (`GET /viewer/{public_id}/bundle`): a zip of the
marker's normalised image, its compiled target, the smallest MP4 of the video playing now
and, last, `manifest.json` naming each of them by path with the size and SHA-256 counted
while it streamed. The zip is written to a sink that keeps only what the next yield hands
over, so memory holds one chunk whatever the video's size. See ARV/docs/viewer.md.
"""

import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from app.core.exceptions import NotFoundError
from app.core.storage import StorageProvider
from app.schemas.viewer import BundleFile, BundleManifest, BundleMarker, BundleVideo
from app.services.viewer_service import BundleSource

READ_CHUNK_BYTES = 64 * 1024
MARKER_ENTRY = "marker.jpg"
TARGET_ENTRY = "target.mind"
VIDEO_ENTRY = "video.mp4"
MANIFEST_ENTRY = "manifest.json"


class _Sink:
    """A write-only, unseekable stream (zipfile then writes data descriptors) whose bytes
    are taken out as they come."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes, /) -> int:
        self._buffer += data
        return len(data)

    # The file-object interface zipfile expects; there is nothing to flush or release.
    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


@dataclass(frozen=True, slots=True)
class _Entry:
    path: str
    key: str


def stream_bundle(storage: StorageProvider, source: BundleSource) -> Iterator[bytes]:
    """The zip's bytes, a chunk at a time (each at most about `READ_CHUNK_BYTES`). Every
    file is looked up first, so a missing one is a 404 before anything is sent rather than
    a download cut short."""
    entries = [
        _Entry(path, key)
        for path, key in (
            (MARKER_ENTRY, source.image_key),
            (TARGET_ENTRY, source.mind_key),
            (VIDEO_ENTRY, source.rendition.mp4_key if source.rendition else None),
        )
        if key
    ]
    missing = [entry.path for entry in entries if not storage.exists(entry.key)]
    if missing:
        raise NotFoundError(
            "This content's offline pack is not available: a stored file is missing.",
            details={"missing": missing},
        )
    return _zipped(storage, source, entries)


def _zipped(
    storage: StorageProvider, source: BundleSource, entries: list[_Entry]
) -> Iterator[bytes]:
    sink = _Sink()
    files: dict[str, BundleFile] = {}
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for entry in entries:
            size, digest = 0, hashlib.sha256()
            with (
                storage.open_read(entry.key) as stream,
                archive.open(_info(entry.path), mode="w", force_zip64=True) as member,
            ):
                while chunk := stream.read(READ_CHUNK_BYTES):
                    member.write(chunk)
                    size += len(chunk)
                    digest.update(chunk)
                    yield sink.take()
            files[entry.path] = BundleFile(path=entry.path, size=size, sha256=digest.hexdigest())
        manifest = bundle_manifest(source, files).model_dump_json(indent=2)
        archive.writestr(_info(MANIFEST_ENTRY, zipfile.ZIP_DEFLATED), manifest)
    yield sink.take()


def _info(path: str, compression: int = zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(path)
    info.compress_type = compression
    return info


def bundle_manifest(source: BundleSource, files: dict[str, BundleFile]) -> BundleManifest:
    """The served manifest with the pack's files in place of its links."""
    served = source.manifest
    marker = served.marker
    video = served.video
    rendition = source.rendition
    return BundleManifest(
        content=served.content,
        generated_at=served.generated_at,
        marker=BundleMarker(
            image=files.get(MARKER_ENTRY),
            width_px=marker.width_px,
            height_px=marker.height_px,
            width_m=marker.width_m,
            sha256=marker.sha256,
            score=marker.score,
            mind=files.get(TARGET_ENTRY),
        ),
        video=BundleVideo(
            id=video.id,
            title=video.title,
            duration_seconds=video.duration_seconds,
            file=files[VIDEO_ENTRY],
            codecs=video.renditions[0].codecs,
            width=rendition.width,
            height=rendition.height,
            bitrate_kbps=rendition.bitrate_kbps,
            next_change_at=video.next_change_at,
        )
        if video and rendition and VIDEO_ENTRY in files
        else None,
        scene=served.scene,
        app_link=served.app_link,
    )
