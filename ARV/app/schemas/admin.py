"""Platform administration: what superusers send and receive on /admin routes."""

import uuid
from datetime import datetime

from pydantic import Field

from app.models.company import Plan
from app.models.outbox import OutboxStatus
from app.schemas.common import RequestSchema, ResponseSchema
from app.schemas.company import CompanyResponse, PlanResponse


class CompanyPlanUpdate(RequestSchema):
    plan: Plan = Field(description="The plan the company is put on, effective at once.")


class AdminCompanyResponse(CompanyResponse):
    limits: PlanResponse = Field(description="What the company's plan now allows.")


class OutboxMessageResponse(ResponseSchema):
    """A message in the outbox. Its content is not shown: it may hold sign-in links."""

    id: uuid.UUID
    channel: str = Field(description="How it is delivered (`email`).")
    kind: str = Field(description="Which message it is (`password_reset`, `invitation`...).")
    recipient: str
    status: OutboxStatus = Field(
        description="`pending` (waiting for delivery or its next attempt), `sending`, "
        "`sent`, or `dead` (refused for good or out of attempts)."
    )
    attempts: int
    max_attempts: int
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    available_at: datetime = Field(description="Not tried again before this time.")
    created_at: datetime
    finished_at: datetime | None = Field(description="When it was sent or dead-lettered.")
