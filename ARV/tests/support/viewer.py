"""Rows as the media pipeline leaves a video that plays: what the viewer manifest serves."""

import uuid
from dataclasses import asdict
from fractions import Fraction
from typing import Any

from sqlalchemy.orm import Session

from app.models import Company, Video, VideoRendition
from app.models.video import RenditionKind, RenditionStatus
from app.utils.media_probe import MediaInfo
from tests.support.factories import make_video

H264_HIGH_31 = "avc1.64001F,mp4a.40.2"


def playing_video(db: Session, company: Company, title: str = "Greeting") -> Video:
    """A ready video with a poster, an HLS master, three ladder rungs (the two lower in HLS,
    with measured codecs; the top one encoded without) and a stacked-alpha rendition."""
    video = make_video(db, company, title)
    outputs = f"companies/{company.id}/videos/{video.id}/jobs/{uuid.uuid4()}"
    video.poster_key = f"{outputs}/poster.jpg"
    video.hls_master_key = f"{outputs}/hls/master.m3u8"
    video.probe = _probe(width=1920, height=1080)
    rungs = [("360p", 640, 360, "avc1.64001E,mp4a.40.2"), ("720p", 1280, 720, H264_HIGH_31)]
    for name, width, height, codecs in [*rungs, ("1080p", 1920, 1080, None)]:
        _rendition(db, video, name, width, height, outputs, codecs=codecs)
    _rendition(db, video, "alpha", 1280, 1440, outputs, kind=RenditionKind.STACKED_ALPHA)
    db.flush()
    return video


def _probe(width: int, height: int) -> dict[str, Any]:
    info = MediaInfo(
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        duration=30.0,
        size=10_000_000,
        bit_rate=2_000_000,
        video_codec="h264",
        profile="Main",
        level=40,
        pix_fmt="yuv420p",
        bit_depth=8,
        width=width,
        height=height,
        sample_aspect_ratio=Fraction(1),
        rotation=0,
        fps=30.0,
        video_bit_rate=1_800_000,
        audio_codec="aac",
        audio_profile="LC",
        audio_channels=2,
    )
    return {**asdict(info), "sample_aspect_ratio": "1"}


def _rendition(
    db: Session,
    video: Video,
    name: str,
    width: int,
    height: int,
    outputs: str,
    *,
    codecs: str | None = None,
    kind: RenditionKind = RenditionKind.LADDER,
) -> None:
    db.add(
        VideoRendition(
            company_id=video.company_id,
            video_id=video.id,
            name=name,
            kind=kind,
            short_side=min(width, height if kind is RenditionKind.LADDER else height // 2),
            width=width,
            height=height,
            status=RenditionStatus.DONE,
            bitrate_kbps=width,
            size_bytes=width * 1000,
            mp4_key=f"{outputs}/{name}.mp4",
            hls_variant={"codecs": codecs} if codecs else None,
        )
    )
