"""Members, roles, the last-owner rule, and invitations (email, accept, revoke, resend)."""

import uuid
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.background_tasks.names import QUEUE_NOTIFICATIONS
from app.core.config import Settings
from app.core.permissions import Role
from app.core.redis import get_redis
from app.models import Membership, OutboxMessage, OutboxStatus
from app.models.audit import AuditLog
from app.models.company import Invitation
from app.models.user import User
from app.services.context import CompanyContext, RequestMeta
from app.services.membership_service import MembershipService
from app.utils.clock import utcnow
from tests.support.factories import (
    Tenant,
    add_member,
    auth_headers,
    make_company,
    make_tenant,
    make_user,
    unique_email,
)
from tests.support.mailbox import Mailbox, tokens
from tests.support.mailbox import body as text_of

COMPANIES = "/api/v1/companies"
ACCEPT = "/api/v1/invitations/accept"


def assert_error(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "request_id"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body


# -- mail --------------------------------------------------------------------------------


def mails_to(mailbox: Mailbox, recipient: str) -> list[EmailMessage]:
    return mailbox.messages_to(recipient)


def tokens_to(mailbox: Mailbox, recipient: str) -> set[str]:
    found: set[str] = set()
    for message in mails_to(mailbox, recipient):
        found.update(tokens(message))
    return found


def only_token(mailbox: Mailbox, recipient: str) -> str:
    found = tokens_to(mailbox, recipient)
    assert len(found) == 1, found
    return found.pop()


# -- helpers -----------------------------------------------------------------------------


@pytest.fixture
def team(db: Session, settings: Settings) -> Tenant:
    """A company with one member of each role, on a plan with seats to spare."""
    tenant = make_tenant(db, settings)
    tenant.company.plan = "business"
    db.flush()
    return tenant


def members_url(tenant: Tenant, user_id: uuid.UUID | None = None) -> str:
    base = f"{COMPANIES}/{tenant.company.id}/members"
    return base if user_id is None else f"{base}/{user_id}"


def invitations_url(tenant: Tenant, suffix: str = "") -> str:
    return f"{COMPANIES}/{tenant.company.id}/invitations{suffix}"


def role_in(db: Session, company_id: uuid.UUID, user_id: uuid.UUID) -> Role | None:
    db.expire_all()
    return db.scalar(
        select(Membership.role).where(
            Membership.company_id == company_id, Membership.user_id == user_id
        )
    )


def member_count(db: Session, company_id: uuid.UUID) -> int:
    count = db.scalar(
        select(func.count()).select_from(Membership).where(Membership.company_id == company_id)
    )
    return count or 0


def invite(
    client: TestClient,
    tenant: Tenant,
    email: str,
    role: Role = Role.VIEWER,
    by: Role = Role.OWNER,
) -> dict[str, Any]:
    response = client.post(
        invitations_url(tenant),
        json={"email": email, "role": role.value},
        headers=tenant.headers[by],
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def signed_in(db: Session, settings: Settings, email: str) -> dict[str, str]:
    return auth_headers(db, settings, make_user(db, email))


def change_role(
    client: TestClient, tenant: Tenant, user: User, role: Role, by: Role
) -> httpx2.Response:
    return client.patch(
        members_url(tenant, user.id), json={"role": role.value}, headers=tenant.headers[by]
    )


def add_second_owner(db: Session, settings: Settings, tenant: Tenant) -> dict[str, str]:
    second = make_user(db)
    add_member(db, tenant.company, second, Role.OWNER)
    return auth_headers(db, settings, second)


# -- members -----------------------------------------------------------------------------


def test_list_members(client: TestClient, team: Tenant) -> None:
    response = client.get(members_url(team), headers=team.headers[Role.VIEWER])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 4
    by_user = {item["user"]["id"]: item for item in body["items"]}
    assert set(by_user) == {str(user.id) for user in team.users.values()}
    for role, user in team.users.items():
        assert by_user[str(user.id)]["role"] == role.value
        assert by_user[str(user.id)]["user"]["email"] == user.email
        assert "hashed_password" not in by_user[str(user.id)]["user"]
    emails = [item["user"]["email"] for item in body["items"]]
    assert emails == sorted(emails)


@pytest.mark.parametrize("role", list(Role))
def test_list_members_filters_by_role(client: TestClient, team: Tenant, role: Role) -> None:
    response = client.get(
        members_url(team), params={"role": role.value}, headers=team.headers[Role.VIEWER]
    )
    body = response.json()
    assert body["total"] == 1
    assert [item["user"]["id"] for item in body["items"]] == [str(team.users[role].id)]


def test_list_members_paginates_and_validates_the_filter(client: TestClient, team: Tenant) -> None:
    headers = team.headers[Role.EDITOR]
    first = client.get(members_url(team), params={"limit": 3}, headers=headers).json()
    rest = client.get(members_url(team), params={"limit": 3, "offset": 3}, headers=headers).json()
    assert (first["total"], len(first["items"]), rest["total"], len(rest["items"])) == (4, 3, 4, 1)
    assert_error(
        client.get(members_url(team), params={"role": "emperor"}, headers=headers),
        422,
        "validation_error",
    )


def test_admin_promotes_a_viewer_to_editor(client: TestClient, db: Session, team: Tenant) -> None:
    viewer = team.users[Role.VIEWER]
    response = change_role(client, team, viewer, Role.EDITOR, by=Role.ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "editor"
    assert response.json()["user"]["id"] == str(viewer.id)
    assert role_in(db, team.company.id, viewer.id) == Role.EDITOR
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "member.role_changed"))
    assert entry is not None
    assert entry.company_id == team.company.id
    assert entry.actor_user_id == team.users[Role.ADMIN].id
    assert entry.changes == {"before": {"role": "viewer"}, "after": {"role": "editor"}}


def test_admin_cannot_touch_an_owner(client: TestClient, db: Session, team: Tenant) -> None:
    owner = team.users[Role.OWNER]
    response = change_role(client, team, owner, Role.VIEWER, by=Role.ADMIN)
    assert_error(response, 403, "permission_denied")
    response = client.delete(members_url(team, owner.id), headers=team.headers[Role.ADMIN])
    assert_error(response, 403, "permission_denied")
    assert role_in(db, team.company.id, owner.id) == Role.OWNER


def test_admin_cannot_make_an_owner(client: TestClient, db: Session, team: Tenant) -> None:
    for target in (Role.VIEWER, Role.ADMIN):
        response = change_role(client, team, team.users[target], Role.OWNER, by=Role.ADMIN)
        assert_error(response, 403, "permission_denied")
        assert role_in(db, team.company.id, team.users[target].id) == target


def test_owner_can_make_another_owner(client: TestClient, db: Session, team: Tenant) -> None:
    admin = team.users[Role.ADMIN]
    response = change_role(client, team, admin, Role.OWNER, by=Role.OWNER)
    assert response.status_code == 200, response.text
    assert role_in(db, team.company.id, admin.id) == Role.OWNER


def test_changing_the_role_of_a_stranger_is_not_found(
    client: TestClient, db: Session, team: Tenant
) -> None:
    stranger = make_user(db)
    response = change_role(client, team, stranger, Role.EDITOR, by=Role.OWNER)
    body = assert_error(response, 404, "not_found")
    assert body["error"]["details"]["entity"] == "Member"
    assert role_in(db, team.company.id, stranger.id) is None


def test_sole_owner_cannot_demote_themselves_or_leave(
    client: TestClient, db: Session, team: Tenant
) -> None:
    owner = team.users[Role.OWNER]
    assert_error(change_role(client, team, owner, Role.ADMIN, by=Role.OWNER), 409, "last_owner")
    response = client.post(f"{COMPANIES}/{team.company.id}/leave", headers=team.headers[Role.OWNER])
    assert_error(response, 409, "last_owner")
    assert role_in(db, team.company.id, owner.id) == Role.OWNER


def test_with_two_owners_one_may_demote_themselves(
    client: TestClient, db: Session, settings: Settings, team: Tenant
) -> None:
    second_headers = add_second_owner(db, settings, team)
    owner = team.users[Role.OWNER]
    response = change_role(client, team, owner, Role.ADMIN, by=Role.OWNER)
    assert response.status_code == 200, response.text
    assert role_in(db, team.company.id, owner.id) == Role.ADMIN
    # Now the second owner is the last one.
    response = client.post(f"{COMPANIES}/{team.company.id}/leave", headers=second_headers)
    assert_error(response, 409, "last_owner")


def test_with_two_owners_one_may_leave(
    client: TestClient, db: Session, settings: Settings, team: Tenant
) -> None:
    add_second_owner(db, settings, team)
    owner = team.users[Role.OWNER]
    response = client.post(f"{COMPANIES}/{team.company.id}/leave", headers=team.headers[Role.OWNER])
    assert response.status_code == 204, response.text
    assert role_in(db, team.company.id, owner.id) is None
    response = client.get(f"{COMPANIES}/{team.company.id}", headers=team.headers[Role.OWNER])
    assert_error(response, 404, "not_found")


def test_owner_may_remove_another_owner(
    client: TestClient, db: Session, settings: Settings, team: Tenant
) -> None:
    second = make_user(db)
    add_member(db, team.company, second, Role.OWNER)
    second_headers = auth_headers(db, settings, second)
    response = client.delete(members_url(team, second.id), headers=team.headers[Role.OWNER])
    assert response.status_code == 204, response.text
    assert role_in(db, team.company.id, second.id) is None
    response = client.get(f"{COMPANIES}/{team.company.id}", headers=second_headers)
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("by", [Role.OWNER, Role.ADMIN])
def test_remove_a_member(client: TestClient, db: Session, team: Tenant, by: Role) -> None:
    editor = team.users[Role.EDITOR]
    response = client.delete(members_url(team, editor.id), headers=team.headers[by])
    assert response.status_code == 204, response.text
    assert role_in(db, team.company.id, editor.id) is None
    listed = client.get(members_url(team), headers=team.headers[by]).json()
    assert str(editor.id) not in {item["user"]["id"] for item in listed["items"]}
    assert listed["total"] == 3
    response = client.get(f"{COMPANIES}/{team.company.id}", headers=team.headers[Role.EDITOR])
    assert_error(response, 404, "not_found")
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "member.removed"))
    assert entry is not None
    assert entry.actor_user_id == team.users[by].id


