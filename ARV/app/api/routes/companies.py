"""Companies (tenants), their members, invitations and audit log.

Every route under /companies/{company_id} resolves the caller's membership first: a
company you do not belong to answers 404, and a role without the needed permission 403.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from app.api.deps import (
    CurrentUser,
    DbSession,
    PageParamsDep,
    RequestMetaDep,
    SettingsDep,
    company_context,
)
from app.api.routes.tenant_common import TENANT, TENANT_ERRORS
from app.core.permissions import Action, Role
from app.models.company import Company
from app.schemas.auth import TokenRequest
from app.schemas.common import Page
from app.schemas.company import (
    AuditLogResponse,
    CompanyCreate,
    CompanyDetail,
    CompanyResponse,
    CompanyUpdate,
    InvitationCreate,
    InvitationResponse,
    MemberResponse,
    PlanResponse,
    RoleChange,
)
from app.services.audit_service import AuditService
from app.services.company_service import CompanyService
from app.services.context import CompanyContext
from app.services.membership_service import MembershipService, accept_invitation
from app.services.plans import limits_for

router = APIRouter(tags=["companies"])


def detail(company: Company, role: Role) -> CompanyDetail:
    limits = limits_for(company)
    return CompanyDetail.model_validate(
        {
            **CompanyResponse.model_validate(company).model_dump(),
            "role": role,
            "limits": PlanResponse(
                code=limits.code,
                max_members=limits.max_members,
                storage_bytes=limits.storage_bytes,
                max_ar_contents=limits.max_ar_contents,
                features=sorted(feature.value for feature in limits.features),
            ),
        }
    )


@router.post("/companies", status_code=status.HTTP_201_CREATED, summary="Create a company")
def create_company(
    body: CompanyCreate, user: CurrentUser, db: DbSession, meta: RequestMetaDep
) -> CompanyDetail:
    company = CompanyService(db, meta).create(user, body.name, body.settings)
    return detail(company, Role.OWNER)


@router.get("/companies", summary="Companies you belong to")
def list_companies(
    user: CurrentUser, db: DbSession, meta: RequestMetaDep, page: PageParamsDep
) -> Page[CompanyResponse]:
    result = CompanyService(db, meta).list_for_user(user, page)
    return Page[CompanyResponse].model_validate(result, from_attributes=True)


@router.get(
    TENANT, summary="One company, with your role and the plan's limits", responses=TENANT_ERRORS
)
def read_company(
    ctx: Annotated[CompanyContext, company_context(Action.COMPANY_READ)],
) -> CompanyDetail:
    return detail(ctx.company, ctx.role)


@router.patch(TENANT, summary="Rename or change settings", responses=TENANT_ERRORS)
def update_company(
    body: CompanyUpdate,
    ctx: Annotated[CompanyContext, company_context(Action.COMPANY_UPDATE)],
    db: DbSession,
) -> CompanyDetail:
    company = CompanyService(db, ctx.meta).update(ctx, body.name, body.settings)
    return detail(company, ctx.role)


@router.delete(
    TENANT, status_code=status.HTTP_204_NO_CONTENT, summary="Delete (soft)", responses=TENANT_ERRORS
)
def delete_company(
    ctx: Annotated[CompanyContext, company_context(Action.COMPANY_DELETE)], db: DbSession
) -> None:
    CompanyService(db, ctx.meta).delete(ctx)


@router.get(f"{TENANT}/members", summary="Members and their roles", responses=TENANT_ERRORS)
def list_members(
    ctx: Annotated[CompanyContext, company_context(Action.MEMBER_READ)],
    db: DbSession,
    settings: SettingsDep,
    page: PageParamsDep,
    role: Annotated[Role | None, Query(description="Only members with this role.")] = None,
) -> Page[MemberResponse]:
    result = MembershipService(db, ctx, settings).list_members(page, role)
    return Page[MemberResponse].model_validate(result, from_attributes=True)


@router.patch(
    f"{TENANT}/members/{{user_id}}", summary="Change a member's role", responses=TENANT_ERRORS
)
def change_member_role(
    user_id: uuid.UUID,
    body: RoleChange,
    ctx: Annotated[CompanyContext, company_context(Action.MEMBER_MANAGE)],
    db: DbSession,
    settings: SettingsDep,
) -> MemberResponse:
    membership = MembershipService(db, ctx, settings).change_role(user_id, body.role)
    return MemberResponse.model_validate(membership)


@router.delete(
    f"{TENANT}/members/{{user_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
    responses=TENANT_ERRORS,
)
def remove_member(
    user_id: uuid.UUID,
    ctx: Annotated[CompanyContext, company_context(Action.MEMBER_MANAGE)],
    db: DbSession,
    settings: SettingsDep,
) -> None:
    MembershipService(db, ctx, settings).remove(user_id)


@router.post(
    f"{TENANT}/leave",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Leave the company (the last owner cannot)",
    responses=TENANT_ERRORS,
)
def leave_company(
    ctx: Annotated[CompanyContext, company_context(Action.COMPANY_READ)],
    db: DbSession,
    settings: SettingsDep,
) -> None:
    MembershipService(db, ctx, settings).leave()


@router.post(
    f"{TENANT}/invitations",
    status_code=status.HTTP_201_CREATED,
    summary="Invite someone by email",
    responses=TENANT_ERRORS,
)
def create_invitation(
    body: InvitationCreate,
    ctx: Annotated[CompanyContext, company_context(Action.MEMBER_INVITE)],
    db: DbSession,
    settings: SettingsDep,
) -> InvitationResponse:
    invitation = MembershipService(db, ctx, settings).invite(body.email, body.role)
    return InvitationResponse.model_validate(invitation)


@router.get(f"{TENANT}/invitations", summary="Invitations", responses=TENANT_ERRORS)
def list_invitations(
    ctx: Annotated[CompanyContext, company_context(Action.MEMBER_INVITE)],
    db: DbSession,
    settings: SettingsDep,
    page: PageParamsDep,
    include_closed: Annotated[bool, Query(description="Also accepted and revoked ones.")] = False,
) -> Page[InvitationResponse]:
    result = MembershipService(db, ctx, settings).list_invitations(page, include_closed)
    return Page[InvitationResponse].model_validate(result, from_attributes=True)


@router.delete(
    f"{TENANT}/invitations/{{invitation_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an invitation",
    responses=TENANT_ERRORS,
)
def revoke_invitation(
    invitation_id: uuid.UUID,
    ctx: Annotated[CompanyContext, company_context(Action.MEMBER_INVITE)],
    db: DbSession,
    settings: SettingsDep,
) -> None:
    MembershipService(db, ctx, settings).revoke_invitation(invitation_id)


@router.post(
    f"{TENANT}/invitations/{{invitation_id}}/resend",
    summary="Send the invitation again with a fresh link",
    responses=TENANT_ERRORS,
)
def resend_invitation(
    invitation_id: uuid.UUID,
    ctx: Annotated[CompanyContext, company_context(Action.MEMBER_INVITE)],
    db: DbSession,
    settings: SettingsDep,
) -> InvitationResponse:
    invitation = MembershipService(db, ctx, settings).resend_invitation(invitation_id)
    return InvitationResponse.model_validate(invitation)


@router.post(
    "/invitations/accept",
    summary="Accept an invitation sent to your email address",
)
def accept(
    body: TokenRequest, user: CurrentUser, db: DbSession, meta: RequestMetaDep
) -> CompanyDetail:
    company, membership = accept_invitation(db, user, body.token, meta)
    return detail(company, membership.role)


@router.get(f"{TENANT}/audit-logs", summary="Audit log, newest first", responses=TENANT_ERRORS)
def list_audit_logs(
    ctx: Annotated[CompanyContext, company_context(Action.AUDIT_READ)],
    db: DbSession,
    page: PageParamsDep,
    action: Annotated[str | None, Query(max_length=64, examples=["member.role_changed"])] = None,
    actor_user_id: uuid.UUID | None = None,
    entity_type: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[AwareDatetime | None, Query(description="With a time zone.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="With a time zone.")] = None,
) -> Page[AuditLogResponse]:
    result = AuditService(db).list_for_company(
        ctx.company_id,
        page,
        action=action,
        actor_user_id=actor_user_id,
        entity_type=entity_type,
        since=since,
        until=until,
    )
    return Page[AuditLogResponse].model_validate(result, from_attributes=True)
