"""Markers: the upload request, and what an admin is shown of a processed one."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.models.marker import MarkerStatus
from app.schemas.common import RequestSchema, ResponseSchema
from app.schemas.project import MarkerWidthMm
from app.services.marker_service import MarkerView

MM_PER_METRE = 1000


class MarkerCreate(RequestSchema):
    file_id: uuid.UUID = Field(description="An uploaded JPEG, PNG or WebP of this company.")
    width_mm: MarkerWidthMm | None = Field(
        default=None, description="Printed width in millimetres; left out: the project's default."
    )


class Hint(ResponseSchema):
    code: str = Field(examples=["low_contrast"])
    message: str


class Duplicate(ResponseSchema):
    marker_id: uuid.UUID
    content_id: uuid.UUID
    content_title: str
    inliers: int = Field(description="Features that matched under one perspective transform.")


class MarkerLinksResponse(ResponseSchema):
    expires_at: datetime
    image: str | None = Field(
        description="The normalised sRGB JPEG every tracker input is made from."
    )
    preview: str | None
    heatmap: str | None = Field(description="PNG: where the trackable detail is.")
    mind_target: str | None = Field(description="The compiled MindAR target (`.mind`).")


class MarkerResponse(ResponseSchema):
    id: uuid.UUID
    ar_content_id: uuid.UUID
    file_id: uuid.UUID
    status: MarkerStatus
    width_mm: int
    width_m: float = Field(description="Printed width in metres, as ARKit and ARCore take it.")
    rejection_code: str | None = Field(
        description="Why the image cannot be a marker (`cmyk`, `too_small`...), when rejected."
    )
    failure_reason: str | None
    attempts: int
    width: int | None = Field(description="Pixel width of the normalised image.")
    height: int | None
    sha256: str | None = Field(description="Of the normalised image.")
    score: int | None = Field(description="Trackability, 0-100; see ARV/docs/markers.md.")
    stars: int | None = Field(description="Trackability, 0-5 stars.")
    sub_scores: dict[str, int] = Field(
        description="`features`, `distribution`, `contrast`, `ambiguity`, `sharpness`: 0-100."
    )
    hints: list[Hint]
    warnings: list[Hint]
    duplicates: list[Duplicate] = Field(
        description="Other contents whose marker looks like this one, among those you see."
    )
    hidden_duplicates: int = Field(
        description="Look-alikes in projects you cannot see: counted, not named."
    )
    keypoints: int | None
    coverage: int | None = Field(description="Share (%) of an 8x8 grid's cells with detail.")
    edge_coverage: int | None = Field(description="The same, of the 28 cells along the border.")
    matching_points: int | None = Field(description="Of the compiled target: finds the marker.")
    tracking_points: int | None = Field(description="Of the compiled target: follows it.")
    seconds: dict[str, float] = Field(description="Time spent compiling and scoring.")
    processed_at: datetime | None
    created_at: datetime
    links: MarkerLinksResponse | None = Field(
        description="Signed links to the outputs, once the marker is ready."
    )

    @classmethod
    def of(cls, view: MarkerView) -> "MarkerResponse":
        marker, links = view.marker, view.links
        report: dict[str, Any] = marker.report or {}
        return cls(
            id=marker.id,
            ar_content_id=marker.ar_content_id,
            file_id=marker.file_id,
            status=marker.status,
            width_mm=marker.width_mm,
            width_m=marker.width_mm / MM_PER_METRE,
            rejection_code=marker.rejection_code,
            failure_reason=marker.failure_reason,
            attempts=marker.attempts,
            width=marker.width,
            height=marker.height,
            sha256=marker.sha256,
            score=marker.score,
            stars=marker.stars,
            sub_scores=report.get("sub_scores", {}),
            hints=view.hints,
            warnings=report.get("warnings", []),
            duplicates=[Duplicate.model_validate(found) for found in view.duplicates],
            hidden_duplicates=view.hidden_duplicates,
            keypoints=report.get("keypoints"),
            coverage=report.get("coverage"),
            edge_coverage=report.get("edge_coverage"),
            matching_points=marker.matching_points,
            tracking_points=marker.tracking_points,
            seconds=report.get("seconds", {}),
            processed_at=marker.processed_at,
            created_at=marker.created_at,
            links=MarkerLinksResponse.model_validate(links) if links else None,
        )
