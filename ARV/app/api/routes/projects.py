"""Projects (how a company organises its AR contents), who may see a restricted one, and
the templates new projects start from."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from app.api.deps import PageParamsDep, project_service, tenant_service
from app.api.openapi import raises
from app.api.routes.tenant_common import TENANT
from app.core.exceptions import (
    NotAMemberError,
    NotFoundError,
    ProjectHasPublishedContentError,
    TemplateNameTakenError,
)
from app.core.permissions import Action
from app.models.project import ProjectStatus
from app.schemas.common import Page
from app.schemas.project import (
    NAME_MAX_LENGTH,
    ProjectAccessWrite,
    ProjectCreate,
    ProjectGrantResponse,
    ProjectGrantWrite,
    ProjectResponse,
    ProjectSummary,
    ProjectUpdate,
    TemplateCreate,
    TemplateResponse,
    TemplateUpdate,
)
from app.services.project_service import OneProjectService, ProjectService
from app.services.project_template_service import ProjectTemplateService

router = APIRouter(tags=["projects"])
PROJECTS = f"{TENANT}/projects"
PROJECT = f"{PROJECTS}/{{project_id}}"
GRANTS = f"{PROJECT}/grants"
GRANT = f"{GRANTS}/{{user_id}}"
TEMPLATES = f"{TENANT}/project-templates"
TEMPLATE = f"{TEMPLATES}/{{template_id}}"
UserId = Annotated[uuid.UUID, Path(description="A member of the company.")]
TemplateId = Annotated[uuid.UUID, Path(description="The project template's id.")]

ProjectsReader = Annotated[ProjectService, tenant_service(ProjectService, Action.CONTENT_READ)]
ProjectsWriter = Annotated[ProjectService, tenant_service(ProjectService, Action.PROJECT_WRITE)]
ProjectReader = Annotated[
    OneProjectService, project_service(OneProjectService, Action.CONTENT_READ)
]
ProjectWriter = Annotated[
    OneProjectService, project_service(OneProjectService, Action.PROJECT_WRITE)
]
ProjectManager = Annotated[
    OneProjectService, project_service(OneProjectService, Action.PROJECT_MANAGE)
]
# Unarchiving, archiving again and deleting act on an archived project too.
ProjectLifecycle = Annotated[
    OneProjectService,
    project_service(OneProjectService, Action.PROJECT_MANAGE, archived_ok=True),
]
# Who has access is read by managers only, and read (not changed) while archived too.
GrantsReader = Annotated[
    OneProjectService,
    project_service(OneProjectService, Action.PROJECT_MANAGE, archived_ok=True),
]
TemplatesReader = Annotated[
    ProjectTemplateService, tenant_service(ProjectTemplateService, Action.CONTENT_READ)
]
TemplatesManager = Annotated[
    ProjectTemplateService, tenant_service(ProjectTemplateService, Action.PROJECT_MANAGE)
]


@router.post(PROJECTS, status_code=status.HTTP_201_CREATED, summary="Create a project")
@raises(NotFoundError)
def create_project(body: ProjectCreate, projects: ProjectsWriter) -> ProjectResponse:
    """Defaults (scene settings, marker width, publishing threshold) come from the fields
    sent, then `template_id`'s template, then the platform's."""
    return ProjectResponse.model_validate(projects.create(body))


@router.get(PROJECTS, summary="List projects")
def list_projects(
    projects: ProjectsReader,
    page: PageParamsDep,
    name: Annotated[
        str | None, Query(max_length=NAME_MAX_LENGTH, description="Part of the name.")
    ] = None,
    project_status: Annotated[
        ProjectStatus | None, Query(alias="status", description="Only projects in this state.")
    ] = None,
) -> Page[ProjectResponse]:
    """By name. A restricted project is listed only to owners, admins and the members
    granted access to it."""
    result = projects.list_projects(page, name, project_status)
    return Page[ProjectResponse].model_validate(result, from_attributes=True)


@router.get(PROJECT, summary="A project")
def read_project(project: ProjectReader) -> ProjectResponse:
    """Its name, description, state, whether it is restricted, and its defaults."""
    return ProjectResponse.model_validate(project.project)


@router.patch(PROJECT, summary="Change a project's name, description or defaults")
def update_project(body: ProjectUpdate, project: ProjectWriter) -> ProjectResponse:
    """Fields left out keep their value. New defaults apply to contents created later."""
    return ProjectResponse.model_validate(project.update(body.fields_sent()))


@router.delete(PROJECT, status_code=status.HTTP_204_NO_CONTENT, summary="Delete a project")
@raises(ProjectHasPublishedContentError)
def delete_project(project: ProjectLifecycle) -> None:
    """Soft delete: the project and its contents answer 404 from then on. Refused while a
    content in it is published."""
    project.delete()


@router.post(f"{PROJECT}/archive", summary="Archive a project")
def archive_project(project: ProjectLifecycle) -> ProjectResponse:
    """The project and its contents become read-only (409 `project_archived` on any
    change); published contents stay published."""
    return ProjectResponse.model_validate(project.archive())


@router.post(f"{PROJECT}/unarchive", summary="Unarchive a project")
def unarchive_project(project: ProjectLifecycle) -> ProjectResponse:
    """The project and its contents can be changed again."""
    return ProjectResponse.model_validate(project.unarchive())


@router.get(f"{PROJECT}/summary", summary="A project's contents by status")
def read_project_summary(project: ProjectReader) -> ProjectSummary:
    """How many contents it holds, in each state, and its scan totals of the last 30 days
    (plans with analytics)."""
    return ProjectSummary.model_validate(project.summary())


@router.put(f"{PROJECT}/access", summary="Restrict a project, or open it to every member")
def set_project_access(body: ProjectAccessWrite, project: ProjectManager) -> ProjectResponse:
    """A restricted project is seen only by owners, admins and the members granted access
    (`PUT .../grants/{user_id}`); every other member gets 404 on it and everything in it."""
    return ProjectResponse.model_validate(project.set_restricted(body.restricted))


@router.get(GRANTS, summary="Members granted access to the project")
def list_project_grants(project: GrantsReader, page: PageParamsDep) -> Page[ProjectGrantResponse]:
    """By email. Grants are kept while the project is open to every member, and apply
    again when it is restricted."""
    result = project.list_grants(page)
    return Page[ProjectGrantResponse].model_validate(result, from_attributes=True)


@router.put(GRANT, summary="Grant a member access to the project")
@raises(NotAMemberError)
def grant_project_access(
    user_id: UserId, body: ProjectGrantWrite, project: ProjectManager
) -> ProjectGrantResponse:
    """`editor` or `viewer`; a grant never gives more than the member's company role. It
    matters while the project is restricted."""
    return ProjectGrantResponse.model_validate(project.grant(user_id, body.access))


@router.delete(GRANT, status_code=status.HTTP_204_NO_CONTENT, summary="Revoke project access")
def revoke_project_access(user_id: UserId, project: ProjectManager) -> None:
    """While the project is restricted, the member no longer sees it (unless they are an
    owner or admin)."""
    project.revoke(user_id)


@router.post(TEMPLATES, status_code=status.HTTP_201_CREATED, summary="Create a project template")
@raises(TemplateNameTakenError)
def create_project_template(body: TemplateCreate, templates: TemplatesManager) -> TemplateResponse:
    """Defaults left out are the platform's. Names are unique within the company."""
    return TemplateResponse.model_validate(templates.create(body))


@router.get(TEMPLATES, summary="List project templates")
def list_project_templates(
    templates: TemplatesReader, page: PageParamsDep
) -> Page[TemplateResponse]:
    """By name."""
    result = templates.list_templates(page)
    return Page[TemplateResponse].model_validate(result, from_attributes=True)


@router.get(TEMPLATE, summary="A project template")
@raises(NotFoundError)
def read_project_template(template_id: TemplateId, templates: TemplatesReader) -> TemplateResponse:
    """Its name, description and defaults."""
    return TemplateResponse.model_validate(templates.get(template_id))


@router.patch(TEMPLATE, summary="Change a project template")
@raises(NotFoundError, TemplateNameTakenError)
def update_project_template(
    template_id: TemplateId, body: TemplateUpdate, templates: TemplatesManager
) -> TemplateResponse:
    """Projects already made from it keep what they copied."""
    return TemplateResponse.model_validate(templates.update(template_id, body.fields_sent()))


@router.delete(
    TEMPLATE, status_code=status.HTTP_204_NO_CONTENT, summary="Delete a project template"
)
@raises(NotFoundError)
def delete_project_template(template_id: TemplateId, templates: TemplatesManager) -> None:
    """Projects made from it keep their defaults."""
    templates.delete(template_id)
