"""Videos: made from an uploaded file, processed by the media workers into an H.264/AAC
ladder (MP4 with faststart, and HLS on plans that include it), poster, thumbnails and
a storyboard, and a stacked-alpha rendition when a chroma key is set. Progress is visible
per rendition, with the job's place in the queue."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from app.api.deps import PageParamsDep, tenant_service
from app.api.openapi import raises
from app.api.routes.tenant_common import TENANT
from app.api.stats_params import StatsFrom, StatsTo
from app.core.exceptions import (
    FeatureNotInPlanError,
    NotAVideoError,
    NotFoundError,
    NothingToCancelError,
    PosterTimeError,
    StatsRangeError,
    UnknownRenditionError,
    UploadIncompleteError,
    VideoBusyError,
    VideoInUseError,
    VideoNotReadyError,
)
from app.core.permissions import Action
from app.models.video import VideoStatus
from app.schemas.chroma_key import ChromaKey
from app.schemas.common import Page
from app.schemas.video import (
    TITLE_MAX_LENGTH,
    JobResponse,
    MediaLinks,
    PosterTime,
    RenditionResponse,
    VideoCreate,
    VideoDetailResponse,
    VideoResponse,
    VideoUpdate,
)
from app.schemas.video_analytics import VideoStatsResponse
from app.services.video_analytics_service import VideoStatsService
from app.services.video_service import VideoDetail, VideoService

router = APIRouter(tags=["videos"])
VIDEOS = f"{TENANT}/videos"
VIDEO = f"{VIDEOS}/{{video_id}}"
VideoId = Annotated[uuid.UUID, Path(description="The video's id.")]
VideoReader = Annotated[VideoService, tenant_service(VideoService, Action.CONTENT_READ)]
VideoWriter = Annotated[VideoService, tenant_service(VideoService, Action.CONTENT_WRITE)]
StatsReader = Annotated[VideoStatsService, tenant_service(VideoStatsService, Action.CONTENT_READ)]


def _detail(result: VideoDetail) -> VideoDetailResponse:
    job = None
    if result.job is not None:
        job = JobResponse.model_validate(result.job.job).model_copy(
            update={"queue_position": result.job.queue_position}
        )
    return VideoDetailResponse.model_validate(
        {
            **VideoResponse.model_validate(result.video).model_dump(),
            "renditions": [RenditionResponse.model_validate(r) for r in result.renditions],
            "pending_renditions": [
                RenditionResponse.model_validate(r) for r in result.pending_renditions
            ],
            "job": job,
        }
    )


@router.post(
    VIDEOS,
    status_code=status.HTTP_201_CREATED,
    summary="Create a video from an uploaded file",
    description="Queues processing at once; follow it with GET on the video.",
)
@raises(NotFoundError, UploadIncompleteError, NotAVideoError)
def create_video(body: VideoCreate, videos: VideoWriter) -> VideoDetailResponse:
    return _detail(videos.create(body.file_id, body.title))


@router.get(VIDEOS, summary="List videos")
def list_videos(
    videos: VideoReader,
    page: PageParamsDep,
    video_status: Annotated[
        VideoStatus | None, Query(alias="status", description="Only videos in this state.")
    ] = None,
    title: Annotated[
        str | None, Query(max_length=TITLE_MAX_LENGTH, description="Part of the title.")
    ] = None,
) -> Page[VideoResponse]:
    """Paginated, newest first, filtered by status and title."""
    result = videos.list_videos(page, video_status, title)
    return Page[VideoResponse].model_validate(result, from_attributes=True)


@router.get(VIDEO, summary="A video, its renditions and its latest job")
@raises(NotFoundError)
def read_video(
    video_id: VideoId,
    videos: VideoReader,
) -> VideoDetailResponse:
    """Per rendition: status, progress and ETA; the job's place in the media queue."""
    return _detail(videos.detail(video_id))


@router.patch(VIDEO, summary="Rename a video")
@raises(NotFoundError)
def update_video(
    video_id: VideoId,
    body: VideoUpdate,
    videos: VideoWriter,
) -> VideoDetailResponse:
    """Changes the title only."""
    return _detail(videos.rename(video_id, body.title))