@pytest.mark.parametrize("by", [Role.OWNER, Role.ADMIN])
def test_removing_yourself_is_a_conflict(
    client: TestClient, db: Session, team: Tenant, by: Role
) -> None:
    me = team.users[by]
    response = client.delete(members_url(team, me.id), headers=team.headers[by])
    assert_error(response, 409, "self_removal")
    assert role_in(db, team.company.id, me.id) == by


def test_removing_a_stranger_is_not_found(client: TestClient, db: Session, team: Tenant) -> None:
    response = client.delete(members_url(team, uuid.uuid4()), headers=team.headers[Role.OWNER])
    assert_error(response, 404, "not_found")


def test_a_member_of_another_company_cannot_be_managed_here(
    client: TestClient, db: Session, settings: Settings, team: Tenant
) -> None:
    other = make_tenant(db, settings, name="Other")
    victim = other.users[Role.VIEWER]
    response = change_role(client, team, victim, Role.EDITOR, by=Role.OWNER)
    assert_error(response, 404, "not_found")
    response = client.delete(members_url(team, victim.id), headers=team.headers[Role.OWNER])
    assert_error(response, 404, "not_found")
    assert role_in(db, other.company.id, victim.id) == Role.VIEWER


@pytest.mark.parametrize("role", [Role.ADMIN, Role.EDITOR, Role.VIEWER])
def test_leave(client: TestClient, db: Session, team: Tenant, role: Role) -> None:
    user = team.users[role]
    response = client.post(f"{COMPANIES}/{team.company.id}/leave", headers=team.headers[role])
    assert response.status_code == 204, response.text
    assert role_in(db, team.company.id, user.id) is None
    listed = client.get(COMPANIES, headers=team.headers[role]).json()
    assert listed["total"] == 0
    response = client.get(f"{COMPANIES}/{team.company.id}", headers=team.headers[role])
    assert_error(response, 404, "not_found")
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "member.left"))
    assert entry is not None
    assert entry.actor_user_id == user.id


