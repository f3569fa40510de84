"""The catalogue: what companies can buy. Platform data, not a company's: platform admins
keep it, every signed-in user reads what is on sale. Changes are recorded in the audit log
(with no company) with the superuser who made them."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.exceptions import (
    CurrencyNotSupportedError,
    NotFoundError,
    ProductCodeTakenError,
    ProductInvalidError,
)
from app.models.audit import ActorKind
from app.models.billing import CURRENCY, PlanDefinition, Product, ProductKind
from app.models.company import Plan
from app.schemas.billing import PlanUpdate, ProductCreate, ProductUpdate
from app.services.audit_service import AuditService
from app.services.context import RequestMeta
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.plans import definition_of

# What each kind must (True) or must not (False) have.
_KIND_FIELDS: dict[ProductKind, dict[str, bool]] = {
    ProductKind.PLAN: {"plan_code": True, "period": True, "quantity": False},
    ProductKind.STORAGE_ADDON: {"plan_code": False, "quantity": True},
    ProductKind.CONTENT_PACK: {"plan_code": False, "quantity": True},
    ProductKind.PRINT_SERVICE: {"plan_code": False, "period": False, "quantity": False},
}


class CatalogueService:
    def __init__(self, db: Session) -> None:
        self.db = db

    def on_sale(self, kind: ProductKind | None, params: PageParams) -> ResultPage[Product]:
        return self.products(kind, True, params)

    def products(
        self, kind: ProductKind | None, active: bool | None, params: PageParams
    ) -> ResultPage[Product]:
        statement = select(Product).order_by(Product.kind, Product.price_kopecks, Product.id)
        if kind is not None:
            statement = statement.where(Product.kind == kind)
        if active is not None:
            statement = statement.where(Product.active.is_(active))
        return paginate(self.db, statement, params)

    def get(self, product_id: uuid.UUID) -> Product:
        product = self.db.get(Product, product_id)
        if product is None:
            raise NotFoundError.for_entity("Product", product_id)
        return product


class CatalogueAdmin(CatalogueService):
    """What a platform superuser (`admin_id`) does to the catalogue."""

    def __init__(self, db: Session, admin_id: uuid.UUID, meta: RequestMeta) -> None:
        super().__init__(db)
        self.admin_id = admin_id
        self.meta = meta

    def create(self, body: ProductCreate) -> Product:
        _check_currency(body.currency)
        _check_kind(body)
        product = Product(**body.model_dump())
        self._save(product, {})
        self._audit("product.created", "product", product.id, body.model_dump(mode="json"))
        return product

    def update(self, product_id: uuid.UUID, body: ProductUpdate) -> Product:
        changes = body.model_dump(exclude_unset=True)
        for field in ("name", "price_kopecks", "currency", "vat_rate", "vat_included", "active"):
            if field in changes and changes[field] is None:
                raise ProductInvalidError(
                    f"{field} cannot be null; leave it out to keep it.",
                    details={"field": field},
                )
        if "currency" in changes:
            _check_currency(changes["currency"])
        product = self.get(product_id)
        self._save(product, changes)
        self._audit(
            "product.updated",
            "product",
            product.id,
            body.model_dump(mode="json", exclude_unset=True),
        )
        return product

    def plans(self) -> list[PlanDefinition]:
        return list(self.db.scalars(select(PlanDefinition).order_by(PlanDefinition.storage_bytes)))

    def update_plan(self, code: Plan, body: PlanUpdate) -> PlanDefinition:
        changes = body.model_dump(mode="json", exclude_unset=True)
        for field, value in changes.items():
            if value is None:
                raise ProductInvalidError(
                    f"{field} cannot be null; leave it out to keep it.", details={"field": field}
                )
        plan = definition_of(self.db, code)
        for field, value in changes.items():
            setattr(plan, field, sorted(set(value)) if field == "features" else value)
        self.db.flush()
        self._audit("plan.updated", "plan", plan.id, changes)
        return plan

    def _save(self, product: Product, changes: dict[str, Any]) -> None:
        try:
            with self.db.begin_nested():
                self.db.add(product)
                for field, value in changes.items():
                    setattr(product, field, value)
                self.db.flush()
        except IntegrityError as error:
            raise ProductCodeTakenError(
                f"A product with code {product.code!r} exists.", details={"code": product.code}
            ) from error

    def _audit(
        self, action: str, entity_type: str, entity_id: uuid.UUID, changes: dict[str, Any]
    ) -> None:
        AuditService(self.db).record(
            action,
            entity_type=entity_type,
            entity_id=entity_id,
            actor_user_id=self.admin_id,
            actor_kind=ActorKind.SUPPORT,
            meta=self.meta,
            changes=changes,
        )


def _check_currency(currency: str) -> None:
    if currency != CURRENCY:
        raise CurrencyNotSupportedError(
            f"Prices are in {CURRENCY} only.", details={"currency": currency}
        )


def _check_kind(body: ProductCreate) -> None:
    for field, required in _KIND_FIELDS[body.kind].items():
        present = getattr(body, field) is not None
        if present != required:
            need = "needs" if required else "takes no"
            raise ProductInvalidError(
                f"A {body.kind.value} product {need} {field}.", details={"field": field}
            )
