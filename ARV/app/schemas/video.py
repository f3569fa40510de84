import uuid
from datetime import datetime

from pydantic import Field

from app.models.video import (
    JobKind,
    JobStatus,
    PipelineStage,
    RenditionKind,
    RenditionStatus,
    VideoStatus,
)
from app.schemas.chroma_key import ChromaKey
from app.schemas.common import RequestSchema, ResponseSchema

TITLE_MAX_LENGTH = 200


class VideoCreate(RequestSchema):
    file_id: uuid.UUID = Field(description="An uploaded video file of this company.")
    title: str = Field(min_length=1, max_length=TITLE_MAX_LENGTH)


class VideoUpdate(RequestSchema):
    title: str = Field(min_length=1, max_length=TITLE_MAX_LENGTH)


class PosterTime(RequestSchema):
    at_seconds: float = Field(ge=0, le=24 * 3600, description="Second of the frame to use.")


class RenditionResponse(ResponseSchema):
    name: str = Field(
        description="By the short side: `360p`, `720p`, `1080p`...; `alpha` for the "
        "stacked-alpha rendition."
    )
    kind: RenditionKind = Field(
        description="`ladder`: a rung players pick from (and an HLS variant). "
        "`stacked_alpha`: the colour over its alpha matte in one MP4 twice as tall, made "
        "from the chroma key for WebGL viewers; not in HLS."
    )
    status: RenditionStatus
    percent: float = Field(description="Encoding progress, 0 to 100.")
    eta_seconds: float | None = Field(description="Estimated seconds left while encoding.")
    width: int | None
    height: int | None
    is_copy: bool = Field(description="The source's streams, copied without re-encoding.")
    bitrate_kbps: int | None
    size_bytes: int | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


class JobResponse(ResponseSchema):
    id: uuid.UUID
    kind: JobKind
    target: str | None
    status: JobStatus
    attempts: int
    max_attempts: int
    queue_position: int | None = Field(
        default=None, description="1 when next to start; null once running or finished."
    )
    last_error: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class VideoResponse(ResponseSchema):
    id: uuid.UUID
    file_id: uuid.UUID
    title: str
    status: VideoStatus = Field(
        description="uploaded → processing → playable (one rendition plays) → ready; "
        "or failed (see failure_reason, failed_stage) or cancelled."
    )
    stage: PipelineStage = Field(description="What the pipeline is doing, or did last.")
    failure_reason: str | None
    failed_stage: PipelineStage | None
    duration_seconds: float | None
    width: int | None = Field(description="As displayed, after rotation.")
    height: int | None
    rotation: int | None
    has_audio: bool | None
    source_codec: str | None
    source_is_standard: bool | None = Field(
        description="H.264/AAC already: made playable by copying, in seconds."
    )
    poster_at_seconds: float | None
    chroma_key: ChromaKey | None = Field(
        description="The colour keyed out into the stacked-alpha rendition; null: none."
    )
    playable_at: datetime | None
    ready_at: datetime | None
    created_at: datetime
    updated_at: datetime


class VideoDetailResponse(VideoResponse):
    renditions: list[RenditionResponse] = Field(description="What plays, smallest first.")
    pending_renditions: list[RenditionResponse] = Field(
        description="What a re-process (or a rendition re-encode) of a video that plays is "
        "building. The renditions above keep playing until every one of these is done, "
        "then these replace them at once."
    )
    job: JobResponse | None = Field(description="The latest processing job.")


class Playback(ResponseSchema):
    """How players should play the video: the company's `settings.video_defaults`."""

    loop: bool = Field(description="Start again when the video ends.")
    muted_autoplay: bool = Field(description="Start at once, muted, without a tap.")


class MediaLinks(ResponseSchema):
    expires_at: datetime = Field(description="When every link below stops working.")
    renditions: dict[str, str] = Field(
        description="Faststart MP4 URL per finished ladder rendition, by name (`720p`)."
    )
    stacked_alpha: str | None = Field(
        description="The finished stacked-alpha rendition (faststart MP4: colour in the top "
        "half, alpha as luma in the bottom half), on videos with a chroma key."
    )
    hls: str | None = Field(
        description="The HLS master playlist, on plans with HLS. Served by the API with every "
        "variant and segment URI inside signed, so any HLS player can follow it."
    )
    poster: str | None
    thumbnails: list[str] = Field(description="Frames spread over the video, in time order.")
    storyboard: str | None = Field(description="The sprite of seek-bar previews.")
    storyboard_vtt: str | None = Field(
        description="WebVTT mapping time ranges to sprite tiles, served by the API with the "
        "sprite's signed URL in every cue."
    )
    playback: Playback
