"""Project templates in the service: a name already taken is refused inside a savepoint,
so the request's unit of work stays usable and the template keeps what it had."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.exceptions import TemplateNameTakenError
from app.core.permissions import Role
from app.models import ProjectTemplate
from app.schemas.project import TemplateCreate
from app.services.context import CompanyContext, RequestMeta
from app.services.project_template_service import ProjectTemplateService
from tests.support.factories import make_tenant


def test_a_taken_name_is_refused_and_the_unit_of_work_goes_on(
    db: Session, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    ctx = CompanyContext(tenant.users[Role.ADMIN], tenant.company, Role.ADMIN, RequestMeta())
    templates = ProjectTemplateService(db, ctx)
    templates.create(TemplateCreate(name="Print"))
    billboard = templates.create(TemplateCreate(name="Billboard", publish_threshold=90))

    with pytest.raises(TemplateNameTakenError) as raised:
        templates.create(TemplateCreate(name="Print"))
    assert raised.value.details == {"name": "Print"}
    with pytest.raises(TemplateNameTakenError):
        templates.update(billboard.id, {"name": "Print", "publish_threshold": 10})

    # The session is still usable, and the refused change left nothing behind.
    db.expire_all()
    assert (billboard.name, billboard.publish_threshold) == ("Billboard", 90)
    templates.update(billboard.id, {"name": "Poster"})
    db.flush()
    names = db.scalars(
        select(ProjectTemplate.name)
        .where(ProjectTemplate.company_id == tenant.company.id)
        .order_by(ProjectTemplate.name)
    )
    assert list(names) == ["Poster", "Print"]