# -- support access ----------------------------------------------------------------------


def test_platform_superuser_can_read_a_company_they_are_not_in(
    client: TestClient, db: Session, settings: Settings, team: Tenant
) -> None:
    support = make_user(db, superuser=True)
    headers = auth_headers(db, settings, support)
    response = client.get(f"{COMPANIES}/{team.company.id}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(team.company.id)
    members = client.get(members_url(team), headers=headers).json()
    assert members["total"] == 4
    assert str(support.id) not in {item["user"]["id"] for item in members["items"]}
    # Reading gives no membership: the company is not among their own.
    assert client.get(COMPANIES, headers=headers).json()["total"] == 0


def test_a_deleted_company_is_gone_even_for_support(
    client: TestClient, db: Session, settings: Settings, team: Tenant
) -> None:
    team.company.soft_delete()
    db.flush()
    headers = auth_headers(db, settings, make_user(db, superuser=True))
    assert_error(client.get(f"{COMPANIES}/{team.company.id}", headers=headers), 404, "not_found")


# -- invitations: create -----------------------------------------------------------------


@pytest.mark.parametrize("by", [Role.OWNER, Role.ADMIN])
def test_invite_creates_an_open_invitation_and_mails_a_token(
    client: TestClient,
    db: Session,
    settings: Settings,
    team: Tenant,
    by: Role,
    mailbox: Mailbox,
) -> None:
    email = unique_email("invitee")
    response = client.post(
        invitations_url(team),
        json={"email": f"  {email.upper()} ", "role": "editor"},
        headers=team.headers[by],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == email
    assert body["role"] == "editor"
    assert body["accepted_at"] is None
    assert body["revoked_at"] is None
    assert body["sent_count"] == 1
    assert "token" not in body
    assert "token_hash" not in body

    messages = mails_to(mailbox, email)
    assert len(messages) == 1
    assert team.company.name in messages[0]["Subject"]
    content = text_of(messages[0])
    token = only_token(mailbox, email)
    assert f"accept-invitation?token={token}" in content
    assert "as editor" in content

    invitation = db.get(Invitation, uuid.UUID(body["id"]))
    assert invitation is not None
    assert invitation.invited_by_id == team.users[by].id
    assert token not in invitation.token_hash  # only a hash is stored
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "invitation.created"))
    assert entry is not None
    assert entry.entity_id == body["id"]


