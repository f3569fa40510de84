"""The one place tenant-owned rows are queried from: every select a service builds through
`TenantService.scoped` is filtered by the caller's company, so the filter cannot be
forgotten, and another company's row is simply not found."""

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.exceptions import NotFoundError
from app.core.storage import StorageProvider
from app.models.base import SoftDeletable, TenantOwned
from app.services.audit_service import AuditService
from app.services.context import CompanyContext

Owned = TypeVar("Owned", bound=TenantOwned)


class TenantService:
    def __init__(self, db: Session, ctx: CompanyContext) -> None:
        self.db = db
        self.ctx = ctx

    def scoped(self, model: type[Owned], *, include_deleted: bool = False) -> Select[Any]:
        # Mixins are not visible to mypy as an intersection; the checks below are real.
        mapped: Any = model
        statement = select(mapped).where(mapped.company_id == self.ctx.company_id)
        if not include_deleted and issubclass(mapped, SoftDeletable):
            statement = statement.where(mapped.deleted_at.is_(None))
        return statement

    def get_owned(
        self, model: type[Owned], entity_id: uuid.UUID, entity: str, *, for_update: bool = False
    ) -> Owned:
        mapped: Any = model
        statement = self.scoped(model).where(mapped.id == entity_id)
        if for_update:
            statement = statement.with_for_update()
        row: Owned | None = self.db.scalar(statement)
        if row is None:
            raise NotFoundError.for_entity(entity, entity_id)
        return row

    def audit(
        self, action: str, entity_type: str, entity_id: uuid.UUID, changes: dict[str, Any]
    ) -> None:
        """Record what the caller did in the company's audit log."""
        AuditService(self.db).record(
            action,
            entity_type=entity_type,
            entity_id=entity_id,
            actor_user_id=self.ctx.user.id,
            meta=self.ctx.meta,
            company_id=self.ctx.company_id,
            changes=changes,
        )


class StorageTenantService(TenantService):
    """A tenant service that also reads and writes objects in storage."""

    def __init__(
        self, db: Session, ctx: CompanyContext, storage: StorageProvider, settings: Settings
    ) -> None:
        super().__init__(db, ctx)
        self.storage = storage
        self.settings = settings