@router.delete(
    VIDEO,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a video",
    description="Stops its processing; renditions are purged in the background. A video "
    "that a published version of an AR content plays cannot be deleted (409 `video_in_use` "
    "naming the contents).",
)
@raises(NotFoundError, VideoInUseError)
def delete_video(
    video_id: VideoId,
    videos: VideoWriter,
) -> None:
    videos.delete(video_id)


@router.post(f"{VIDEO}/cancel", summary="Cancel processing")
@raises(NotFoundError, NothingToCancelError)
def cancel_video(
    video_id: VideoId,
    videos: VideoWriter,
) -> VideoDetailResponse:
    """Stops the queued or running job (a running one within a second or two)."""
    return _detail(videos.cancel(video_id))


@router.post(
    f"{VIDEO}/reprocess",
    summary="Process again from the original",
)
@raises(NotFoundError, VideoBusyError)
def reprocess_video(
    video_id: VideoId,
    videos: VideoWriter,
) -> VideoDetailResponse:
    """Builds every output again from the original file; the current outputs stay on the air until
    the new ones replace them."""
    return _detail(videos.reprocess(video_id))


@router.post(
    f"{VIDEO}/renditions/{{rendition}}/reencode",
    summary="Encode one rendition again",
)
@raises(NotFoundError, VideoBusyError, UnknownRenditionError)
def reencode_rendition(
    video_id: VideoId,
    rendition: Annotated[str, Path(pattern=r"^[0-9]{2,4}p$", description="E.g. `720p`.")],
    videos: VideoWriter,
) -> VideoDetailResponse:
    """Encodes one rendition of the ladder again, e.g. after a failure."""
    return _detail(videos.reencode(video_id, rendition))


@router.put(
    f"{VIDEO}/poster",
    summary="Pick the poster frame",
    description="Replaces the automatic poster (the first non-black frame).",
)
@raises(NotFoundError, VideoBusyError, VideoNotReadyError, PosterTimeError)
def set_poster(
    video_id: VideoId,
    body: PosterTime,
    videos: VideoWriter,
) -> VideoDetailResponse:
    return _detail(videos.set_poster_time(video_id, body.at_seconds))


@router.put(
    f"{VIDEO}/chroma-key",
    summary="Key out a green screen into a stacked-alpha rendition",
    description="Sets the colour to key out (green by default) and queues the stacked-alpha "
    "rendition: one H.264 MP4 with the colour in the top half and the alpha as luma in the "
    "bottom half. A video that plays keeps playing, its current alpha rendition included, "
    "until the new one replaces it; a video that does not play is processed again.",
)
@raises(NotFoundError, VideoBusyError)
def set_chroma_key(
    video_id: VideoId,
    body: ChromaKey,
    videos: VideoWriter,
) -> VideoDetailResponse:
    return _detail(videos.set_chroma_key(video_id, body))


@router.delete(
    f"{VIDEO}/chroma-key",
    summary="Stop keying out a colour",
    description="Removes the chroma key; the stacked-alpha rendition goes at once (its files "
    "once every link handed out has expired). Removing a key the video does not have changes "
    "nothing.",
)
@raises(NotFoundError, VideoBusyError)
def remove_chroma_key(
    video_id: VideoId,
    videos: VideoWriter,
) -> VideoDetailResponse:
    return _detail(videos.remove_chroma_key(video_id))


@router.get(
    f"{VIDEO}/media-links",
    summary="Short-lived URLs of the finished outputs",
)
@raises(NotFoundError)
def media_links(
    video_id: VideoId,
    videos: VideoReader,
) -> MediaLinks:
    """Signed URLs of the MP4 renditions, the stacked-alpha rendition, the HLS master
    playlist, the poster, thumbnails and storyboard, valid for a short time."""
    links = videos.media_links(video_id)
    return MediaLinks.model_validate(links, from_attributes=True)


@router.get(
    f"{VIDEO}/stats",
    summary="Daily playback figures",
    description="Views, completions, watch time and unique devices per UTC day, from "
    "the events viewer apps report. Plans with analytics only.",
)
@raises(NotFoundError, FeatureNotInPlanError, StatsRangeError)
def read_stats(
    video_id: VideoId,
    stats: StatsReader,
    start: StatsFrom = None,
    end: StatsTo = None,
) -> VideoStatsResponse:
    daily = stats.daily(video_id, start, end)
    return VideoStatsResponse.model_validate(daily, from_attributes=True)
