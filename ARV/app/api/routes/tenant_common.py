"""Shared by every router under /companies/{company_id}."""

from app.schemas.common import error_responses

TENANT = "/companies/{company_id}"
TENANT_ERRORS = error_responses(
    {
        403: "Your role does not allow this.",
        404: "No such company or object, or you are not a member.",
    }
)
