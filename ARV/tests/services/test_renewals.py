"""Paid plan periods on beat: a renewal order ahead of the end (once), its payment extending
the period, and a lapsed period putting the company back on the free plan."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, select

from app.core.config import Settings
from app.core.database import get_session_factory, session_scope
from app.core.permissions import Role
from app.models import (
    AuditLog,
    Company,
    Entitlement,
    Order,
    OrderEvent,
    OrderStatus,
    Plan,
    User,
)
from app.services.admin_service import PlatformActor
from app.services.renewals import expire_lapsed, renew_ahead
from tests.support.billing import committed_purchase, pay_by_transfer, told
from tests.support.factories import Tenant, make_user


@dataclass(frozen=True, slots=True)
class Subscribed:
    company_id: uuid.UUID
    owner_id: uuid.UUID
    period_id: uuid.UUID
    ends_at: datetime


@pytest.fixture
def subscribed(engine: Engine, settings: Settings) -> Iterator[Subscribed]:
    """A committed company that bought a month of Pro; removed afterwards."""
    with committed_purchase(settings, "Renewals") as purchase:
        with session_scope() as db:
            period = db.scalars(
                select(Entitlement).where(Entitlement.order_id == purchase.order_id)
            ).one()
            assert period.ends_at is not None
            subscription = Subscribed(
                purchase.company_id, purchase.owner_id, period.id, period.ends_at
            )
        yield subscription


def test_a_renewal_order_is_made_once_ahead_of_the_end(
    subscribed: Subscribed, settings: Settings
) -> None:
    sessions = get_session_factory()
    too_early = subscribed.ends_at - timedelta(days=settings.RENEWAL_NOTICE_DAYS + 1)
    assert renew_ahead(sessions, settings, too_early) == 0

    ahead = subscribed.ends_at - timedelta(days=settings.RENEWAL_NOTICE_DAYS - 1)
    assert renew_ahead(sessions, settings, ahead) == 1
    assert renew_ahead(sessions, settings, ahead) == 0

    with session_scope() as db:
        period = db.get_one(Entitlement, subscribed.period_id)
        assert period.renewal_order_id is not None
        renewal = db.get_one(Order, period.renewal_order_id)
        assert (renewal.status, renewal.company_id) == (OrderStatus.DRAFT, subscribed.company_id)
        assert [line.plan_code for line in renewal.lines] == [Plan.PRO]
        [step] = db.scalars(select(OrderEvent).where(OrderEvent.order_id == renewal.id))
        assert step.reason == f"renewal of the pro plan ending {subscribed.ends_at:%Y-%m-%d}"
        [due] = told(db, subscribed.company_id, "renewal.due")
        assert due.payload["data"]["period_end"] == f"{subscribed.ends_at:%Y-%m-%d}"
        assert due.payload["link"].endswith(f"/orders/{renewal.id}")


def test_a_paid_renewal_follows_the_period_and_keeps_the_plan(
    subscribed: Subscribed, settings: Settings
) -> None:
    sessions = get_session_factory()
    renew_ahead(sessions, settings, subscribed.ends_at - timedelta(days=1))
    with session_scope() as db:
        period = db.get_one(Entitlement, subscribed.period_id)
        renewal = db.get_one(Order, period.renewal_order_id)
        company = db.get_one(Company, subscribed.company_id)
        owner = db.get_one(User, subscribed.owner_id)
        tenant = Tenant(company, {Role.OWNER: owner}, {})
        admin = make_user(db, superuser=True)
        pay_by_transfer(db, settings, tenant, PlatformActor(via="api", user_id=admin.id), renewal)
        [following] = db.scalars(select(Entitlement).where(Entitlement.order_id == renewal.id))
        assert following.starts_at == subscribed.ends_at
        admin_id = admin.id

    after_first = subscribed.ends_at + timedelta(hours=1)
    assert expire_lapsed(sessions, after_first) == 0
    with session_scope() as db:
        assert db.get_one(Company, subscribed.company_id).plan is Plan.PRO
        db.execute(delete(User).where(User.id == admin_id))


def test_a_lapsed_period_puts_the_company_back_on_the_free_plan(
    subscribed: Subscribed,
) -> None:
    sessions = get_session_factory()
    assert expire_lapsed(sessions, subscribed.ends_at - timedelta(minutes=1)) == 0
    assert expire_lapsed(sessions, subscribed.ends_at + timedelta(minutes=1)) == 1
    assert expire_lapsed(sessions, subscribed.ends_at + timedelta(minutes=2)) == 0
    with session_scope() as db:
        assert db.get_one(Company, subscribed.company_id).plan is Plan.FREE
        changes = db.scalars(
            select(AuditLog.changes)
            .where(
                AuditLog.company_id == subscribed.company_id,
                AuditLog.action == "company.plan_changed",
            )
            .order_by(AuditLog.created_at)
        ).all()
        assert [(c["before"], c["after"]) for c in changes] == [
            ({"plan": "free"}, {"plan": "pro"}),  # the purchase
            ({"plan": "pro"}, {"plan": "free"}),
        ]
        assert changes[0]["via"].startswith("order ")
        assert changes[1]["via"] == "the paid period ended"
