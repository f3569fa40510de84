"""Roles and what each may do: the one permission table, mirrored in ARV/docs/roles.md."""

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class Action(StrEnum):
    COMPANY_READ = "company.read"
    COMPANY_UPDATE = "company.update"
    COMPANY_DELETE = "company.delete"
    MEMBER_READ = "member.read"
    MEMBER_INVITE = "member.invite"
    MEMBER_MANAGE = "member.manage"
    AUDIT_READ = "audit.read"
    CONTENT_READ = "content.read"
    CONTENT_WRITE = "content.write"
    CONTENT_PUBLISH = "content.publish"
    PROJECT_WRITE = "project.write"
    # Archive, delete, restrict and grant access to projects; keep templates. Also: see
    # every project, restricted or not.
    PROJECT_MANAGE = "project.manage"
    # See orders and what was paid.
    BILLING_READ = "billing.read"
    # Order and pay, cancel an order.
    BILLING_MANAGE = "billing.manage"


_VIEWER = frozenset({Action.COMPANY_READ, Action.MEMBER_READ, Action.CONTENT_READ})
_EDITOR = _VIEWER | {Action.CONTENT_WRITE, Action.PROJECT_WRITE}
_ADMIN = _EDITOR | {
    Action.CONTENT_PUBLISH,
    Action.PROJECT_MANAGE,
    Action.COMPANY_UPDATE,
    Action.MEMBER_INVITE,
    Action.MEMBER_MANAGE,
    Action.AUDIT_READ,
    Action.BILLING_READ,
}
_OWNER = _ADMIN | {Action.COMPANY_DELETE, Action.BILLING_MANAGE}

ROLE_PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: _VIEWER,
    Role.EDITOR: frozenset(_EDITOR),
    Role.ADMIN: frozenset(_ADMIN),
    Role.OWNER: frozenset(_OWNER),
}


def can(role: Role, action: Action) -> bool:
    return action in ROLE_PERMISSIONS[role]
