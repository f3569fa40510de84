"""What billing tells a company's owners: an order paid, a payment failed, a refund done,
an invoice ready, a renewal due. Each is an event (`services.notifications`) written in
the transaction of the change it reports, so it is told once that change commits and
never without it; the owners hear it on the channels they chose (by default in the app
and by email, with the billing templates). An invoice also goes to the company's address
for invoices, when it has one."""

from typing import Any

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.models.billing import Order, Refund
from app.models.company import Company
from app.models.user import Language
from app.services import notifications
from app.services.emails import Emails
from app.services.invoice_pdf import NBSP, format_roubles


def amount(kopecks: int) -> str:
    return f"{format_roubles(kopecks)}{NBSP}₽"


def order_number(order: Order) -> str:
    """How people name an order: the first eight characters of its id."""
    return str(order.id)[:8].upper()


class BillingNotices:
    def __init__(self, db: Session, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def order_paid(self, order: Order) -> None:
        self._about(order, "order.paid", amount=amount(order.total_kopecks))

    def payment_failed(self, order: Order, reason: str) -> None:
        self._about(order, "payment.failed", amount=amount(order.total_kopecks), reason=reason)

    def refund_done(self, order: Order, refund: Refund) -> None:
        self._about(
            order,
            "refund.done",
            amount=amount(refund.amount_kopecks),
            not_reversed=refund.not_reversed or "",
        )

    def invoice_ready(self, order: Order, invoice_number: str, link: str) -> None:
        """To the owners, and to the company's address for invoices when it has one (its
        accountant, in Russian: not a member, so not through preferences)."""
        values = {
            "invoice_number": invoice_number,
            "amount": amount(order.total_kopecks),
            "link_ttl_hours": self.settings.INVOICE_LINK_TTL_HOURS,
        }
        # The email links the signed PDF; the notification, the order.
        self._about(order, "invoice.ready", link=link, **values)
        company = self.db.get_one(Company, order.company_id)
        accounts = company.settings.legal.email
        if accounts is not None:
            Emails(self.db, self.settings).queue(
                "invoice_ready",
                accounts,
                Language.RU,
                company_name=company.name,
                order_number=order_number(order),
                link=link,
                **values,
            )

    def renewal_due(self, renewal: Order, plan_name: str, period_end: str) -> None:
        self._about(
            renewal,
            "renewal.due",
            plan_name=plan_name,
            period_end=period_end,
            amount=amount(renewal.total_kopecks),
        )

    def order_link(self, order: Order) -> str:
        return notifications.app_link(self.settings, order.company_id, "orders", order.id)

    def _about(self, order: Order, type_name: str, **values: Any) -> None:
        notifications.emit(
            self.db,
            self.settings,
            type_name,
            {"order_id": str(order.id), "order_number": order_number(order), **values},
            company_id=order.company_id,
            link=self.order_link(order),
        )
