"""What a paid order gives its company, applied once, and taken back by a refund as far as
it can be. Each line of a paid order becomes at most one entitlement (the database holds
one per line), in the transaction that records the payment, with the order row locked:

- a plan: the company is on it for the line's periods (quantity x month or year). The same
  plan still in force is extended from the end of its paid period; another plan replaces
  it at once (the rest of the old period is not credited);
- a storage add-on or a content pack: its bytes or AR contents (x quantity) on top of the
  plan, for one period from now, or for good when the product has no period;
- a print service: made by people; the order stays `paid` until a platform admin marks it
  fulfilled.

See ARV/docs/payments.md#fulfilment."""

from dataclasses import dataclass
from datetime import datetime

from app.models.billing import (
    BillingPeriod,
    Entitlement,
    EntitlementKind,
    Order,
    OrderLine,
    OrderStatus,
    ProductKind,
)
from app.models.company import Company, Plan
from app.services import order_states
from app.services.ar_content_service import contents_counted
from app.services.order_states import OrderActor
from app.services.plans import limits_for
from app.services.storage_service import measure_usage
from app.services.tenant import ScopedService, lock_company
from app.utils.periods import add_months

MONTHS = {BillingPeriod.MONTH: 1, BillingPeriod.YEAR: 12}
ADD_ON_KINDS = {
    ProductKind.STORAGE_ADDON: EntitlementKind.STORAGE,
    ProductKind.CONTENT_PACK: EntitlementKind.CONTENTS,
}


def fulfil(scope: ScopedService, order: Order, actor: OrderActor, now: datetime) -> None:
    """Apply what the paid `order` gives (the caller holds its row locked). Moves it to
    `fulfilled` unless a print service waits for people."""
    company = scope.db.get_one(Company, order.company_id)
    applied = [_apply(scope, company, order, line, now) for line in order.lines]
    given = [step for step in applied if step]
    if any(line.kind is ProductKind.PRINT_SERVICE for line in order.lines):
        note = "; ".join([*given, "print to make"])
        order_states.record(scope.db, order, order.status, order.status, actor, note)
        return
    note = "; ".join(given) or "nothing to apply"
    order_states.move(scope.db, order, OrderStatus.FULFILLED, actor, note)


def mark_printed(scope: ScopedService, order: Order, actor: OrderActor, note: str) -> None:
    order_states.move(scope.db, order, OrderStatus.FULFILLED, actor, note)


def _apply(
    scope: ScopedService, company: Company, order: Order, line: OrderLine, now: datetime
) -> str | None:
    if line.kind is ProductKind.PLAN:
        return _apply_plan(scope, company, order, line, now)
    kind = ADD_ON_KINDS.get(line.kind)
    if kind is None:
        return None
    amount = (line.product_quantity or 0) * line.quantity
    ends_at = add_months(now, MONTHS[line.period]) if line.period else None
    scope.db.add(_entitlement(order, line, kind, now, ends_at, amount=amount))
    until = f" until {ends_at:%Y-%m-%d}" if ends_at else ""
    return f"{line.name}: +{amount} {kind.value}{until}"


def _apply_plan(
    scope: ScopedService, company: Company, order: Order, line: OrderLine, now: datetime
) -> str:
    plan = Plan(line.plan_code or company.plan)
    # Beat's expiry of a lapsed period takes the same lock: it never sees half of this.
    lock_company(scope.db, company.id)
    current = plan_in_force(scope, now)
    if current is not None and current.plan_code is plan and current.ends_at is not None:
        starts_at = current.ends_at  # a renewal: the paid periods follow each other
    else:
        starts_at = now
        if current is not None:
            current.revoked_at = now
        put_on_plan(scope, company, plan, f"order {order.id}")
    months = MONTHS[line.period or BillingPeriod.MONTH] * line.quantity
    ends_at = add_months(starts_at, months)
    scope.db.add(_entitlement(order, line, EntitlementKind.PLAN, starts_at, ends_at, plan=plan))
    return f"plan {plan.value} from {starts_at:%Y-%m-%d} until {ends_at:%Y-%m-%d}"


