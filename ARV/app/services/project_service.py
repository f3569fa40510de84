"""Projects: create and list them (`ProjectService`), and act on one the caller has
entered (`OneProjectService`: settings, lifecycle, access, summary)."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import contains_eager

from app.core.exceptions import (
    NotAMemberError,
    NotFoundError,
    ProjectHasPublishedContentError,
)
from app.models.ar_content import ARContent, ContentStatus
from app.models.company import Membership
from app.models.project import (
    Project,
    ProjectAccess,
    ProjectGrant,
    ProjectStatus,
    ProjectTemplate,
)
from app.models.user import User
from app.schemas.project import ProjectCreate
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.project_scope import ProjectScopedService
from app.services.scan_analytics_service import Figures, ScanStatsService
from app.services.tenant import TenantService, lock_company

DEFAULT_FIELDS = ("default_scene", "default_marker_width_mm", "publish_threshold")


class ProjectService(TenantService):
    def create(self, body: ProjectCreate) -> Project:
        project = Project(
            company_id=self.ctx.company_id,
            name=body.name,
            description=body.description,
            created_by_id=self.ctx.user.id,
        )
        if body.template_id is not None:
            template = self.get_owned(ProjectTemplate, body.template_id, "Project template")
            project.template_id = template.id
            _copy_defaults(template, project)
        for field, value in body.model_dump(include=set(DEFAULT_FIELDS), exclude_none=True).items():
            setattr(project, field, getattr(body, field) if field == "default_scene" else value)
        self.db.add(project)
        self.db.flush()
        self.audit("project.created", "project", project.id, {"name": project.name})
        return project

    def list_projects(
        self, params: PageParams, name: str | None, status: ProjectStatus | None
    ) -> ResultPage[Project]:
        statement = self.scoped(Project)
        if name:
            statement = statement.where(Project.name.icontains(name, autoescape=True))
        if status is not None:
            statement = statement.where(Project.status == status)
        return paginate(self.db, statement.order_by(Project.name, Project.id), params)


def _copy_defaults(source: ProjectTemplate, project: Project) -> None:
    for field in DEFAULT_FIELDS:
        setattr(project, field, getattr(source, field))


@dataclass(frozen=True, slots=True)
class GrantView:
    user_id: uuid.UUID
    email: str
    access: ProjectAccess
    created_at: datetime


def _grant_view(grant: ProjectGrant, user: User) -> GrantView:
    return GrantView(user.id, user.email, grant.access, grant.created_at)


@dataclass(frozen=True, slots=True)
class Summary:
    project_id: uuid.UUID
    contents_total: int
    contents_by_status: dict[str, int]
    scans: Figures | None


class OneProjectService(ProjectScopedService):
    def update(self, changes: dict[str, Any]) -> Project:
        for field, value in changes.items():
            setattr(self.project, field, value)
        self.db.flush()
        self._audit("project.updated", sorted(changes))
        return self.project

    def archive(self) -> Project:
        return self._move_to(ProjectStatus.ARCHIVED, "project.archived")

    def unarchive(self) -> Project:
        return self._move_to(ProjectStatus.ACTIVE, "project.unarchived")

    def delete(self) -> None:
        # In turn with publishes, which take the same lock: none slips in after the check.
        lock_company(self.db, self.ctx.company_id)
        published = list(
            self.db.execute(
                self.scoped(ARContent)
                .with_only_columns(ARContent.id, ARContent.title)
                .where(
                    ARContent.project_id == self.project.id,
                    ARContent.status == ContentStatus.PUBLISHED,
                )
                .order_by(ARContent.title)
            )
        )
        if published:
            raise ProjectHasPublishedContentError(
                "Unpublish this project's contents before deleting it.",
                details={
                    "contents": [{"id": str(row.id), "title": row.title} for row in published]
                },
            )
        self.project.soft_delete()
        self._audit("project.deleted")

    def set_restricted(self, restricted: bool) -> Project:
        self.project.restricted = restricted
        self.db.flush()
        self._audit("project.access_changed", {"restricted": restricted})
        return self.project

    def list_grants(self, params: PageParams) -> ResultPage[GrantView]:
        statement = (
            self.scoped(ProjectGrant)
            .join(ProjectGrant.user)
            .options(contains_eager(ProjectGrant.user))
            .where(ProjectGrant.project_id == self.project.id)
            .order_by(User.email, ProjectGrant.user_id)
        )
        page: ResultPage[ProjectGrant] = paginate(self.db, statement, params)
        views = [_grant_view(grant, grant.user) for grant in page.items]
        return ResultPage(items=views, total=page.total, limit=page.limit, offset=page.offset)

    def grant(self, user_id: uuid.UUID, access: ProjectAccess) -> GrantView:
        user = self._member(user_id)
        # Grants to one project take turns, so two at once update rather than collide.
        self.db.execute(self.scoped(Project).where(Project.id == self.project.id).with_for_update())
        grant = self.db.get(ProjectGrant, (self.project.id, user_id))
        if grant is None:
            grant = ProjectGrant(
                company_id=self.ctx.company_id, project_id=self.project.id, user_id=user_id
            )
            self.db.add(grant)
        grant.access = access
        self.db.flush()
        self._audit("project.access_granted", {"user_id": str(user_id), "access": access.value})
        return _grant_view(grant, user)

    def revoke(self, user_id: uuid.UUID) -> None:
        grant = self.db.scalar(
            self.scoped(ProjectGrant).where(
                ProjectGrant.project_id == self.project.id, ProjectGrant.user_id == user_id
            )
        )
        if grant is None:
            raise NotFoundError.for_entity("Project access", user_id)
        self.db.delete(grant)
        self._audit("project.access_revoked", {"user_id": str(user_id)})

    def summary(self) -> Summary:
        rows = self.db.execute(
            self.scoped(ARContent)
            .with_only_columns(ARContent.status, func.count())
            .where(ARContent.project_id == self.project.id)
            .group_by(ARContent.status)
        )
        # A list of rows: dict() of the Result itself would take it for a mapping (it has keys()).
        counts = dict(rows.all())
        by_status = {status.value: counts.get(status, 0) for status in ContentStatus}
        scans = ScanStatsService(
            self.db, self.ctx, self.project, self.storage, self.settings
        ).recent_totals()
        return Summary(self.project.id, sum(by_status.values()), by_status, scans)

    def _member(self, user_id: uuid.UUID) -> User:
        membership = self.db.scalar(self.scoped(Membership).where(Membership.user_id == user_id))
        user = None if membership is None else self.db.get(User, user_id)
        if user is None:
            raise NotAMemberError(
                "Only members of the company can be given access to its projects.",
                details={"user_id": str(user_id)},
            )
        return user

    def _move_to(self, status: ProjectStatus, action: str) -> Project:
        self.project.status = status
        self.db.flush()
        self._audit(action)
        return self.project

    def _audit(self, action: str, changes: Any = None) -> None:
        payload: dict[str, Any] = {"name": self.project.name}
        if changes is not None:
            payload["changes"] = changes
        self.audit(action, "project", self.project.id, payload)
