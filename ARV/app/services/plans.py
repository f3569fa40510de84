"""Plans: limits and feature flags. Every service asks here, through `limits_for`, so a
plan change is one edit."""

from dataclasses import dataclass
from enum import StrEnum

from app.core.exceptions import QuotaExceededError
from app.models.company import Company

MIB = 1024**2
GIB = 1024**3


class Feature(StrEnum):
    HLS = "hls"
    ANALYTICS = "analytics"
    CUSTOM_BRANDING = "custom_branding"


@dataclass(frozen=True, slots=True)
class PlanLimits:
    code: str
    max_members: int
    storage_bytes: int
    max_ar_contents: int
    features: frozenset[Feature]
    max_file_bytes: int
    max_video_seconds: int
    # The largest short side accepted (1080 for Full HD, 2160 for 4K).
    max_video_short_side: int


PLANS: dict[str, PlanLimits] = {
    "free": PlanLimits(
        "free",
        max_members=3,
        storage_bytes=1 * GIB,
        max_ar_contents=5,
        features=frozenset(),
        max_file_bytes=500 * MIB,
        max_video_seconds=5 * 60,
        max_video_short_side=1080,
    ),
    "pro": PlanLimits(
        "pro",
        max_members=20,
        storage_bytes=50 * GIB,
        max_ar_contents=200,
        features=frozenset({Feature.HLS, Feature.ANALYTICS}),
        max_file_bytes=5 * GIB,
        max_video_seconds=30 * 60,
        max_video_short_side=2160,
    ),
    "business": PlanLimits(
        "business",
        max_members=200,
        storage_bytes=500 * GIB,
        max_ar_contents=5000,
        features=frozenset(Feature),
        max_file_bytes=20 * GIB,
        max_video_seconds=2 * 3600,
        max_video_short_side=2160,
    ),
}
DEFAULT_PLAN = "free"


def limits_for(company: Company) -> PlanLimits:
    return PLANS.get(company.plan, PLANS[DEFAULT_PLAN])


def require_feature(company: Company, feature: Feature) -> None:
    if feature not in limits_for(company).features:
        raise QuotaExceededError(
            f"The {limits_for(company).code} plan does not include {feature.value}.",
            details={"feature": feature.value, "plan": company.plan},
        )