def _entitlement(
    order: Order,
    line: OrderLine,
    kind: EntitlementKind,
    starts_at: datetime,
    ends_at: datetime | None,
    *,
    amount: int | None = None,
    plan: Plan | None = None,
) -> Entitlement:
    return Entitlement(
        company_id=order.company_id,
        order_id=order.id,
        order_line_id=line.id,
        kind=kind,
        plan_code=plan,
        amount=amount,
        starts_at=starts_at,
        ends_at=ends_at,
    )


def put_on_plan(scope: ScopedService, company: Company, plan: Plan, why: str) -> None:
    """Move the company to `plan` for a billing reason, recorded in its audit log as an
    admin's change is (`via` says why)."""
    if company.plan is plan:
        return
    before, company.plan = company.plan, plan
    changes = {"before": {"plan": before}, "after": {"plan": plan}, "via": why}
    scope.audit("company.plan_changed", "company", company.id, changes)


def plan_in_force(scope: ScopedService, now: datetime) -> Entitlement | None:
    """The paid plan period the company is in, or will be in last (a renewal paid ahead)."""
    latest: Entitlement | None = scope.db.scalar(
        scope.scoped(Entitlement)
        .where(
            Entitlement.kind == EntitlementKind.PLAN,
            Entitlement.revoked_at.is_(None),
            Entitlement.ends_at > now,
        )
        .order_by(Entitlement.ends_at.desc())
        .limit(1)
    )
    return latest


@dataclass(frozen=True, slots=True)
class Reversal:
    reversed: str
    not_reversed: str


def reverse(scope: ScopedService, order: Order, now: datetime) -> Reversal:
    """Take back what `order` gave: its entitlements end now, and a plan it paid for ends
    with them (the company returns to the free plan unless another paid period holds).
    What the company already uses above its new limits is kept, never deleted: files above
    the storage quota stay readable (uploads are refused until usage is under it again),
    AR contents above the limit stay published (new ones are refused)."""
    given = list(
        scope.db.scalars(scope.scoped(Entitlement).where(Entitlement.order_id == order.id))
    )
    taken = [entitlement for entitlement in given if entitlement.revoked_at is None]
    for entitlement in taken:
        entitlement.revoked_at = now
    company = scope.db.get_one(Company, order.company_id)
    if any(e.kind is EntitlementKind.PLAN and e.plan_code is company.plan for e in taken):
        still = plan_in_force(scope, now)
        plan = still.plan_code if still and still.plan_code else Plan.FREE
        put_on_plan(scope, company, plan, f"refund of order {order.id}")
    scope.db.flush()
    return Reversal(
        reversed="; ".join(_described(e) for e in taken) or "nothing was in force",
        not_reversed="; ".join(_kept_above_limits(scope, company, now)),
    )


def _described(entitlement: Entitlement) -> str:
    if entitlement.kind is EntitlementKind.PLAN and entitlement.plan_code is not None:
        return f"plan {entitlement.plan_code.value} ended"
    return f"{entitlement.amount} {entitlement.kind.value} taken back"


def _kept_above_limits(scope: ScopedService, company: Company, now: datetime) -> list[str]:
    limits = limits_for(scope.db, company, now)
    kept: list[str] = []
    stored = measure_usage(scope, company).total_bytes
    if stored > limits.storage_bytes:
        kept.append(
            f"{stored - limits.storage_bytes} bytes stored above the quota of "
            f"{limits.storage_bytes} are kept, read-only: uploads are refused until usage "
            "is under the quota"
        )
    contents = contents_counted(scope)
    if contents > limits.max_ar_contents:
        kept.append(
            f"{contents - limits.max_ar_contents} AR contents above the limit of "
            f"{limits.max_ar_contents} are kept; new ones are refused"
        )
    return kept
