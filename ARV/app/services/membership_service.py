"""Members of a company, their roles, and invitations to join."""

import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from app.core.events import on_commit
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
from app.core.permissions import Role
from app.core.security import hash_token, new_opaque_token
from app.models.company import Company, Invitation, Membership
from app.models.project import ProjectGrant
from app.models.user import User
from app.services import live, notifications
from app.services.audit_service import AuditService
from app.services.claims import claim_once
from app.services.context import RequestMeta
from app.services.emails import Emails
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.plans import limits_for
from app.services.tenant import SettingsTenantService, lock_company
from app.services.user_service import normalize_email
from app.utils.clock import utcnow


class MembershipService(SettingsTenantService):
    # -- members -------------------------------------------------------------------------

    def list_members(self, params: PageParams, role: Role | None) -> ResultPage[Membership]:
        statement = (
            self.scoped(Membership)
            .join(User, User.id == Membership.user_id)
            .options(contains_eager(Membership.user))
            .order_by(User.email, Membership.id)
        )
        if role is not None:
            statement = statement.where(Membership.role == role)
        return paginate(self.db, statement, params)

    def change_role(self, user_id: uuid.UUID, role: Role) -> Membership:
        membership = self._membership(user_id)
        self._ensure_may_manage(membership.role, role)
        before = membership.role
        if before == Role.OWNER and role != Role.OWNER:
            self._ensure_another_owner(membership)
        membership.role = role
        self._audit("member.role_changed", membership, {"role": before.value}, {"role": role.value})
        return membership

    def remove(self, user_id: uuid.UUID) -> None:
        membership = self._membership(user_id)
        if membership.user_id == self.ctx.user.id:
            raise SelfRemovalError("Use leave to remove yourself from a company.")
        self._ensure_may_manage(membership.role, None)
        self._delete(membership, "member.removed")

    def leave(self) -> None:
        membership = self._membership(self.ctx.user.id)
        self._delete(membership, "member.left")

    def _delete(self, membership: Membership, action: str) -> None:
        if membership.role == Role.OWNER:
            self._ensure_another_owner(membership)
        self._audit(action, membership, {"role": membership.role.value}, {})
        self.db.delete(membership)
        # Their open sockets stop hearing the company as soon as this commits.
        user_id, company_id = membership.user_id, membership.company_id
        on_commit(self.db, lambda: live.left_company(self.settings, user_id, company_id))
        # Their access to restricted projects goes with them: were they invited back, they
        # would start without it.
        theirs = (
            self.scoped(ProjectGrant)
            .with_only_columns(ProjectGrant.project_id)
            .where(ProjectGrant.user_id == membership.user_id)
        )
        self.db.execute(
            delete(ProjectGrant).where(
                ProjectGrant.user_id == membership.user_id, ProjectGrant.project_id.in_(theirs)
            )
        )

    def _membership(self, user_id: uuid.UUID) -> Membership:
        membership: Membership | None = self.db.scalar(
            self.scoped(Membership)
            .options(joinedload(Membership.user))
            .where(Membership.user_id == user_id)
        )
        if membership is None:
            raise NotFoundError.for_entity("Member", user_id)
        return membership

    def _ensure_may_manage(self, current: Role, new: Role | None) -> None:
        # Only owners may touch owners or make new ones; admins manage everyone else.
        if Role.OWNER in (current, new) and self.ctx.role != Role.OWNER:
            raise PermissionDeniedError("Only an owner can change or remove owners.")

    def _ensure_another_owner(self, membership: Membership) -> None:
        # Lock the company's owner rows so two owners cannot demote each other at once.
        owners = self.db.scalars(
            self.scoped(Membership)
            .with_only_columns(Membership.id)
            .where(Membership.role == Role.OWNER)
            .with_for_update()
        ).all()
        if [owner for owner in owners if owner != membership.id] == []:
            raise LastOwnerError("A company must keep at least one owner; appoint another first.")

    # -- invitations ---------------------------------------------------------------------

    def invite(self, email: str, role: Role) -> Invitation:
        self._ensure_verified_inviter()
        self._ensure_may_manage(role, None)
        email = normalize_email(email)
        self._ensure_not_member(email)
        ensure_seat_available(self.db, self.ctx.company, counting_open_invitations=True)
        if self._open_invitation(email) is not None:
            raise InvitationExistsError(
                "This address already has an open invitation; resend it instead."
            )
        token = new_opaque_token()
        invitation = Invitation(
            company_id=self.ctx.company_id,
            email=email,
            role=role,
            token_hash=hash_token(token),
            invited_by_id=self.ctx.user.id,
            expires_at=utcnow() + timedelta(days=self.settings.INVITATION_TTL_DAYS),
        )
        self.db.add(invitation)
        self.db.flush()
        self._send_invitation(invitation, token)
        self._audit("invitation.created", invitation, {}, {"email": email, "role": role.value})
        return invitation

    def list_invitations(self, params: PageParams, include_closed: bool) -> ResultPage[Invitation]:
        statement = self.scoped(Invitation)
        if not include_closed:
            statement = statement.where(
                Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)
            )
        return paginate(
            self.db, statement.order_by(Invitation.created_at.desc(), Invitation.id), params
        )

    def revoke_invitation(self, invitation_id: uuid.UUID) -> None:
        invitation = self._open_invitation_by_id(invitation_id)
        self._ensure_may_manage(invitation.role, None)
        invitation.revoked_at = utcnow()
        self._audit("invitation.revoked", invitation, {"email": invitation.email}, {})

    def resend_invitation(self, invitation_id: uuid.UUID) -> Invitation:
        self._ensure_verified_inviter()
        invitation = self._open_invitation_by_id(invitation_id)
        self._ensure_may_manage(invitation.role, None)
        token = new_opaque_token()
        invitation.token_hash = hash_token(token)  # the old link stops working
        invitation.expires_at = utcnow() + timedelta(days=self.settings.INVITATION_TTL_DAYS)
        invitation.sent_count += 1
        self._send_invitation(invitation, token)
        self._audit("invitation.resent", invitation, {}, {"sent_count": invitation.sent_count})
        return invitation

    def _ensure_verified_inviter(self) -> None:
        if not self.ctx.user.is_verified:
            raise EmailNotVerifiedError("Confirm your email address before inviting members.")

    def _open_invitation(self, email: str) -> Invitation | None:
        invitation: Invitation | None = self.db.scalar(
            self.scoped(Invitation).where(
                Invitation.email == email,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
        )
        return invitation

    def _open_invitation_by_id(self, invitation_id: uuid.UUID) -> Invitation:
        invitation: Invitation | None = self.db.scalar(
            self.scoped(Invitation).where(Invitation.id == invitation_id)
        )
        if invitation is None:
            raise NotFoundError.for_entity("Invitation", invitation_id)
        if invitation.accepted_at or invitation.revoked_at:
            raise InvitationClosedError("This invitation was already accepted or revoked.")
        return invitation

    def _ensure_not_member(self, email: str) -> None:
        member = self.db.scalar(
            self.scoped(Membership)
            .with_only_columns(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(User.email == email)
        )
        if member is not None:
            raise AlreadyMemberError("This person is already a member.")

    def _send_invitation(self, invitation: Invitation, token: str) -> None:
        # In the invitee's language if they have an account, else in the inviter's.
        invitee = self.db.scalar(select(User).where(User.email == invitation.email))
        language = invitee.language if invitee else self.ctx.user.language
        Emails(self.db, self.settings).invitation(
            invitation.email, language, token, self.ctx.company.name, invitation.role.value
        )
        if invitee is not None:
            # An account's inbox hears it too (the company it is about is not theirs yet).
            notifications.emit(
                self.db,
                self.settings,
                "invitation.received",
                {"company_name": self.ctx.company.name, "role": invitation.role.value},
                user_id=invitee.id,
            )

    def _audit(
        self, action: str, entity: Membership | Invitation, before: object, after: object
    ) -> None:
        entity_type = "membership" if isinstance(entity, Membership) else "invitation"
        self.audit(action, entity_type, entity.id, {"before": before, "after": after})


def accept_invitation(
    db: Session, user: User, token: str, meta: RequestMeta
) -> tuple[Company, Membership]:
    """Join the company an invitation is for. The signed-in user's email must be the
    invited one, so a forwarded link cannot be used by somebody else."""
    invitation = claim_once(
        db,
        Invitation.accepted_at,
        Invitation.token_hash == hash_token(token),
        Invitation.revoked_at.is_(None),
        Invitation.email == user.email,
        expires=Invitation.expires_at,
        returning=Invitation,
    )
    company = db.get(Company, invitation.company_id) if invitation else None
    if invitation is None or company is None or company.is_deleted:
        raise InvitationInvalidError(
            "This invitation is invalid, expired, already used, or for another email address."
        )
    existing = db.scalar(
        select(Membership).where(Membership.company_id == company.id, Membership.user_id == user.id)
    )
    if existing is not None:
        return company, existing
    # The plan may have shrunk since the invitation was sent.
    ensure_seat_available(db, company, counting_open_invitations=False)
    membership = Membership(company_id=company.id, user_id=user.id, role=invitation.role)
    db.add(membership)
    db.flush()
    AuditService(db).record(
        "invitation.accepted",
        entity_type="invitation",
        entity_id=invitation.id,
        actor_user_id=user.id,
        meta=meta,
        company_id=company.id,
        changes={"after": {"role": invitation.role.value}},
    )
    return company, membership


def ensure_seat_available(
    db: Session, company: Company, *, counting_open_invitations: bool
) -> None:
    """Refuse when the plan's member limit is reached. An open invitation holds a seat, so
    invitations cannot promise more seats than the plan has."""
    # Lock the company row: concurrent invitations queue here instead of both passing.
    lock_company(db, company.id)
    limits = limits_for(db, company)
    used = (
        db.scalar(
            select(func.count()).select_from(Membership).where(Membership.company_id == company.id)
        )
        or 0
    )
    if counting_open_invitations:
        used += (
            db.scalar(
                select(func.count())
                .select_from(Invitation)
                .where(
                    Invitation.company_id == company.id,
                    Invitation.accepted_at.is_(None),
                    Invitation.revoked_at.is_(None),
                    Invitation.expires_at > utcnow(),
                )
            )
            or 0
        )
    if used >= limits.max_members:
        raise MemberLimitError(
            f"The {limits.code} plan allows {limits.max_members} members, invitations included.",
            details={"limit": limits.max_members, "used": used},
        )
