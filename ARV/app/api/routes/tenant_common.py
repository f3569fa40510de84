"""Shared by every router under /companies/{company_id}."""

from typing import Annotated

from app.api.deps import company_context
from app.core.permissions import Action
from app.services.context import CompanyContext

TENANT = "/companies/{company_id}"

# The caller's company context, when their role may read / change content.
ContentReader = Annotated[CompanyContext, company_context(Action.CONTENT_READ)]
ContentWriter = Annotated[CompanyContext, company_context(Action.CONTENT_WRITE)]
