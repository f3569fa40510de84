"""The viewer manifest: everything an AR viewer needs to show a published content, in one
compact versioned document (`GET /viewer/{public_id}`). See ARV/docs/viewer.md."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from app.schemas.common import ResponseSchema
from app.schemas.scene import SceneSettings

MANIFEST_SCHEMA_VERSION: Literal[1] = 1


class ManifestContent(ResponseSchema):
    public_id: str
    title: str
    version: int = Field(description="The published version served.")


class ManifestMarker(ResponseSchema):
    image_url: str | None = Field(description="The normalised marker image (JPEG), signed.")
    width_px: int | None
    height_px: int | None
    width_m: float = Field(description="The printed marker's width, in metres.")
    sha256: str | None = Field(description="Of the normalised image.")
    score: int | None = Field(description="Trackability, 0-100.")
    mind_url: str | None = Field(description="The compiled MindAR target (`.mind`), signed.")


class ManifestRendition(ResponseSchema):
    url: str = Field(description="A progressive H.264/AAC MP4 (faststart), signed.")
    container: Literal["mp4"] = "mp4"
    codecs: str | None = Field(
        description='RFC 6381 names for `MediaSource`/`canPlayType`, e.g. "avc1.64001F,mp4a.40.2".'
    )
    width: int | None
    height: int | None
    bitrate_kbps: int | None
    bytes: int | None
    texture: bool = Field(
        description="The one rendition to draw as a WebGL texture (iOS draws an HLS stream "
        "as black there): the largest with a short side of at most 720."
    )


class ManifestStackedAlpha(ResponseSchema):
    url: str = Field(description="Colour in the top half, alpha matte in the bottom, signed.")
    width: int | None
    height: int | None = Field(description="Of the whole stacked frame (twice the picture).")


class ManifestVideo(ResponseSchema):
    id: uuid.UUID
    title: str
    duration_seconds: float | None
    poster_url: str | None
    hls_url: str | None = Field(description="The HLS master playlist, every link inside signed.")
    renditions: list[ManifestRendition] = Field(description="Smallest first.")
    stacked_alpha: ManifestStackedAlpha | None
    next_change_at: datetime | None = Field(
        description="When the schedule may switch to another video; null: never."
    )


class Manifest(ResponseSchema):
    schema_version: Literal[1] = MANIFEST_SCHEMA_VERSION
    content: ManifestContent
    generated_at: datetime
    expires_at: datetime = Field(description="When the signed links in this document expire.")
    marker: ManifestMarker
    video: ManifestVideo | None = Field(
        description="What plays now; null when no scheduled video plays now."
    )
    scene: SceneSettings
    app_link: str | None = Field(description="A deep link into the native viewer app, if any.")


class BundleFile(ResponseSchema):
    path: str = Field(description="The entry's name inside the zip.")
    size: int = Field(description="In bytes.")
    sha256: str = Field(description="Of the entry's bytes, hex.")


class BundleMarker(ResponseSchema):
    image: BundleFile | None = Field(description="The normalised marker image (JPEG).")
    width_px: int | None
    height_px: int | None
    width_m: float = Field(description="The printed marker's width, in metres.")
    sha256: str | None = Field(description="Of the normalised image.")
    score: int | None = Field(description="Trackability, 0-100.")
    mind: BundleFile | None = Field(description="The compiled MindAR target (`.mind`).")


class BundleVideo(ResponseSchema):
    id: uuid.UUID
    title: str
    duration_seconds: float | None
    file: BundleFile = Field(description="The smallest progressive H.264/AAC MP4 rendition.")
    codecs: str | None
    width: int | None
    height: int | None
    bitrate_kbps: int | None
    next_change_at: datetime | None = Field(
        description="When the schedule may switch to another video; null: never."
    )


class BundleManifest(ResponseSchema):
    """`manifest.json` of an offline pack: the viewer manifest with files inside the zip
    in place of links (nothing in it expires)."""

    schema_version: Literal[1] = MANIFEST_SCHEMA_VERSION
    content: ManifestContent
    generated_at: datetime
    marker: BundleMarker
    video: BundleVideo | None = Field(description="What played when the pack was made.")
    scene: SceneSettings
    app_link: str | None = Field(description="A deep link into the native viewer app, if any.")