def test_unverified_inviter_is_refused(
    client: TestClient, db: Session, settings: Settings, mailbox: Mailbox
) -> None:
    owner = make_user(db, verified=False)
    company = make_company(db, owner)
    email = unique_email("invitee")
    response = client.post(
        f"{COMPANIES}/{company.id}/invitations",
        json={"email": email},
        headers=auth_headers(db, settings, owner),
    )
    assert_error(response, 403, "email_not_verified")
    assert mails_to(mailbox, email) == []


def test_duplicate_open_invitation_is_a_conflict(
    client: TestClient,
    settings: Settings,
    team: Tenant,
    mailbox: Mailbox,
) -> None:
    email = unique_email("invitee")
    invite(client, team, email)
    response = client.post(
        invitations_url(team), json={"email": email.upper()}, headers=team.headers[Role.ADMIN]
    )
    assert_error(response, 409, "invitation_exists")
    assert len(mails_to(mailbox, email)) == 1


def test_inviting_an_existing_member_is_a_conflict(
    client: TestClient,
    settings: Settings,
    team: Tenant,
    mailbox: Mailbox,
) -> None:
    email = team.users[Role.EDITOR].email
    response = client.post(
        invitations_url(team), json={"email": email.upper()}, headers=team.headers[Role.OWNER]
    )
    assert_error(response, 409, "already_member")
    assert mails_to(mailbox, email) == []


def test_admin_cannot_invite_an_owner_but_an_owner_can(
    client: TestClient, settings: Settings, team: Tenant
) -> None:
    email = unique_email("invitee")
    response = client.post(
        invitations_url(team),
        json={"email": email, "role": "owner"},
        headers=team.headers[Role.ADMIN],
    )
    assert_error(response, 403, "permission_denied")
    assert invite(client, team, email, Role.OWNER, by=Role.OWNER)["role"] == "owner"


@pytest.mark.parametrize(
    "payload",
    [{"email": "not-an-email"}, {"email": "a@example.com", "role": "emperor"}, {}],
    ids=["bad-email", "bad-role", "empty"],
)
def test_invite_validates_its_input(
    client: TestClient, team: Tenant, payload: dict[str, Any]
) -> None:
    response = client.post(invitations_url(team), json=payload, headers=team.headers[Role.OWNER])
    assert_error(response, 422, "validation_error")


