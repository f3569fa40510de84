"""Project templates: the defaults (scene settings, marker width, publishing threshold) a
company's new projects can start from."""

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.core.exceptions import TemplateNameTakenError
from app.models.project import ProjectTemplate
from app.schemas.project import TemplateCreate
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.tenant import TenantService


class ProjectTemplateService(TenantService):
    def create(self, body: TemplateCreate) -> ProjectTemplate:
        template = ProjectTemplate(
            company_id=self.ctx.company_id,
            **body.model_dump(exclude_none=True, exclude={"default_scene"}),
        )
        if body.default_scene is not None:
            template.default_scene = body.default_scene
        self._save(template, {})
        self._audit("project_template.created", template)
        return template

    def list_templates(self, params: PageParams) -> ResultPage[ProjectTemplate]:
        statement = self.scoped(ProjectTemplate).order_by(ProjectTemplate.name)
        return paginate(self.db, statement, params)

    def get(self, template_id: uuid.UUID) -> ProjectTemplate:
        return self.get_owned(ProjectTemplate, template_id, "Project template")

    def update(self, template_id: uuid.UUID, changes: dict[str, Any]) -> ProjectTemplate:
        template = self.get(template_id)
        self._save(template, changes)
        self._audit("project_template.updated", template)
        return template

    def delete(self, template_id: uuid.UUID) -> None:
        """Projects made from it keep the defaults they copied."""
        template = self.get(template_id)
        self.db.delete(template)
        self._audit("project_template.deleted", template)

    def _save(self, template: ProjectTemplate, changes: dict[str, Any]) -> None:
        """Added and changed inside a savepoint, so a name already taken (the unique
        constraint) is a clear refusal and leaves the request's unit of work usable.
        (Opening a savepoint flushes what is pending first, outside it: a change made
        before it would fail the whole transaction instead.)"""
        name = changes.get("name", template.name)
        try:
            with self.db.begin_nested():
                self.db.add(template)
                for field, value in changes.items():
                    setattr(template, field, value)
                self.db.flush()
        except IntegrityError as error:
            raise TemplateNameTakenError(
                f"A template called {name!r} already exists.", details={"name": name}
            ) from error

    def _audit(self, action: str, template: ProjectTemplate) -> None:
        self.audit(action, "project_template", template.id, {"name": template.name})
