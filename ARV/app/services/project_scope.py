"""The project a request acts in: found through the actor's scope (a restricted project a
member was not granted is not found), then checked for what the request does. Every route
under `/projects/{project_id}` enters its project here, before anything else is loaded."""

import uuid
from typing import Any, Self

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.exceptions import NotFoundError, PermissionDeniedError, ProjectArchivedError
from app.core.permissions import ROLE_PERMISSIONS, Action, Role
from app.core.storage import StorageProvider
from app.models.project import InProject, Project, ProjectGrant
from app.services.context import CompanyContext
from app.services.tenant import Owned, StorageTenantService, TenantService

READ_ACTIONS = frozenset({Action.CONTENT_READ})


def enter_project(
    db: Session,
    ctx: CompanyContext,
    project_id: uuid.UUID,
    action: Action,
    *,
    archived_ok: bool = False,
) -> Project:
    """The project, if `ctx` may see it and do `action` in it: 404 when it may not see it,
    403 when its grant is narrower than `action`, 409 for a change to an archived one."""
    project = TenantService(db, ctx).get_owned(Project, project_id, "Project")
    if project.restricted and not ctx.can(Action.PROJECT_MANAGE):
        _check_grant(db, ctx, project, action)
    if project.is_archived and action not in READ_ACTIONS and not archived_ok:
        raise ProjectArchivedError(details={"project_id": str(project.id)})
    return project


def _check_grant(db: Session, ctx: CompanyContext, project: Project, action: Action) -> None:
    grant = db.get(ProjectGrant, (project.id, ctx.user.id))
    if grant is None:  # revoked since the scope let the project through
        raise NotFoundError.for_entity("Project", project.id)
    if action not in ROLE_PERMISSIONS[Role(grant.access.value)]:
        raise PermissionDeniedError(
            f"Your access to this project ({grant.access.value}) does not allow {action.value}.",
            details={
                "required": action.value,
                "role": ctx.role.value,
                "project_access": grant.access.value,
            },
        )


class ProjectScopedService(StorageTenantService):
    """A service acting inside one project the caller has entered."""

    def __init__(
        self,
        db: Session,
        ctx: CompanyContext,
        project: Project,
        storage: StorageProvider,
        settings: Settings,
    ) -> None:
        super().__init__(db, ctx, storage, settings)
        self.project = project

    @classmethod
    def for_project(
        cls,
        db: Session,
        ctx: CompanyContext,
        project: Project,
        storage: StorageProvider,
        settings: Settings,
    ) -> Self:
        return cls(db, ctx, project, storage, settings)

    def get_in_project(
        self, model: type[Owned], entity_id: uuid.UUID, entity: str, *, for_update: bool = False
    ) -> Owned:
        mapped: Any = model
        if not issubclass(mapped, InProject):
            raise TypeError(f"{model.__name__} does not live in a project")
        in_project: ColumnElement[bool] = mapped.project_id == self.project.id
        return self.get_owned(model, entity_id, entity, for_update=for_update, where=in_project)
