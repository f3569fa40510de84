import uuid
from datetime import date

from pydantic import AwareDatetime, Field

from app.models.scan_analytics import CLIENT_VERSION_MAX_LENGTH, ViewerEventKind, ViewerPlatform
from app.schemas.common import RequestSchema, ResponseSchema
from app.schemas.video_analytics import (
    MAX_EVENTS_PER_BATCH,
    MAX_WATCHED_SECONDS_PER_EVENT,
    DeviceId,
)

MAX_TIME_TO_DETECT_MS = 600_000


class ViewerEventReport(RequestSchema):
    event_id: uuid.UUID = Field(
        description="Made by the viewer once per event: a batch sent again counts once."
    )
    session_id: uuid.UUID = Field(
        description="One visit, from opening the viewer to leaving it: the found rate is "
        "the share of visits with `page_open` that also found the marker."
    )
    type: ViewerEventKind = Field(
        description="`page_open` (the camera view opened), `marker_found`, `marker_lost`, "
        "`video_start`, `video_progress` (a periodic report while the video keeps "
        "playing) or `video_complete`."
    )
    occurred_at: AwareDatetime = Field(
        description="When it happened on the device, with its offset. Events older than "
        "7 days or more than 5 minutes ahead are refused."
    )
    time_to_detect_ms: int | None = Field(
        default=None,
        ge=0,
        le=MAX_TIME_TO_DETECT_MS,
        description="`marker_found` only: milliseconds from the camera starting to the "
        "marker found.",
    )
    watched_seconds: float = Field(
        default=0,
        ge=0,
        le=MAX_WATCHED_SECONDS_PER_EVENT,
        allow_inf_nan=False,
        description="`video_*` events only: seconds of video watched since this session's "
        "previous video event.",
    )


class ViewerEventBatch(RequestSchema):
    device_id: DeviceId
    platform: ViewerPlatform = Field(description="`ios`, `android`, `web` or `other`.")
    client_version: str | None = Field(
        default=None,
        pattern=r"^[ -~]+$",
        min_length=1,
        max_length=CLIENT_VERSION_MAX_LENGTH,
        description="The app's or browser's version, printable ASCII.",
    )
    events: list[ViewerEventReport] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class ScanFigures(ResponseSchema):
    opens: int = Field(description="`page_open` events.")
    scans: int = Field(description="`marker_found` events.")
    found_rate: float | None = Field(
        description="Sessions that found the marker / sessions that opened the viewer; "
        "null without openings."
    )
    starts: int = Field(description="`video_start` events.")
    completions: int = Field(description="`video_complete` events.")
    watched_seconds: float


class ContentScanDay(ScanFigures):
    day: date = Field(description="A UTC calendar day.")
    unique_devices: int
    detect_ms_median: float | None = Field(
        description="Median time to detect the marker, in ms; null without detections."
    )
    detect_ms_p90: float | None = Field(description="90th percentile of the time to detect.")


class ProjectScanDay(ScanFigures):
    day: date = Field(description="A UTC calendar day.")


class ContentScanTotals(ScanFigures):
    ar_content_id: uuid.UUID
    title: str


class ContentScanStatsResponse(ResponseSchema):
    ar_content_id: uuid.UUID
    start: date
    end: date
    totals: ScanFigures = Field(
        description="Sums over the days. Unique devices and times to detect are per day "
        "and do not add up."
    )
    days: list[ContentScanDay] = Field(description="Every day of the range, zeros included.")
    pending: bool = Field(
        description="Events received but not yet counted: the figures catch up within a minute."
    )


class ProjectScanStatsResponse(ResponseSchema):
    project_id: uuid.UUID
    start: date
    end: date
    totals: ScanFigures = Field(description="Sums over the days and the contents.")
    days: list[ProjectScanDay] = Field(
        description="Every day of the range, the sum of the project's contents."
    )
    contents: list[ContentScanTotals] = Field(
        description="Each content with figures in the range, the worst found rate first."
    )
    pending: bool = Field(
        description="Events received but not yet counted: the figures catch up within a minute."
    )
