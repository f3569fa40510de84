"""Plans: the limits a company gets (its plan's row, plus its add-ons in force) and the
features it may use."""

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from app.core.exceptions import FeatureNotInPlanError
from app.models import Company, Entitlement, EntitlementKind, Feature, Plan, PlanDefinition
from app.services.order_service import new_order
from app.services.plans import definition_of, limits_for, limits_of_plan, require_feature
from app.utils.clock import utcnow
from tests.support.factories import make_company, make_product

GIB = 1024**3


def company_on(db: Session, plan: Plan) -> Company:
    company = make_company(db)
    company.plan = plan
    db.flush()
    return company


@pytest.mark.parametrize("plan", list(Plan))
def test_a_company_gets_its_plans_limits(db: Session, plan: Plan) -> None:
    limits = limits_for(db, company_on(db, plan))
    assert limits == limits_of_plan(db, plan)
    assert limits.code is plan


def test_the_migration_kept_the_limits_the_plans_had_in_code(db: Session) -> None:
    free, pro, business = (limits_of_plan(db, plan) for plan in Plan)
    assert (free.max_members, free.storage_bytes, free.max_ar_contents) == (3, 1 * GIB, 5)
    assert (pro.max_members, pro.storage_bytes, pro.max_ar_contents) == (20, 50 * GIB, 200)
    assert (business.max_members, business.storage_bytes) == (200, 500 * GIB)
    assert business.max_ar_contents == 5000
    assert (free.max_file_bytes, pro.max_file_bytes) == (500 * 1024**2, 5 * GIB)
    assert (free.max_video_seconds, business.max_video_seconds) == (300, 7200)
    assert (free.max_video_short_side, pro.max_video_short_side) == (1080, 2160)
    assert free.features == frozenset()
    assert pro.features == {Feature.HLS, Feature.ANALYTICS}
    assert business.features == frozenset(Feature)


def test_a_changed_plan_row_changes_every_company_on_it_at_once(db: Session) -> None:
    company = company_on(db, Plan.PRO)
    definition_of(db, Plan.PRO).max_members = 25
    db.flush()
    assert limits_for(db, company).max_members == 25


@pytest.mark.parametrize("plan", ["enterprise", "", "FREE", "Business "])
def test_an_unknown_plan_is_refused_not_treated_as_free(plan: str) -> None:
    with pytest.raises(ValueError, match="is not a valid Plan"):
        Company(name="Acme", slug="acme", plan=plan)


def test_every_plan_has_a_row(db: Session) -> None:
    codes = db.scalars(select(PlanDefinition.code)).all()
    assert sorted(codes) == sorted(Plan)


def test_an_unknown_plan_is_refused_on_write_by_the_model_and_the_database(db: Session) -> None:
    company = make_company(db)
    where = Company.id == company.id
    with pytest.raises(StatementError, match="not among the defined enum values"):
        db.execute(update(Company).where(where).values(plan="gold"))
    raw = text("UPDATE companies SET plan = :plan WHERE id = :id")
    with pytest.raises(IntegrityError, match="ck_companies_plan"), db.begin_nested():
        db.execute(raw, {"plan": "gold", "id": company.id})
    db.execute(raw, {"plan": "pro", "id": company.id})
    db.refresh(company)
    assert company.plan is Plan.PRO


def add_on(
    db: Session, company: Company, kind: EntitlementKind, amount: int, **when: object
) -> Entitlement:
    """An add-on as a paid order's line would give it."""
    order = new_order(
        company.id,
        [(make_product(db), 1)],
        created_by_id=None,
        idempotency_key=None,
        digest=None,
    )
    db.add(order)
    db.flush()
    entitlement = Entitlement(
        company_id=company.id,
        order_id=order.id,
        order_line_id=order.lines[0].id,
        kind=kind,
        amount=amount,
        **{"starts_at": utcnow() - timedelta(days=1), "ends_at": None, **when},
    )
    db.add(entitlement)
    db.flush()
    return entitlement


def test_add_ons_in_force_add_to_the_plan(db: Session) -> None:
    company = company_on(db, Plan.FREE)
    plan = limits_of_plan(db, Plan.FREE)
    now = utcnow()
    add_on(db, company, EntitlementKind.STORAGE, 10 * GIB)
    add_on(db, company, EntitlementKind.STORAGE, 5 * GIB, ends_at=now + timedelta(days=3))
    add_on(db, company, EntitlementKind.CONTENTS, 50)
    # Not in force: ended, not started, taken back by a refund.
    add_on(db, company, EntitlementKind.STORAGE, 7 * GIB, ends_at=now - timedelta(hours=1))
    add_on(db, company, EntitlementKind.CONTENTS, 9, starts_at=now + timedelta(days=1))
    add_on(db, company, EntitlementKind.CONTENTS, 11, revoked_at=now - timedelta(minutes=1))

    limits = limits_for(db, company, now)
    assert limits.storage_bytes == plan.storage_bytes + 15 * GIB
    assert limits.max_ar_contents == plan.max_ar_contents + 50
    assert limits.max_members == plan.max_members
    later = limits_for(db, company, now + timedelta(days=4))
    assert later.storage_bytes == plan.storage_bytes + 10 * GIB


def test_another_companys_add_ons_do_not_count(db: Session) -> None:
    mine, theirs = company_on(db, Plan.FREE), company_on(db, Plan.FREE)
    add_on(db, theirs, EntitlementKind.STORAGE, 10 * GIB)
    assert limits_for(db, mine) == limits_of_plan(db, Plan.FREE)


@pytest.mark.parametrize("feature", list(Feature))
def test_require_feature_refuses_a_free_company(db: Session, feature: Feature) -> None:
    with pytest.raises(FeatureNotInPlanError) as caught:
        require_feature(db, company_on(db, Plan.FREE), feature)
    assert caught.value.code == "feature_not_in_plan"
    assert caught.value.status == 402
    assert caught.value.details == {"feature": feature.value, "plan": "free"}
    assert feature.value in caught.value.message


@pytest.mark.parametrize("feature", list(Feature))
def test_require_feature_passes_for_business(db: Session, feature: Feature) -> None:
    require_feature(db, company_on(db, Plan.BUSINESS), feature)


def test_require_feature_follows_the_pro_plan(db: Session) -> None:
    pro = company_on(db, Plan.PRO)
    require_feature(db, pro, Feature.HLS)
    require_feature(db, pro, Feature.ANALYTICS)
    with pytest.raises(FeatureNotInPlanError):
        require_feature(db, pro, Feature.CUSTOM_BRANDING)
