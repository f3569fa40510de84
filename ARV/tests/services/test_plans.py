"""Plans: the limits a company gets and the features it may use."""

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from app.core.exceptions import FeatureNotInPlanError
from app.models import Company, Plan
from app.services.plans import PLANS, Feature, limits_for, require_feature
from tests.support.factories import make_company


def company_on(plan: str) -> Company:
    return Company(name="Acme", slug="acme", plan=plan)


@pytest.mark.parametrize("plan", ["free", "pro", "business"])
def test_limits_for_a_known_plan(plan: str) -> None:
    limits = limits_for(company_on(plan))
    assert limits is PLANS[plan]
    assert limits.code == plan


@pytest.mark.parametrize("plan", ["enterprise", "", "FREE", "Business "])
def test_an_unknown_plan_is_refused_not_treated_as_free(plan: str) -> None:
    with pytest.raises(ValueError, match="is not a valid Plan"):
        company_on(plan)


def test_every_plan_has_limits() -> None:
    assert set(PLANS) == set(Plan)


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


def test_plans_grow_from_free_to_business() -> None:
    free, pro, business = PLANS["free"], PLANS["pro"], PLANS["business"]
    assert free.max_members == 3
    assert free.max_members < pro.max_members < business.max_members
    assert free.storage_bytes < pro.storage_bytes < business.storage_bytes
    assert free.max_ar_contents < pro.max_ar_contents < business.max_ar_contents
    assert free.features <= pro.features <= business.features
    assert business.features == frozenset(Feature)


@pytest.mark.parametrize("feature", list(Feature))
def test_require_feature_refuses_a_free_company(feature: Feature) -> None:
    with pytest.raises(FeatureNotInPlanError) as caught:
        require_feature(company_on("free"), feature)
    assert caught.value.code == "feature_not_in_plan"
    assert caught.value.status == 402
    assert caught.value.details == {"feature": feature.value, "plan": "free"}
    assert feature.value in caught.value.message


@pytest.mark.parametrize("feature", list(Feature))
def test_require_feature_passes_for_business(feature: Feature) -> None:
    require_feature(company_on("business"), feature)


def test_require_feature_follows_the_pro_plan() -> None:
    pro = company_on("pro")
    require_feature(pro, Feature.HLS)
    require_feature(pro, Feature.ANALYTICS)
    with pytest.raises(FeatureNotInPlanError):
        require_feature(pro, Feature.CUSTOM_BRANDING)
