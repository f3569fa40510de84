"""The one place tenant-owned rows are queried from. Every select a service builds goes
through `readable` with the service's actor, one rule per kind of actor, so the filter cannot
be forgotten and another company's row is simply not found:

- a member or the system reads the rows of its one company; a member whose role does not
  manage projects reads, of projects and what lives in them (`InProject`), only the
  unrestricted ones and those they were granted;
- the public reads only rows a model declares public (`PubliclyReadable`), nothing else.

Modelled on Polar's `get_readable_statement(auth_subject)`.
"""

import uuid
from collections.abc import Callable
from typing import Any, Self, TypeVar

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.database import session_scope
from app.core.exceptions import NotFoundError
from app.core.permissions import Action
from app.core.storage import StorageProvider
from app.models.base import PubliclyReadable, SoftDeletable, TenantOwned
from app.models.company import Company
from app.models.project import InProject, Project, ProjectGrant
from app.services.audit_service import AuditService
from app.services.context import Actor, CompanyContext, PublicActor, SystemActor

Owned = TypeVar("Owned", bound=TenantOwned)


def readable(model: type[Owned], actor: Actor, *, include_deleted: bool = False) -> Select[Any]:
    """The rows of `model` that `actor` may read."""
    # Mixins are not visible to mypy as an intersection; the checks below are real.
    mapped: Any = model
    statement = select(mapped)
    if isinstance(actor, PublicActor):
        public = mapped.public_rows() if issubclass(mapped, PubliclyReadable) else false()
        statement = statement.where(public)
    else:
        statement = statement.where(mapped.company_id == actor.company_id)
    if isinstance(actor, CompanyContext) and not actor.can(Action.PROJECT_MANAGE):
        statement = _within_visible_projects(statement, mapped, actor)
    if not include_deleted and issubclass(mapped, SoftDeletable):
        statement = statement.where(mapped.deleted_at.is_(None))
    return statement


def _within_visible_projects(
    statement: Select[Any], mapped: Any, actor: CompanyContext
) -> Select[Any]:
    if mapped is Project:
        return statement.where(_visible_project(actor))
    if issubclass(mapped, InProject):
        visible = select(Project.id).where(
            Project.company_id == actor.company_id, _visible_project(actor)
        )
        return statement.where(mapped.project_id.in_(visible))
    return statement


def _visible_project(actor: CompanyContext) -> ColumnElement[bool]:
    granted = select(ProjectGrant.project_id).where(ProjectGrant.user_id == actor.user.id)
    return or_(Project.restricted.is_(False), Project.id.in_(granted))


class ScopedService:
    """A service acting for one actor: its queries and audit entries go through it."""

    def __init__(self, db: Session, actor: Actor) -> None:
        self.db = db
        self.actor = actor

    def scoped(self, model: type[Owned], *, include_deleted: bool = False) -> Select[Any]:
        return readable(model, self.actor, include_deleted=include_deleted)

    def get_owned(
        self,
        model: type[Owned],
        entity_id: uuid.UUID,
        entity: str,
        *,
        for_update: bool = False,
        include_deleted: bool = False,
        where: ColumnElement[bool] | None = None,
    ) -> Owned:
        """The row, or 404 naming `entity`; `where` narrows further (e.g. to a parent)."""
        mapped: Any = model
        statement = self.scoped(model, include_deleted=include_deleted).where(
            mapped.id == entity_id
        )
        if where is not None:
            statement = statement.where(where)
        if for_update:
            statement = statement.with_for_update()
        row: Owned | None = self.db.scalar(statement)
        if row is None:
            raise NotFoundError.for_entity(entity, entity_id)
        return row

    def audit(
        self, action: str, entity_type: str, entity_id: uuid.UUID, changes: dict[str, Any]
    ) -> None:
        """Record what the actor did in its company's audit log, and what kind of actor it
        is. The public acts in no company, so it has no company log to write to."""
        actor = self.actor
        if isinstance(actor, PublicActor):
            raise TypeError("the public actor has no company audit log")
        AuditService(self.db).record(
            action,
            entity_type=entity_type,
            entity_id=entity_id,
            actor_user_id=actor.user_id,
            actor_kind=actor.kind,
            meta=actor.meta,
            company_id=actor.company_id,
            changes=changes,
        )


def lock_company(db: Session, company_id: uuid.UUID) -> None:
    """Hold the company's row locked until the transaction ends: checks that must see the
    company's other writes of their kind (plan limits, the quota, publishing, deleting a
    project) queue here and run one after another."""
    db.execute(select(Company.id).where(Company.id == company_id).with_for_update())


def company_wide(scope: ScopedService, task: str) -> ScopedService:
    """The scope's whole company, read as the system: for company-wide figures (plan
    limits, the storage quota, duplicate markers) that a member's narrower view of
    restricted projects must not shrink. Only for counting and checking, never to hand a
    member rows it may not see."""
    actor = scope.actor
    if isinstance(actor, PublicActor):
        raise TypeError("the public actor has no company")
    return ScopedService(scope.db, SystemActor(actor.company_id, task=task))


def system_scope(
    db: Session, model: type[Owned], row_id: uuid.UUID, task: str
) -> ScopedService | None:
    """The system actor for work a task does on one row, in the company that row names
    (the one read that precedes a scope: the row is how the task learns its company);
    None if the row is gone."""
    mapped: Any = model
    company_id = db.scalar(select(mapped.company_id).where(mapped.id == row_id))
    return None if company_id is None else ScopedService(db, SystemActor(company_id, task=task))


def for_each_company(
    sessions: sessionmaker[Session],
    companies: Select[uuid.UUID],
    task: str,
    work: Callable[[ScopedService], int],
) -> int:
    """Run `work` for each company `companies` selects, each in its own unit of work as
    the system actor of that company, so a sweep never acts across companies at once.
    Returns the sum of what `work` returns."""
    with session_scope(sessions) as db:
        company_ids = list(db.scalars(companies.distinct()))
    done = 0
    for company_id in company_ids:
        with session_scope(sessions) as db:
            done += work(ScopedService(db, SystemActor(company_id, task=task)))
    return done


class TenantService(ScopedService):
    """A service company members call: its actor is the member's context, `ctx`."""

    def __init__(self, db: Session, ctx: CompanyContext) -> None:
        super().__init__(db, ctx)
        self.ctx = ctx

    @classmethod
    def for_request(
        cls, db: Session, ctx: CompanyContext, storage: StorageProvider, settings: Settings
    ) -> Self:
        """Built for one request, from what every request has (the route layer's one way
        to get a service: `api.deps.tenant_service`)."""
        return cls(db, ctx)


class SettingsTenantService(TenantService):
    """A tenant service that also reads the settings."""

    def __init__(self, db: Session, ctx: CompanyContext, settings: Settings) -> None:
        super().__init__(db, ctx)
        self.settings = settings

    @classmethod
    def for_request(
        cls, db: Session, ctx: CompanyContext, storage: StorageProvider, settings: Settings
    ) -> Self:
        return cls(db, ctx, settings)


class StorageTenantService(TenantService):
    """A tenant service that also reads and writes objects in storage."""

    def __init__(
        self, db: Session, ctx: CompanyContext, storage: StorageProvider, settings: Settings
    ) -> None:
        super().__init__(db, ctx)
        self.storage = storage
        self.settings = settings

    @classmethod
    def for_request(
        cls, db: Session, ctx: CompanyContext, storage: StorageProvider, settings: Settings
    ) -> Self:
        return cls(db, ctx, storage, settings)
