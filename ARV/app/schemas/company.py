import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, EmailStr, Field

from app.core.permissions import Role
from app.models.audit import ActorKind
from app.models.company import Plan
from app.schemas.common import RequestSchema, ResponseSchema
from app.schemas.company_settings import CompanySettings
from app.schemas.user import UserResponse


class CompanyCreate(RequestSchema):
    name: str = Field(min_length=1, max_length=200)
    settings: CompanySettings = Field(default_factory=CompanySettings)


class CompanyUpdate(RequestSchema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    settings: CompanySettings | None = None


class PlanResponse(BaseModel):
    code: Plan
    max_members: int
    storage_bytes: int
    max_ar_contents: int
    features: list[str]


class CompanyResponse(ResponseSchema):
    id: uuid.UUID
    name: str
    slug: str
    plan: Plan
    settings: CompanySettings
    created_at: datetime
    updated_at: datetime


class CompanyDetail(CompanyResponse):
    role: Role = Field(description="Your role in this company.")
    limits: PlanResponse


class MemberResponse(ResponseSchema):
    user: UserResponse
    role: Role
    created_at: datetime = Field(description="When the member joined.")


class RoleChange(RequestSchema):
    role: Role


class InvitationCreate(RequestSchema):
    email: EmailStr = Field(max_length=320)
    role: Role = Role.VIEWER


class InvitationResponse(ResponseSchema):
    id: uuid.UUID
    email: str
    role: Role
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None
    sent_count: int
    created_at: datetime


class AuditLogResponse(ResponseSchema):
    id: uuid.UUID
    actor_user_id: uuid.UUID | None
    actor_kind: ActorKind = Field(
        description="`member` (a user), `support` (a platform superuser acting in a company "
        "they do not belong to) or `system` (a task or an operator command)."
    )
    action: str
    entity_type: str
    entity_id: str | None
    changes: dict[str, Any]
    ip_address: str
    request_id: str | None
    created_at: datetime
