"""Companies (tenants), their members, invitations and audit log.

Every route under /companies/{company_id} resolves the caller's membership first: a
company you do not belong to answers 404, and a role without the needed permission 403.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from app.api.deps import (
    AuditServiceDep,
    CompanyServiceDep,
    CurrentUser,
    DbSession,
    PageParamsDep,
    RequestMetaDep,
    company_context,
    tenant_service,
)
from app.api.openapi import raises
from app.api.routes.tenant_common import TENANT
from app.core.exceptions import (
    AlreadyMemberError,
    EmailNotVerifiedError,
    InvitationClosedError,
    InvitationExistsError,
    InvitationInvalidError,
    LastOwnerError,
    MemberLimitError,
    NotFoundError,
    PermissionDeniedError,
    SelfRemovalError,
)
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
from app.services import membership_service
from app.services.context import CompanyContext
from app.services.membership_service import MembershipService
from app.services.plans import limits_for

MembersReader = Annotated[MembershipService, tenant_service(MembershipService, Action.MEMBER_READ)]
MembersManager = Annotated[
    MembershipService, tenant_service(MembershipService, Action.MEMBER_MANAGE)
]
Inviter = Annotated[MembershipService, tenant_service(MembershipService, Action.MEMBER_INVITE)]
# Leaving needs no more than being a member.
MembersSelf = Annotated[MembershipService, tenant_service(MembershipService, Action.COMPANY_READ)]

router = APIRouter(tags=["companies"])
MemberId = Annotated[uuid.UUID, Path(description="The member's user id.")]
InvitationId = Annotated[uuid.UUID, Path(description="The invitation's id.")]


def detail(db: Session, company: Company, role: Role) -> CompanyDetail:
    limits = limits_for(db, company)
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
    body: CompanyCreate, user: CurrentUser, companies: CompanyServiceDep, db: DbSession
) -> CompanyDetail:
    """You become its owner. It starts on the free plan."""
    company = companies.create(user, body.name, body.settings)
    return detail(db, company, Role.OWNER)


@router.get("/companies", summary="Companies you belong to")
def list_companies(
    user: CurrentUser, companies: CompanyServiceDep, page: PageParamsDep
) -> Page[CompanyResponse]:
    """The companies you are a member of, by name."""
    result = companies.list_for_user(user, page)
    return Page[CompanyResponse].model_validate(result, from_attributes=True)


@router.get(TENANT, summary="One company, with your role and the plan's limits")
def read_company(
    ctx: Annotated[CompanyContext, company_context(Action.COMPANY_READ)],
    db: DbSession,
) -> CompanyDetail:
    """Answers 404 for a company you are not a member of."""
    return detail(db, ctx.company, ctx.role)


@router.patch(TENANT, summary="Rename or change settings")
def update_company(
    body: CompanyUpdate,
    ctx: Annotated[CompanyContext, company_context(Action.COMPANY_UPDATE)],
    companies: CompanyServiceDep,
    db: DbSession,
) -> CompanyDetail:
    """Takes `name` and/or `settings`; `settings`, when given, replaces the stored settings.
    Recorded in the audit log."""
    company = companies.update(ctx, body.name, body.settings)
    return detail(db, company, ctx.role)


@router.delete(TENANT, status_code=status.HTTP_204_NO_CONTENT, summary="Delete (soft)")
def delete_company(
    ctx: Annotated[CompanyContext, company_context(Action.COMPANY_DELETE)],
    companies: CompanyServiceDep,
) -> None:
    """Soft delete: from now on the company answers 404 to everybody. Owners only."""
    companies.delete(ctx)


@router.get(f"{TENANT}/members", summary="Members and their roles")
def list_members(
    members: MembersReader,
    page: PageParamsDep,
    role: Annotated[Role | None, Query(description="Only members with this role.")] = None,
) -> Page[MemberResponse]:
    """Paginated, by email."""
    result = members.list_members(page, role)
    return Page[MemberResponse].model_validate(result, from_attributes=True)


@router.patch(f"{TENANT}/members/{{user_id}}", summary="Change a member's role")
@raises(NotFoundError, PermissionDeniedError, LastOwnerError)
def change_member_role(
    user_id: MemberId,
    body: RoleChange,
    members: MembersManager,
) -> MemberResponse:
    """Only an owner may make or change owners, and the last owner cannot step down."""
    membership = members.change_role(user_id, body.role)
    return MemberResponse.model_validate(membership)


@router.delete(
    f"{TENANT}/members/{{user_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
)
@raises(NotFoundError, PermissionDeniedError, SelfRemovalError, LastOwnerError)
def remove_member(
    user_id: MemberId,
    members: MembersManager,
) -> None:
    """Only an owner may remove an owner; the last owner cannot be removed. Remove yourself with
    `leave`."""
    members.remove(user_id)


@router.post(
    f"{TENANT}/leave",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Leave the company (the last owner cannot)",
)
@raises(LastOwnerError)
def leave_company(
    members: MembersSelf,
) -> None:
    """Ends your membership; the last owner must appoint another first."""
    members.leave()


@router.post(
    f"{TENANT}/invitations",
    status_code=status.HTTP_201_CREATED,
    summary="Invite someone by email",
)
@raises(
    EmailNotVerifiedError,
    PermissionDeniedError,
    AlreadyMemberError,
    InvitationExistsError,
    MemberLimitError,
)
def create_invitation(
    body: InvitationCreate,
    members: Inviter,
) -> InvitationResponse:
    """Emails a link valid for INVITATION_TTL_DAYS. An open invitation holds a seat of the plan's
    member limit. Needs a confirmed email address."""
    invitation = members.invite(body.email, body.role)
    return InvitationResponse.model_validate(invitation)


@router.get(f"{TENANT}/invitations", summary="Invitations")
def list_invitations(
    members: Inviter,
    page: PageParamsDep,
    include_closed: Annotated[bool, Query(description="Also accepted and revoked ones.")] = False,
) -> Page[InvitationResponse]:
    """Open invitations, newest first; `include_closed` adds accepted and revoked ones."""
    result = members.list_invitations(page, include_closed)
    return Page[InvitationResponse].model_validate(result, from_attributes=True)


@router.delete(
    f"{TENANT}/invitations/{{invitation_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an invitation",
)
@raises(NotFoundError, InvitationClosedError, PermissionDeniedError)
def revoke_invitation(
    invitation_id: InvitationId,
    members: Inviter,
) -> None:
    """Its link stops working at once."""
    members.revoke_invitation(invitation_id)


@router.post(
    f"{TENANT}/invitations/{{invitation_id}}/resend",
    summary="Send the invitation again with a fresh link",
)
@raises(EmailNotVerifiedError, NotFoundError, InvitationClosedError, PermissionDeniedError)
def resend_invitation(
    invitation_id: InvitationId,
    members: Inviter,
) -> InvitationResponse:
    """The old link stops working and the expiry restarts."""
    invitation = members.resend_invitation(invitation_id)
    return InvitationResponse.model_validate(invitation)


@router.post(
    "/invitations/accept",
    summary="Accept an invitation sent to your email address",
)
@raises(InvitationInvalidError, MemberLimitError)
def accept_invitation(
    body: TokenRequest, user: CurrentUser, db: DbSession, meta: RequestMetaDep
) -> CompanyDetail:
    """Joins the company the token invites to. The signed-in account's email must be the invited
    one."""
    company, membership = membership_service.accept_invitation(db, user, body.token, meta)
    return detail(db, company, membership.role)


@router.get(f"{TENANT}/audit-logs", summary="Audit log, newest first")
def list_audit_logs(
    ctx: Annotated[CompanyContext, company_context(Action.AUDIT_READ)],
    audit: AuditServiceDep,
    page: PageParamsDep,
    action: Annotated[
        str | None,
        Query(max_length=64, examples=["member.role_changed"], description="Only this action."),
    ] = None,
    actor_user_id: Annotated[
        uuid.UUID | None, Query(description="Only what this user did.")
    ] = None,
    entity_type: Annotated[
        str | None, Query(max_length=64, description="Only entries about this kind of object.")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="With a time zone.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="With a time zone.")] = None,
) -> Page[AuditLogResponse]:
    """Who changed what, filtered by action, actor, entity type and time."""
    result = audit.list_for_company(
        ctx.company_id,
        page,
        action=action,
        actor_user_id=actor_user_id,
        entity_type=entity_type,
        since=since,
        until=until,
    )
    return Page[AuditLogResponse].model_validate(result, from_attributes=True)