def test_free_plan_seat_limit(
    client: TestClient, db: Session, settings: Settings, mailbox: Mailbox
) -> None:
    owner = make_user(db)
    company = make_company(db, owner)
    assert company.plan == "free"
    add_member(db, company, make_user(db), Role.EDITOR)
    headers = auth_headers(db, settings, owner)
    url = f"{COMPANIES}/{company.id}/invitations"

    third = unique_email("third")
    assert client.post(url, json={"email": third}, headers=headers).status_code == 201
    add_member(db, company, make_user(db), Role.VIEWER)  # three members now

    fourth = unique_email("fourth")
    body = assert_error(
        client.post(url, json={"email": fourth}, headers=headers), 402, "member_limit_reached"
    )
    # Three members and the third person's open invitation, which holds a seat.
    assert body["error"]["details"] == {"limit": 3, "used": 4}
    assert mails_to(mailbox, fourth) == []


def test_open_invitations_cannot_push_a_company_past_its_seat_limit(
    client: TestClient,
    db: Session,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    owner = make_user(db)
    company = make_company(db, owner)
    add_member(db, company, make_user(db), Role.EDITOR)  # two of three seats taken
    headers = auth_headers(db, settings, owner)
    url = f"{COMPANIES}/{company.id}/invitations"

    # Both invitations go out before either is accepted.
    refusals: list[httpx2.Response] = []
    invited: list[str] = []
    for prefix in ("first", "second"):
        email = unique_email(prefix)
        response = client.post(url, json={"email": email}, headers=headers)
        if response.status_code == 201:
            invited.append(email)
        else:
            refusals.append(response)
    for email in invited:
        token = only_token(mailbox, email)
        accepted = client.post(
            ACCEPT, json={"token": token}, headers=signed_in(db, settings, email)
        )
        if accepted.status_code != 200:
            refusals.append(accepted)

    assert member_count(db, company.id) <= 3
    assert len(refusals) == 1
    assert_error(refusals[0], 402, "member_limit_reached")


def test_invitation_mail_waits_in_the_outbox_and_its_task_leaves_after_commit(
    db: Session, settings: Settings, team: Tenant, mailbox: Mailbox
) -> None:
    owner = team.users[Role.OWNER]
    ctx = CompanyContext(user=owner, company=team.company, role=Role.OWNER, meta=RequestMeta())
    email = unique_email("invitee")
    broker = get_redis(settings.REDIS_URL or "")
    MembershipService(db, ctx, settings).invite(email, Role.VIEWER)
    queued = db.scalars(select(OutboxMessage).where(OutboxMessage.recipient == email)).one()
    assert (queued.kind, queued.status) == ("invitation", OutboxStatus.PENDING)
    assert broker.llen(QUEUE_NOTIFICATIONS) == 0
    db.commit()
    assert broker.llen(QUEUE_NOTIFICATIONS) == 1
    assert len(mails_to(mailbox, email)) == 1
    assert len(tokens_to(mailbox, email)) == 1


def test_invitation_mail_is_dropped_on_rollback(
    db: Session, settings: Settings, team: Tenant, mailbox: Mailbox
) -> None:
    owner = team.users[Role.OWNER]
    ctx = CompanyContext(user=owner, company=team.company, role=Role.OWNER, meta=RequestMeta())
    email = unique_email("invitee")
    MembershipService(db, ctx, settings).invite(email, Role.VIEWER)
    db.rollback()
    db.commit()
    assert mails_to(mailbox, email) == []


# -- invitations: accept -----------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_accept_gives_the_invited_role(
    client: TestClient,
    db: Session,
    settings: Settings,
    team: Tenant,
    role: Role,
    mailbox: Mailbox,
) -> None:
    email = unique_email("invitee")
    invitation = invite(client, team, email, role)
    token = only_token(mailbox, email)
    headers = signed_in(db, settings, email)

    response = client.post(ACCEPT, json={"token": token}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(team.company.id)
    assert body["role"] == role.value
    assert body["limits"]["code"] == "business"

    user = db.scalar(select(User).where(User.email == email))
    assert user is not None
    assert role_in(db, team.company.id, user.id) == role
    read = client.get(f"{COMPANIES}/{team.company.id}", headers=headers)
    assert read.json()["role"] == role.value
    stored = db.get(Invitation, uuid.UUID(invitation["id"]))
    assert stored is not None
    db.refresh(stored)
    assert stored.accepted_at is not None
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "invitation.accepted"))
    assert entry is not None
    assert entry.actor_user_id == user.id


