"""Platform administration: acts on any company, for platform superusers (the admin API)
and operators at the server's shell (`python -m app.cli`). Not a tenant service: the
caller is not acting inside a company, so no membership is looked up."""

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.exceptions import NotFoundError, UnknownPlanError
from app.models.company import Company, Plan
from app.services.audit_service import AuditService
from app.services.context import ActorKind, RequestMeta


@dataclass(frozen=True, slots=True)
class PlatformActor:
    """Who changes a company from outside it. A superuser is a platform user, recorded as
    the audit entry's actor. An operator has no user account: the entry has no actor, and
    names the shell account that ran the command instead."""

    via: Literal["api", "cli"]
    user_id: uuid.UUID | None = None
    os_user: str | None = None

    @property
    def kind(self) -> ActorKind:
        """A superuser through the API acts in the company as support; an operator's command
        is the platform acting on its own."""
        return ActorKind.SUPPORT if self.via == "api" else ActorKind.SYSTEM

    def audit_source(self) -> dict[str, str]:
        source: dict[str, str] = {"via": self.via}
        if self.os_user:
            source["os_user"] = self.os_user
        return source


@dataclass(frozen=True, slots=True)
class PlanChange:
    company: Company
    before: Plan
    after: Plan

    @property
    def changed(self) -> bool:
        return self.before != self.after


class AdminService:
    def __init__(self, db: Session, meta: RequestMeta) -> None:
        self.db = db
        self.meta = meta

    def change_plan(self, company_id: uuid.UUID, plan: Plan, actor: PlatformActor) -> PlanChange:
        """Put the company on `plan`, recorded in its audit log. Choosing the plan it is
        already on changes nothing and records nothing."""
        return self._apply_plan(self._locked_company(company_id), plan, actor)

    def set_plan(self, reference: str, plan: str, actor: PlatformActor) -> PlanChange:
        """`change_plan`, naming the company by its id or its slug, as an operator types it."""
        known = _parse_plan(plan)  # before any lookup: a typo in the plan is the cheaper answer
        try:
            company_id: uuid.UUID | None = uuid.UUID(reference)
        except ValueError:
            company_id = self.db.scalar(
                select(Company.id).where(Company.slug == reference, Company.deleted_at.is_(None))
            )
        if company_id is None:
            raise NotFoundError.for_entity("Company", reference)
        return self.change_plan(company_id, known, actor)

    def _locked_company(self, company_id: uuid.UUID) -> Company:
        # Locked until the transaction ends: two plan changes at once are applied, and
        # audited, one after the other.
        company = self.db.scalar(
            select(Company)
            .where(Company.id == company_id, Company.deleted_at.is_(None))
            .with_for_update()
        )
        if company is None:
            raise NotFoundError.for_entity("Company", company_id)
        return company

    def _apply_plan(self, company: Company, plan: Plan, actor: PlatformActor) -> PlanChange:
        change = PlanChange(company=company, before=company.plan, after=plan)
        if not change.changed:
            return change
        company.plan = plan
        self.db.flush()  # applies updated_at, so the response shows the stored value
        AuditService(self.db).record(
            "company.plan_changed",
            entity_type="company",
            entity_id=company.id,
            actor_user_id=actor.user_id,
            actor_kind=actor.kind,
            meta=self.meta,
            company_id=company.id,
            changes={
                "before": {"plan": change.before},
                "after": {"plan": change.after},
                **actor.audit_source(),
            },
        )
        return change


def _parse_plan(plan: str) -> Plan:
    try:
        return Plan(plan)
    except ValueError:
        plans = [known.value for known in Plan]
        raise UnknownPlanError(
            f"Unknown plan {plan!r}; choose one of {', '.join(plans)}.",
            details={"plan": plan, "plans": plans},
        ) from None
