"""Scan figures members read: per AR content and per project, by UTC day, from the events
viewer pages and apps report (plans with analytics)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from app.api.deps import project_service
from app.api.openapi import raises
from app.api.routes.projects import PROJECT
from app.api.stats_params import StatsFrom, StatsTo
from app.core.exceptions import FeatureNotInPlanError, NotFoundError, StatsRangeError
from app.core.permissions import Action
from app.schemas.scan_analytics import ContentScanStatsResponse, ProjectScanStatsResponse
from app.services.scan_analytics_service import ScanStatsService

router = APIRouter(tags=["ar-contents"])
ContentId = Annotated[uuid.UUID, Path(description="The AR content's id.")]
StatsReader = Annotated[ScanStatsService, project_service(ScanStatsService, Action.CONTENT_READ)]


@router.get(
    f"{PROJECT}/ar-contents/{{content_id}}/stats",
    summary="Daily scan figures of an AR content",
    description="Openings, scans, unique devices, found rate, median and 90th percentile "
    "time to detect the marker, video starts, completions and watch time per UTC day. "
    "Plans with analytics only.",
)
@raises(NotFoundError, FeatureNotInPlanError, StatsRangeError)
def read_content_stats(
    content_id: ContentId, stats: StatsReader, start: StatsFrom = None, end: StatsTo = None
) -> ContentScanStatsResponse:
    daily = stats.of_content(content_id, start, end)
    return ContentScanStatsResponse.model_validate(daily, from_attributes=True)


@router.get(
    f"{PROJECT}/stats",
    summary="Daily scan figures of a project",
    description="The sums of the project's contents per UTC day, and each content's totals "
    "over the range, the worst found rate first. Plans with analytics only.",
)
@raises(NotFoundError, FeatureNotInPlanError, StatsRangeError)
def read_project_stats(
    stats: StatsReader, start: StatsFrom = None, end: StatsTo = None
) -> ProjectScanStatsResponse:
    daily = stats.of_project(start, end)
    return ProjectScanStatsResponse.model_validate(daily, from_attributes=True)
