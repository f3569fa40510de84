"""Every object key the application stores under, built in one place. Storage itself knows
no domain: it stores bytes under keys; the domains name their objects here.

    companies/{company_id}/files/{file_id}/original
    companies/{company_id}/videos/{video_id}/out/{job_id}/...   (see `JobOutputKeys`)
    companies/{company_id}/markers/{marker_id}/...               (see `MarkerKeys`)
"""

import uuid
from dataclasses import dataclass

from app.core.storage import company_prefix


def file_key(company_id: uuid.UUID, file_id: uuid.UUID) -> str:
    return f"{company_prefix(company_id)}files/{file_id}/original"


def video_prefix(company_id: uuid.UUID, video_id: uuid.UUID) -> str:
    return f"{company_prefix(company_id)}videos/{video_id}/"


def job_output_prefix(company_id: uuid.UUID, video_id: uuid.UUID, job_id: uuid.UUID) -> str:
    """The folder one processing job writes to: no other job ever writes a key in it."""
    return f"{video_prefix(company_id, video_id)}out/{job_id}/"


@dataclass(frozen=True, slots=True)
class JobOutputKeys:
    """The outputs of one job, under its folder."""

    prefix: str

    def rendition_mp4(self, rendition: str) -> str:
        return f"{self.prefix}renditions/{rendition}.mp4"

    def hls_folder(self, rendition: str) -> str:
        return f"{self.prefix}hls/{rendition}/"

    def hls_playlist(self, rendition: str) -> str:
        return f"{self.hls_folder(rendition)}index.m3u8"

    @property
    def hls_master(self) -> str:
        return f"{self.prefix}hls/master.m3u8"

    @property
    def poster(self) -> str:
        return f"{self.prefix}poster.jpg"

    def thumbnail(self, filename: str) -> str:
        return f"{self.prefix}thumbnails/{filename}"

    @property
    def storyboard(self) -> str:
        return f"{self.prefix}storyboard.jpg"

    @property
    def storyboard_vtt(self) -> str:
        return f"{self.prefix}storyboard.vtt"


@dataclass(frozen=True, slots=True)
class MarkerKeys:
    """The outputs of one marker's processing. A marker is processed once, so its keys are
    never rewritten and can be linked as immutable."""

    company_id: uuid.UUID
    marker_id: uuid.UUID

    @property
    def prefix(self) -> str:
        return f"{company_prefix(self.company_id)}markers/{self.marker_id}/"

    @property
    def image(self) -> str:
        return f"{self.prefix}marker.jpg"

    @property
    def preview(self) -> str:
        return f"{self.prefix}preview.jpg"

    @property
    def heatmap(self) -> str:
        return f"{self.prefix}heatmap.png"

    @property
    def mind_target(self) -> str:
        return f"{self.prefix}target.mind"
