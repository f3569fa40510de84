"""Plans: limits and feature flags. Every service asks here, through `limits_for`, so a
plan change is one edit. The plans themselves are `app.models.company.Plan`, which the
database checks; every one of them has limits here (a test keeps the two equal)."""

from dataclasses import dataclass
from enum import StrEnum

from app.core.exceptions import FeatureNotInPlanError
from app.models.company import Company, Plan

MIB = 1024**2
GIB = 1024**3


class Feature(StrEnum):
    HLS = "hls"
    ANALYTICS = "analytics"
    CUSTOM_BRANDING = "custom_branding"


@dataclass(frozen=True, slots=True)
class PlanLimits:
    code: Plan
    max_members: int
    storage_bytes: int
    max_ar_contents: int
    features: frozenset[Feature]
    max_file_bytes: int
    max_video_seconds: int
    # The largest short side accepted (1080 for Full HD, 2160 for 4K).
    max_video_short_side: int


PLANS: dict[Plan, PlanLimits] = {
    Plan.FREE: PlanLimits(
        Plan.FREE,
        max_members=3,
        storage_bytes=1 * GIB,
        max_ar_contents=5,
        features=frozenset(),
        max_file_bytes=500 * MIB,
        max_video_seconds=5 * 60,
        max_video_short_side=1080,
    ),
    Plan.PRO: PlanLimits(
        Plan.PRO,
        max_members=20,
        storage_bytes=50 * GIB,
        max_ar_contents=200,
        features=frozenset({Feature.HLS, Feature.ANALYTICS}),
        max_file_bytes=5 * GIB,
        max_video_seconds=30 * 60,
        max_video_short_side=2160,
    ),
    Plan.BUSINESS: PlanLimits(
        Plan.BUSINESS,
        max_members=200,
        storage_bytes=500 * GIB,
        max_ar_contents=5000,
        features=frozenset(Feature),
        max_file_bytes=20 * GIB,
        max_video_seconds=2 * 3600,
        max_video_short_side=2160,
    ),
}


def limits_for(company: Company) -> PlanLimits:
    return PLANS[company.plan]


def require_feature(company: Company, feature: Feature) -> None:
    if feature not in limits_for(company).features:
        raise FeatureNotInPlanError(
            f"The {limits_for(company).code} plan does not include {feature.value}.",
            details={"feature": feature.value, "plan": company.plan},
        )