def test_accept_by_another_email_is_refused(
    client: TestClient,
    db: Session,
    settings: Settings,
    team: Tenant,
    mailbox: Mailbox,
) -> None:
    email = unique_email("invitee")
    invite(client, team, email, Role.EDITOR)
    token = only_token(mailbox, email)
    forwarded_to = signed_in(db, settings, unique_email("someone-else"))
    body = assert_error(
        client.post(ACCEPT, json={"token": token}, headers=forwarded_to), 422, "invitation_invalid"
    )
    assert body["error"]["message"]
    assert member_count(db, team.company.id) == 4
    # The invited person can still use it.
    response = client.post(ACCEPT, json={"token": token}, headers=signed_in(db, settings, email))
    assert response.status_code == 200, response.text


def test_a_token_is_single_use(
    client: TestClient,
    db: Session,
    settings: Settings,
    team: Tenant,
    mailbox: Mailbox,
) -> None:
    email = unique_email("invitee")
    invite(client, team, email)
    token = only_token(mailbox, email)
    headers = signed_in(db, settings, email)
    assert client.post(ACCEPT, json={"token": token}, headers=headers).status_code == 200
    response = client.post(ACCEPT, json={"token": token}, headers=headers)
    assert_error(response, 422, "invitation_invalid")


def test_unknown_or_expired_tokens_are_refused(
    client: TestClient,
    db: Session,
    settings: Settings,
    team: Tenant,
    mailbox: Mailbox,
) -> None:
    email = unique_email("invitee")
    created = invite(client, team, email)
    token = only_token(mailbox, email)
    headers = signed_in(db, settings, email)
    response = client.post(ACCEPT, json={"token": "x" * 43}, headers=headers)
    assert_error(response, 422, "invitation_invalid")

    invitation = db.get(Invitation, uuid.UUID(created["id"]))
    assert invitation is not None
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    assert_error(
        client.post(ACCEPT, json={"token": token}, headers=headers), 422, "invitation_invalid"
    )


def test_an_invitation_to_a_deleted_company_cannot_be_accepted(
    client: TestClient,
    db: Session,
    settings: Settings,
    team: Tenant,
    mailbox: Mailbox,
) -> None:
    email = unique_email("invitee")
    invite(client, team, email)
    token = only_token(mailbox, email)
    response = client.delete(f"{COMPANIES}/{team.company.id}", headers=team.headers[Role.OWNER])
    assert response.status_code == 204
    headers = signed_in(db, settings, email)
    assert_error(
        client.post(ACCEPT, json={"token": token}, headers=headers), 422, "invitation_invalid"
    )


def test_accept_needs_a_signed_in_user(
    client: TestClient,
    settings: Settings,
    team: Tenant,
    mailbox: Mailbox,
) -> None:
    email = unique_email("invitee")
    invite(client, team, email)
    token = only_token(mailbox, email)
    assert_error(client.post(ACCEPT, json={"token": token}), 401, "unauthenticated")


# -- invitations: revoke, resend, list ---------------------------------------------------


def test_a_revoked_invitation_cannot_be_accepted(
    client: TestClient,
    db: Session,
    settings: Settings,
    team: Tenant,
    mailbox: Mailbox,
) -> None:
    email = unique_email("invitee")
    created = invite(client, team, email)
    token = only_token(mailbox, email)
    url = invitations_url(team, f"/{created['id']}")
    response = client.delete(url, headers=team.headers[Role.ADMIN])
    assert response.status_code == 204, response.text
    headers = signed_in(db, settings, email)
    assert_error(
        client.post(ACCEPT, json={"token": token}, headers=headers), 422, "invitation_invalid"
    )
    assert_error(client.delete(url, headers=team.headers[Role.ADMIN]), 409, "invitation_closed")
    # A fresh invitation to the same address is allowed once the old one is closed.
    assert invite(client, team, email)["id"] != created["id"]


