"""Plans: limits and feature flags. Every service asks here, through `limits_for`, what a
company may do: its plan's limits (the `plans` table, which platform admins edit) plus what
its paid add-ons give while they last (`entitlements`). See ARV/docs/payments.md#plans."""

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.exceptions import FeatureNotInPlanError
from app.models.billing import Entitlement, EntitlementKind, Feature, PlanDefinition
from app.models.company import Company, Plan
from app.services.context import SystemActor
from app.services.tenant import ScopedService
from app.utils.clock import utcnow


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


def plan_limits(plan: PlanDefinition) -> PlanLimits:
    return PlanLimits(
        code=plan.code,
        max_members=plan.max_members,
        storage_bytes=plan.storage_bytes,
        max_ar_contents=plan.max_ar_contents,
        features=frozenset(Feature(feature) for feature in plan.features),
        max_file_bytes=plan.max_file_bytes,
        max_video_seconds=plan.max_video_seconds,
        max_video_short_side=plan.max_video_short_side,
    )


def definition_of(db: Session, code: Plan) -> PlanDefinition:
    return db.scalars(select(PlanDefinition).where(PlanDefinition.code == code)).one()


def limits_of_plan(db: Session, code: Plan) -> PlanLimits:
    """The plan's own limits, add-ons aside."""
    return plan_limits(definition_of(db, code))


def limits_for(db: Session, company: Company, now: datetime | None = None) -> PlanLimits:
    """The company's plan's limits, with the storage and AR contents its add-ons add."""
    limits = limits_of_plan(db, company.plan)
    extra = add_ons(db, company, now or utcnow())
    return replace(
        limits,
        storage_bytes=limits.storage_bytes + extra.get(EntitlementKind.STORAGE, 0),
        max_ar_contents=limits.max_ar_contents + extra.get(EntitlementKind.CONTENTS, 0),
    )


def add_ons(db: Session, company: Company, now: datetime) -> dict[EntitlementKind, int]:
    """What the company's add-ons in force at `now` add, by kind."""
    scope = ScopedService(db, SystemActor(company.id, task="plans.limits"))
    in_force = scope.scoped(Entitlement).where(*Entitlement.in_force(now)).subquery()
    rows = db.execute(
        select(in_force.c.kind, func.sum(in_force.c.amount))
        .where(in_force.c.kind != EntitlementKind.PLAN)
        .group_by(in_force.c.kind)
    )
    return {EntitlementKind(kind): int(amount or 0) for kind, amount in rows}


def require_feature(db: Session, company: Company, feature: Feature) -> None:
    limits = limits_for(db, company)
    if feature not in limits.features:
        raise FeatureNotInPlanError(
            f"The {limits.code} plan does not include {feature.value}.",
            details={"feature": feature.value, "plan": company.plan},
        )
