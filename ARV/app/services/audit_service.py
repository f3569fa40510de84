"""Audit trail for security-relevant actions: who did what to which entity."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.audit import AuditLog
from app.services.context import ActorKind, RequestMeta
from app.services.pagination import PageParams, ResultPage, paginate


class AuditService:
    def __init__(self, db: Session) -> None:
        self.db = db

    def record(
        self,
        action: str,
        *,
        entity_type: str,
        entity_id: object | None,
        actor_user_id: uuid.UUID | None,
        meta: RequestMeta,
        actor_kind: ActorKind | None = None,
        company_id: uuid.UUID | None = None,
        changes: dict[str, Any] | None = None,
    ) -> AuditLog:
        entry = AuditLog(
            company_id=company_id,
            actor_user_id=actor_user_id,
            # Unless told otherwise: a user if one is named, else someone without identity.
            actor_kind=actor_kind or (ActorKind.MEMBER if actor_user_id else ActorKind.PUBLIC),
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id) if entity_id is not None else None,
            changes=changes or {},
            ip_address=meta.ip_address,
            request_id=meta.request_id,
        )
        self.db.add(entry)
        return entry

    def list_for_company(
        self,
        company_id: uuid.UUID,
        params: PageParams,
        *,
        action: str | None = None,
        actor_user_id: uuid.UUID | None = None,
        entity_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ResultPage[AuditLog]:
        statement = select(AuditLog).where(AuditLog.company_id == company_id)
        if action:
            statement = statement.where(AuditLog.action == action)
        if actor_user_id:
            statement = statement.where(AuditLog.actor_user_id == actor_user_id)
        if entity_type:
            statement = statement.where(AuditLog.entity_type == entity_type)
        if since:
            statement = statement.where(AuditLog.created_at >= since)
        if until:
            statement = statement.where(AuditLog.created_at < until)
        statement = statement.order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        return paginate(self.db, statement, params)
