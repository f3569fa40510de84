"""What billing tells a company's owners: an order paid, a payment failed, a refund done,
an invoice ready, a renewal due. Each is an email per owner, in the owner's language, added
to the outbox in the transaction of the change it reports, so it is sent once that change
commits and never without it."""

import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.models.billing import Order, Refund
from app.models.company import Company, Membership
from app.models.user import Language, User
from app.services.context import SystemActor
from app.services.emails import Emails
from app.services.invoice_pdf import NBSP, format_roubles
from app.services.tenant import ScopedService


def amount(kopecks: int) -> str:
    return f"{format_roubles(kopecks)}{NBSP}₽"


def order_number(order: Order) -> str:
    """How people name an order in emails: the first eight characters of its id."""
    return str(order.id)[:8].upper()


class BillingNotices:
    def __init__(self, db: Session, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def order_paid(self, order: Order) -> None:
        self._about(order, "order_paid", amount=amount(order.total_kopecks))

    def payment_failed(self, order: Order, reason: str) -> None:
        self._about(order, "payment_failed", amount=amount(order.total_kopecks), reason=reason)

    def refund_done(self, order: Order, refund: Refund) -> None:
        self._about(
            order,
            "refund_done",
            amount=amount(refund.amount_kopecks),
            not_reversed=refund.not_reversed or "",
        )

    def invoice_ready(self, order: Order, invoice_number: str, link: str) -> None:
        """To the owners, and to the company's address for invoices when it has one (its
        accountant, in Russian)."""
        context = {
            "order_number": order_number(order),
            "invoice_number": invoice_number,
            "amount": amount(order.total_kopecks),
            "link": link,
            "link_ttl_hours": self.settings.INVOICE_LINK_TTL_HOURS,
        }
        owners = self._to_owners(order.company_id, "invoice_ready", **context)
        company = self.db.get_one(Company, order.company_id)
        accounts = company.settings.legal.email
        if accounts is not None and accounts.lower() not in owners:
            Emails(self.db, self.settings).queue(
                "invoice_ready", accounts, Language.RU, company_name=company.name, **context
            )

    def renewal_due(self, renewal: Order, plan_name: str, period_end: str) -> None:
        self._to_owners(
            renewal.company_id,
            "renewal_due",
            plan_name=plan_name,
            period_end=period_end,
            amount=amount(renewal.total_kopecks),
            link=self.order_link(renewal),
        )

    def order_link(self, order: Order) -> str:
        return f"{self.settings.PUBLIC_BASE_URL}/companies/{order.company_id}/orders/{order.id}"

    def _about(self, order: Order, kind: str, **context: Any) -> None:
        self._to_owners(
            order.company_id,
            kind,
            order_number=order_number(order),
            link=self.order_link(order),
            **context,
        )

    def _to_owners(self, company_id: uuid.UUID, kind: str, **context: Any) -> set[str]:
        """Queue the email for each owner; their addresses, lowercased."""
        scope = ScopedService(self.db, SystemActor(company_id, task=f"billing.{kind}"))
        company = self.db.get_one(Company, company_id)
        owners = self.db.scalars(
            scope.scoped(Membership)
            .where(Membership.role == Role.OWNER)
            .join(User, User.id == Membership.user_id)
            .with_only_columns(User)
            .order_by(User.email)
        )
        emails = Emails(self.db, self.settings)
        told: set[str] = set()
        for owner in owners:
            emails.queue(kind, owner.email, owner.language, company_name=company.name, **context)
            told.add(owner.email.lower())
        return told
