"""Platform administration: what superusers send and receive on /admin routes."""

from typing import Literal

from pydantic import Field

from app.schemas.common import RequestSchema
from app.schemas.company import CompanyResponse, PlanResponse

# The codes of app.services.plans.PLANS (a test keeps the two equal), spelled out so the
# OpenAPI document lists them.
PlanCode = Literal["free", "pro", "business"]


class CompanyPlanUpdate(RequestSchema):
    plan: PlanCode = Field(description="The plan the company is put on, effective at once.")


class AdminCompanyResponse(CompanyResponse):
    limits: PlanResponse = Field(description="What the company's plan now allows.")
