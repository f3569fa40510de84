"""Who acts, as services are told: the actor of a unit of work, and where a request came
from. There are three kinds of actor, each with one scoping rule (`services.tenant`):

- a **member** (`CompanyContext`): a signed-in user acting in a company with a role; a
  platform superuser acting in a company they do not belong to is a member with
  `is_support_access`, recorded as `support` in audit entries;
- the **system** (`SystemActor`): a Celery task, beat, or (later) a verified webhook, acting
  in the one company its job or event names, never across companies in one unit of work;
- the **public** (`PublicActor`): a viewer app without identity, which may read only what is
  published.
"""

import uuid
from dataclasses import dataclass, field

from app.core.permissions import Action, Role, can
from app.models.audit import ActorKind
from app.models.company import Company
from app.models.user import User

__all__ = ["Actor", "ActorKind", "CompanyContext", "PublicActor", "RequestMeta", "SystemActor"]


@dataclass(frozen=True, slots=True)
class RequestMeta:
    ip_address: str = ""
    user_agent: str = ""
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class CompanyContext:
    """The member actor."""

    user: User
    company: Company
    role: Role
    meta: RequestMeta
    # A platform superuser acting in a company they are not a member of (support).
    is_support_access: bool = False

    @property
    def company_id(self) -> uuid.UUID:
        return self.company.id

    @property
    def kind(self) -> ActorKind:
        return ActorKind.SUPPORT if self.is_support_access else ActorKind.MEMBER

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.user.id

    def can(self, action: Action) -> bool:
        return can(self.role, action)


@dataclass(frozen=True, slots=True)
class SystemActor:
    """Work the platform does on its own, in one company: `task` names what acts (a task
    name such as `videos.run_job`), for the audit log."""

    company_id: uuid.UUID
    task: str
    meta: RequestMeta = field(default_factory=RequestMeta)
    kind = ActorKind.SYSTEM

    @property
    def user_id(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class PublicActor:
    """A viewer without identity."""

    meta: RequestMeta = field(default_factory=RequestMeta)
    kind = ActorKind.PUBLIC


Actor = CompanyContext | SystemActor | PublicActor
