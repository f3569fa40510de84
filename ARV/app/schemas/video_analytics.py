import uuid
from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, Field

from app.models.video_analytics import PlaybackEventKind
from app.schemas.common import RequestSchema, ResponseSchema

MAX_EVENTS_PER_BATCH = 100
MAX_WATCHED_SECONDS_PER_EVENT = 3600

# What every viewer analytics batch names its device by.
DeviceId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="The app's (or browser's) random install id. Only a keyed hash of it "
        "is kept, to count unique devices.",
    ),
]


class PlaybackEvent(RequestSchema):
    event_id: uuid.UUID = Field(
        description="Made by the app once per event: a batch sent again counts once."
    )
    video_id: uuid.UUID
    session_id: uuid.UUID = Field(
        description="One playback, from `play` to `complete`; a view is a session that "
        "played, however often it paused."
    )
    type: PlaybackEventKind = Field(
        description="`play`, `pause`, `complete`, or `progress` (a periodic report while "
        "the video keeps playing)."
    )
    occurred_at: AwareDatetime = Field(
        description="When it happened on the device, with its offset. Events older than "
        "7 days or more than 5 minutes ahead are refused."
    )
    watched_seconds: float = Field(
        default=0,
        ge=0,
        le=MAX_WATCHED_SECONDS_PER_EVENT,
        allow_inf_nan=False,
        description="Seconds of video watched since this session's previous event; at "
        "most the video's duration.",
    )


class PlaybackBatch(RequestSchema):
    device_id: DeviceId
    events: list[PlaybackEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class RejectedEvent(ResponseSchema):
    index: int = Field(description="Position of the event in the batch.")
    reason: str = Field(
        description="Playback events: `unknown_video`, `too_old`, `in_future` or "
        "`watched_exceeds_duration`. Viewer events: `too_old`, `in_future`, "
        "`detect_time_without_found` or `watched_without_video`."
    )
    message: str


class BatchResult(ResponseSchema):
    accepted: int = Field(description="Events stored now.")
    duplicates: int = Field(description="Events already stored by an earlier send.")
    rejected: list[RejectedEvent] = Field(
        description="Events refused, each with its reason; sending them again will not help."
    )


class DailyVideoStats(ResponseSchema):
    day: date = Field(description="A UTC calendar day.")
    views: int = Field(description="Playbacks started.")
    completions: int = Field(description="Playbacks watched to the end.")
    watch_seconds: float
    unique_devices: int


class StatsTotals(ResponseSchema):
    views: int
    completions: int
    watch_seconds: float
    completion_rate: float | None = Field(description="completions / views; null without views.")


class VideoStatsResponse(ResponseSchema):
    video_id: uuid.UUID
    start: date
    end: date
    totals: StatsTotals = Field(
        description="Sums over the days. Unique devices are per day and do not add up."
    )
    days: list[DailyVideoStats] = Field(description="Every day of the range, zeros included.")
    pending: bool = Field(
        description="Events received but not yet counted: the figures catch up within a minute."
    )
