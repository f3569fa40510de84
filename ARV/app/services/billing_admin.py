"""What platform admins do to companies' orders: record a bank transfer that arrived, give
money back, mark a print service made. Each acts in the order's company as the system
would, recorded in that company's audit log with the admin as the actor (`support`)."""

import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.exceptions import NotFoundError
from app.models.billing import Order, Payment, Refund
from app.services import fulfilment, payment_service, refund_service
from app.services.admin_service import PlatformActor
from app.services.audit_service import AuditService
from app.services.context import RequestMeta
from app.services.payment_service import BankTransfer
from app.services.refund_service import RefundRequest
from app.services.tenant import system_scope


class BillingAdmin:
    def __init__(
        self, db: Session, settings: Settings, actor: PlatformActor, meta: RequestMeta
    ) -> None:
        self.db = db
        self.settings = settings
        self.actor = actor
        self.meta = meta

    def record_bank_transfer(self, order_id: uuid.UUID, transfer: BankTransfer) -> Payment:
        payment = payment_service.record_bank_transfer(
            self.db, self.settings, self.actor, order_id, transfer
        )
        self._audit(
            "payment.recorded",
            payment.company_id,
            "payment",
            payment.id,
            {"order_id": str(order_id), "reference": transfer.reference},
        )
        return payment

    def refund(self, order_id: uuid.UUID, request: RefundRequest) -> Refund:
        made = refund_service.refund(self.db, self.settings, self.actor, order_id, request)
        self._audit(
            "order.refunded",
            made.company_id,
            "order",
            order_id,
            {"refund_id": str(made.id), "amount_kopecks": made.amount_kopecks},
        )
        return made

    def mark_fulfilled(self, order_id: uuid.UUID, note: str) -> Order:
        """A print service was made and handed over: the paid order is fulfilled."""
        scope = system_scope(self.db, Order, order_id, "orders.fulfil")
        if scope is None:
            raise NotFoundError.for_entity("Order", order_id)
        order = scope.get_owned(Order, order_id, "Order", for_update=True)
        fulfilment.mark_printed(scope, order, self.actor, note)
        self._audit("order.fulfilled", order.company_id, "order", order.id, {"note": note})
        return order

    def _audit(
        self,
        action: str,
        company_id: uuid.UUID,
        entity_type: str,
        entity_id: uuid.UUID,
        changes: dict[str, Any],
    ) -> None:
        AuditService(self.db).record(
            action,
            entity_type=entity_type,
            entity_id=entity_id,
            actor_user_id=self.actor.user_id,
            actor_kind=self.actor.kind,
            meta=self.meta,
            company_id=company_id,
            changes=changes,
        )
