"""Platform administration, for platform superusers only: acts on any company, whether
or not the caller is a member, and keeps the catalogue. Every change is recorded in the
audit log (the company's, for a change to a company)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from sqlalchemy.orm import Session

from app.api.deps import AdminServiceDep, CurrentUser, DbSession, PageParamsDep, RequestMetaDep
from app.api.openapi import raises
from app.core.exceptions import (
    CurrencyNotSupportedError,
    NotFoundError,
    OutboxMessageNotDeadError,
    PermissionDeniedError,
    ProductCodeTakenError,
    ProductInvalidError,
    UnknownPlanError,
)
from app.models.billing import ProductKind
from app.models.company import Company
from app.models.outbox import OutboxStatus
from app.models.user import User
from app.schemas.admin import AdminCompanyResponse, CompanyPlanUpdate, OutboxMessageResponse
from app.schemas.billing import ProductCreate, ProductResponse, ProductUpdate
from app.schemas.common import Page
from app.schemas.company import CompanyResponse, PlanResponse
from app.services import outbox
from app.services.admin_service import PlatformActor
from app.services.catalogue_service import CatalogueAdmin
from app.services.plans import limits_for


@raises(PermissionDeniedError)
def require_superuser(user: CurrentUser) -> User:
    if not user.is_superuser:
        raise PermissionDeniedError(
            "Only platform superusers may use the admin API.",
            details={"required": "superuser"},
        )
    return user


Superuser = Annotated[User, Depends(require_superuser)]

router = APIRouter(prefix="/admin", tags=["admin"])


def admin_view(db: Session, company: Company) -> AdminCompanyResponse:
    limits = limits_for(db, company)
    return AdminCompanyResponse.model_validate(
        {
            **CompanyResponse.model_validate(company).model_dump(),
            "limits": PlanResponse(
                code=limits.code,
                max_members=limits.max_members,
                storage_bytes=limits.storage_bytes,
                max_ar_contents=limits.max_ar_contents,
                features=sorted(feature.value for feature in limits.features),
            ),
        }
    )


@router.patch(
    "/companies/{company_id}",
    summary="Change a company's plan",
    description="Puts the company on another plan at once (limits and features follow). "
    "Recorded in the company's audit log as `company.plan_changed` with the old and new "
    "plan; choosing the current plan changes and records nothing. Platform superusers only.",
)
@raises(NotFoundError, UnknownPlanError)
def change_company_plan(
    company_id: Annotated[uuid.UUID, Path(description="The company to change.")],
    body: CompanyPlanUpdate,
    user: Superuser,
    admin: AdminServiceDep,
    db: DbSession,
) -> AdminCompanyResponse:
    actor = PlatformActor(via="api", user_id=user.id)
    change = admin.change_plan(company_id, body.plan, actor)
    return admin_view(db, change.company)


@router.get(
    "/outbox",
    summary="Outbox messages",
    description="Emails (and later other notifications) waiting, sent or dead-lettered, "
    "most recently changed first. `status=dead` lists what could not be delivered, with "
    "the reason. Platform superusers only.",
)
def list_outbox(
    _: Superuser,
    db: DbSession,
    page: PageParamsDep,
    status: Annotated[
        OutboxStatus | None, Query(description="Only messages in this state.")
    ] = None,
) -> Page[OutboxMessageResponse]:
    result = outbox.list_messages(db, status, page)
    return Page[OutboxMessageResponse].model_validate(result, from_attributes=True)


@router.post(
    "/outbox/{message_id}/retry",
    summary="Retry a dead-lettered message",
    description="Gives a `dead` message a fresh set of attempts and sends it at once. "
    "Platform superusers only.",
)
@raises(NotFoundError, OutboxMessageNotDeadError)
def retry_outbox_message(
    message_id: Annotated[uuid.UUID, Path(description="The message to send again.")],
    _: Superuser,
    db: DbSession,
) -> OutboxMessageResponse:
    return OutboxMessageResponse.model_validate(outbox.retry_dead(db, message_id))


ProductId = Annotated[uuid.UUID, Path(description="The product's id.")]


def get_catalogue_admin(user: Superuser, db: DbSession, meta: RequestMetaDep) -> CatalogueAdmin:
    return CatalogueAdmin(db, user.id, meta)


CatalogueAdminDep = Annotated[CatalogueAdmin, Depends(get_catalogue_admin)]


@router.post(
    "/products", status_code=status.HTTP_201_CREATED, summary="Add a product to the catalogue"
)
@raises(ProductInvalidError, CurrencyNotSupportedError, ProductCodeTakenError)
def create_product(body: ProductCreate, catalogue: CatalogueAdminDep) -> ProductResponse:
    """Priced in kopecks, in RUB only. A `plan` names its plan and period; a storage add-on
    its bytes, a content pack its AR contents. Recorded in the audit log. Platform
    superusers only."""
    return ProductResponse.model_validate(catalogue.create(body))


@router.get("/products", summary="The whole catalogue")
def list_products(
    catalogue: CatalogueAdminDep,
    page: PageParamsDep,
    kind: Annotated[ProductKind | None, Query(description="Only products of this kind.")] = None,
    active: Annotated[bool | None, Query(description="Only products on sale, or retired.")] = None,
) -> Page[ProductResponse]:
    """Retired products included unless `active` says otherwise. Platform superusers only."""
    result = catalogue.products(kind, active, page)
    return Page[ProductResponse].model_validate(result, from_attributes=True)


@router.patch("/products/{product_id}", summary="Change or retire a product")
@raises(NotFoundError, ProductInvalidError, CurrencyNotSupportedError)
def update_product(
    product_id: ProductId, body: ProductUpdate, catalogue: CatalogueAdminDep
) -> ProductResponse:
    """Its name, description, price, VAT or whether it is on sale (`active`). Orders already
    placed keep the price they copied. Recorded in the audit log. Platform superusers
    only."""
    return ProductResponse.model_validate(catalogue.update(product_id, body))