def test_resend_issues_a_new_token_and_retires_the_old_one(
    client: TestClient,
    db: Session,
    settings: Settings,
    team: Tenant,
    mailbox: Mailbox,
) -> None:
    email = unique_email("invitee")
    created = invite(client, team, email, Role.EDITOR)
    old_token = only_token(mailbox, email)

    response = client.post(
        invitations_url(team, f"/{created['id']}/resend"), headers=team.headers[Role.ADMIN]
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == created["id"]
    assert response.json()["sent_count"] == 2
    assert len(mails_to(mailbox, email)) == 2
    new_tokens = tokens_to(mailbox, email) - {old_token}
    assert len(new_tokens) == 1
    new_token = new_tokens.pop()

    headers = signed_in(db, settings, email)
    assert_error(
        client.post(ACCEPT, json={"token": old_token}, headers=headers), 422, "invitation_invalid"
    )
    response = client.post(ACCEPT, json={"token": new_token}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "editor"
    response = client.post(
        invitations_url(team, f"/{created['id']}/resend"), headers=team.headers[Role.ADMIN]
    )
    assert_error(response, 409, "invitation_closed")


def test_revoke_or_resend_unknown_or_foreign_invitations_is_not_found(
    client: TestClient, db: Session, settings: Settings, team: Tenant
) -> None:
    other = make_tenant(db, settings, name="Other")
    other.company.plan = "business"
    db.flush()
    foreign = invite(client, other, unique_email("theirs"))
    for invitation_id in (foreign["id"], str(uuid.uuid4())):
        url = invitations_url(team, f"/{invitation_id}")
        assert_error(client.delete(url, headers=team.headers[Role.OWNER]), 404, "not_found")
        response = client.post(f"{url}/resend", headers=team.headers[Role.OWNER])
        assert_error(response, 404, "not_found")
    stored = db.get(Invitation, uuid.UUID(foreign["id"]))
    assert stored is not None
    db.refresh(stored)
    assert stored.revoked_at is None
    assert stored.sent_count == 1


def test_list_invitations_open_by_default(
    client: TestClient,
    db: Session,
    settings: Settings,
    team: Tenant,
    mailbox: Mailbox,
) -> None:
    open_email, accepted_email, revoked_email = (unique_email(p) for p in ("o", "a", "r"))
    opened = invite(client, team, open_email)
    accepted = invite(client, team, accepted_email)
    revoked = invite(client, team, revoked_email)
    token = only_token(mailbox, accepted_email)
    response = client.post(
        ACCEPT, json={"token": token}, headers=signed_in(db, settings, accepted_email)
    )
    assert response.status_code == 200
    response = client.delete(
        invitations_url(team, f"/{revoked['id']}"), headers=team.headers[Role.OWNER]
    )
    assert response.status_code == 204

    headers = team.headers[Role.ADMIN]
    default = client.get(invitations_url(team), headers=headers).json()
    assert default["total"] == 1
    assert [item["id"] for item in default["items"]] == [opened["id"]]

    everything = client.get(
        invitations_url(team), params={"include_closed": "true"}, headers=headers
    ).json()
    assert everything["total"] == 3
    by_id = {item["id"]: item for item in everything["items"]}
    assert set(by_id) == {opened["id"], accepted["id"], revoked["id"]}
    assert by_id[accepted["id"]]["accepted_at"] is not None
    assert by_id[revoked["id"]]["revoked_at"] is not None
    assert by_id[opened["id"]]["accepted_at"] is None

    page = client.get(
        invitations_url(team), params={"include_closed": "true", "limit": 2}, headers=headers
    ).json()
    assert (page["total"], len(page["items"])) == (3, 2)


def test_invitations_of_another_company_are_not_listed(
    client: TestClient, db: Session, settings: Settings, team: Tenant
) -> None:
    other = make_tenant(db, settings, name="Other")
    other.company.plan = "business"
    db.flush()
    invite(client, other, unique_email("theirs"))
    mine = invite(client, team, unique_email("mine"))
    listed = client.get(
        invitations_url(team), params={"include_closed": "true"}, headers=team.headers[Role.OWNER]
    ).json()
    assert [item["id"] for item in listed["items"]] == [mine["id"]]
