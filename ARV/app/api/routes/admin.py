"""Platform administration, for platform superusers only: acts on any company, whether
or not the caller is a member. Every change is recorded in the company's audit log."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.api.deps import AdminServiceDep, CurrentUser, DbSession, PageParamsDep
from app.api.openapi import raises
from app.core.exceptions import (
    NotFoundError,
    OutboxMessageNotDeadError,
    PermissionDeniedError,
    UnknownPlanError,
)
from app.models.company import Company
from app.models.outbox import OutboxStatus
from app.models.user import User
from app.schemas.admin import AdminCompanyResponse, CompanyPlanUpdate, OutboxMessageResponse
from app.schemas.common import Page
from app.schemas.company import CompanyResponse, PlanResponse
from app.services import outbox
from app.services.admin_service import PlatformActor
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


def admin_view(company: Company) -> AdminCompanyResponse:
    limits = limits_for(company)
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
) -> AdminCompanyResponse:
    actor = PlatformActor(via="api", user_id=user.id)
    change = admin.change_plan(company_id, body.plan, actor)
    return admin_view(change.company)


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
