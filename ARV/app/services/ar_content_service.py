"""AR contents: what a viewer finds when it sees a marker, inside a project. Their count is
bounded by the company's plan."""

import uuid
from typing import Any

from sqlalchemy import func, select

from app.core.exceptions import ARContentLimitError, ContentArchivedError, ContentPublishedError
from app.models.ar_content import ARContent, ContentStatus
from app.models.project import Project
from app.schemas.scene import SceneSettings
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.plans import limits_for
from app.services.project_scope import ProjectScopedService
from app.services.tenant import ScopedService, company_wide, lock_company


class ARContentService(ProjectScopedService):
    def create(self, title: str, description: str | None, scene: SceneSettings | None) -> ARContent:
        self._check_plan_allows_one_more()
        content = ARContent(
            company_id=self.ctx.company_id,
            project_id=self.project.id,
            title=title,
            description=description,
            scene=scene or self.project.default_scene,
            created_by_id=self.ctx.user.id,
        )
        self.db.add(content)
        self.db.flush()
        self._audit("ar_content.created", content)
        return content

    def list_contents(
        self, params: PageParams, title: str | None, status: ContentStatus | None
    ) -> ResultPage[ARContent]:
        statement = self.scoped(ARContent).where(ARContent.project_id == self.project.id)
        if title:
            statement = statement.where(ARContent.title.icontains(title, autoescape=True))
        if status is not None:
            statement = statement.where(ARContent.status == status)
        return paginate(
            self.db, statement.order_by(ARContent.created_at.desc(), ARContent.id), params
        )

    def get(self, content_id: uuid.UUID, *, for_update: bool = False) -> ARContent:
        return self.get_in_project(ARContent, content_id, "AR content", for_update=for_update)

    def update(self, content_id: uuid.UUID, changes: dict[str, Any]) -> ARContent:
        content = self.writable(content_id)
        for field, value in changes.items():
            setattr(content, field, value)
        self.db.flush()
        self._audit("ar_content.updated", content, sorted(changes))
        return content

    def delete(self, content_id: uuid.UUID) -> None:
        """Refused while published: taking a content off the air is `content.publish`'s."""
        content = self.writable(content_id)
        if content.status is ContentStatus.PUBLISHED:
            raise ContentPublishedError(details={"content_id": str(content.id)})
        content.soft_delete()
        self._audit("ar_content.deleted", content)

    def writable(self, content_id: uuid.UUID) -> ARContent:
        """The content, locked for a change: concurrent writes to it go one after another;
        an archived content is read-only."""
        content = self.get(content_id, for_update=True)
        if content.status is ContentStatus.ARCHIVED:
            raise ContentArchivedError(details={"content_id": str(content.id)})
        return content

    def _check_plan_allows_one_more(self) -> None:
        # The company row lock makes concurrent creations count one after another.
        lock_company(self.db, self.ctx.company_id)
        existing = contents_counted(company_wide(self, "ar_contents.plan_limit"))
        limits = limits_for(self.db, self.ctx.company)
        if existing >= limits.max_ar_contents:
            raise ARContentLimitError(
                f"The {limits.code} plan allows {limits.max_ar_contents} AR contents; "
                "delete one or upgrade the plan.",
                details={"limit": limits.max_ar_contents, "used": existing},
            )

    def _audit(self, action: str, content: ARContent, changed: list[str] | None = None) -> None:
        changes: dict[str, Any] = {"title": content.title, "project_id": str(self.project.id)}
        if changed is not None:
            changes["changed"] = changed
        self.audit(action, "ar_content", content.id, changes)


def contents_counted(scope: ScopedService) -> int:
    """The AR contents that count against the plan (those of live projects) of the scope's
    company: pass a company-wide scope."""
    live_projects = scope.scoped(Project).with_only_columns(Project.id)
    in_use = scope.scoped(ARContent).where(ARContent.project_id.in_(live_projects))
    return scope.db.scalar(select(func.count()).select_from(in_use.subquery())) or 0
