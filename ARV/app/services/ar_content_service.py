"""AR contents: what a viewer app finds when it sees a marker. Their count is bounded
by the company's plan."""

import uuid

from sqlalchemy import func, select

from app.core.exceptions import ARContentLimitError
from app.models.ar_content import ARContent
from app.models.company import Company
from app.services.pagination import PageParams, ResultPage, paginate
from app.services.plans import limits_for
from app.services.tenant import TenantService


class ARContentService(TenantService):
    def create(self, name: str, description: str | None) -> ARContent:
        self._check_plan_allows_one_more()
        content = ARContent(
            company_id=self.ctx.company_id,
            name=name,
            description=description,
            created_by_id=self.ctx.user.id,
        )
        self.db.add(content)
        self.db.flush()
        self._audit("ar_content.created", content)
        return content

    def list_contents(self, params: PageParams, name: str | None) -> ResultPage[ARContent]:
        statement = self.scoped(ARContent)
        if name:
            statement = statement.where(ARContent.name.icontains(name, autoescape=True))
        return paginate(
            self.db, statement.order_by(ARContent.created_at.desc(), ARContent.id), params
        )

    def get(self, content_id: uuid.UUID, *, for_update: bool = False) -> ARContent:
        return self.get_owned(ARContent, content_id, "AR content", for_update=for_update)

    def update(self, content_id: uuid.UUID, changes: dict[str, str | None]) -> ARContent:
        content = self.get(content_id)
        for field, value in changes.items():
            setattr(content, field, value)
        self.db.flush()
        self._audit("ar_content.updated", content)
        return content

    def delete(self, content_id: uuid.UUID) -> None:
        content = self.get(content_id, for_update=True)
        content.soft_delete()
        self._audit("ar_content.deleted", content)

    def _check_plan_allows_one_more(self) -> None:
        # The company row lock makes concurrent creations count one after another.
        self.db.execute(
            select(Company.id).where(Company.id == self.ctx.company_id).with_for_update()
        )
        existing = self.db.scalar(
            select(func.count()).select_from(self.scoped(ARContent).subquery())
        )
        limits = limits_for(self.ctx.company)
        if (existing or 0) >= limits.max_ar_contents:
            raise ARContentLimitError(
                f"The {limits.code} plan allows {limits.max_ar_contents} AR contents; "
                "delete one or upgrade the plan.",
                details={"limit": limits.max_ar_contents, "used": existing},
            )

    def _audit(self, action: str, content: ARContent) -> None:
        self.audit(action, "ar_content", content.id, {"name": content.name})
