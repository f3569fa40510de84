"""What services are told about the caller: where the request came from, and in which
company and role it acts."""

import uuid
from dataclasses import dataclass

from app.core.permissions import Action, Role, can
from app.models.company import Company
from app.models.user import User


@dataclass(frozen=True, slots=True)
class RequestMeta:
    ip_address: str = ""
    user_agent: str = ""
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class CompanyContext:
    user: User
    company: Company
    role: Role
    meta: RequestMeta
    # A platform superuser acting in a company they are not a member of (support).
    is_support_access: bool = False

    @property
    def company_id(self) -> uuid.UUID:
        return self.company.id

    def can(self, action: Action) -> bool:
        return can(self.role, action)
