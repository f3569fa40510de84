"""Companies: the tenants. Creating one makes the creator its owner."""

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.exceptions import NotFoundError
from app.core.permissions import Role
from app.models.company import Company, Membership
from app.models.user import User
from app.schemas.company_settings import CompanySettings
from app.services.audit_service import AuditService
from app.services.context import CompanyContext, RequestMeta
from app.services.pagination import PageParams, ResultPage, paginate
from app.utils.slugs import slugify, with_suffix

SLUG_ATTEMPTS = 3


class CompanyService:
    def __init__(self, db: Session, meta: RequestMeta) -> None:
        self.db = db
        self.meta = meta
        self.audit = AuditService(db)

    def create(self, owner: User, name: str, settings: CompanySettings) -> Company:
        company = Company(name=name, slug=slugify(name), settings=settings)
        self._insert_with_free_slug(company)
        self.db.add(Membership(company_id=company.id, user_id=owner.id, role=Role.OWNER))
        self.audit.record(
            "company.created",
            entity_type="company",
            entity_id=company.id,
            actor_user_id=owner.id,
            meta=self.meta,
            company_id=company.id,
            changes={"after": {"name": name, "slug": company.slug}},
        )
        return company

    def list_for_user(self, user: User, params: PageParams) -> ResultPage[Company]:
        statement = (
            select(Company)
            .join(Membership, Membership.company_id == Company.id)
            .where(Membership.user_id == user.id, Company.deleted_at.is_(None))
            .order_by(Company.name, Company.id)
        )
        return paginate(self.db, statement, params)

    def update(
        self, ctx: CompanyContext, name: str | None, settings: CompanySettings | None
    ) -> Company:
        company = ctx.company
        before = _audited(company)
        if name is not None:
            company.name = name
        if settings is not None:
            company.settings = settings
        self.db.flush()  # applies updated_at, so the response shows the stored value
        self._audit(ctx, "company.updated", before, _audited(company))
        return company

    def delete(self, ctx: CompanyContext) -> None:
        ctx.company.soft_delete()
        self._audit(ctx, "company.deleted", {"name": ctx.company.name}, {})

    def _audit(self, ctx: CompanyContext, action: str, before: object, after: object) -> None:
        self.audit.record(
            action,
            entity_type="company",
            entity_id=ctx.company_id,
            actor_user_id=ctx.user.id,
            actor_kind=ctx.kind,
            meta=self.meta,
            company_id=ctx.company_id,
            changes={"before": before, "after": after},
        )

    def _insert_with_free_slug(self, company: Company) -> None:
        # Slugs are unique; two companies with one name get the plain slug and a suffixed one.
        # The savepoint lets a concurrent insert of the same slug fail without losing the
        # request's transaction.
        for attempt in range(SLUG_ATTEMPTS):
            try:
                with self.db.begin_nested():
                    self.db.add(company)
                    self.db.flush()
                return
            except IntegrityError:
                company.slug = with_suffix(slugify(company.name), secrets.token_hex(3))
                if attempt == SLUG_ATTEMPTS - 1:
                    raise


def _audited(company: Company) -> dict[str, object]:
    return {"name": company.name, "settings": company.settings.model_dump(mode="json")}


def resolve_company_context(
    db: Session, user: User, company_id: uuid.UUID, meta: RequestMeta
) -> CompanyContext:
    """The caller's standing in a company. Not a member (or a deleted company) reads as
    "not found", so ids of other tenants cannot be probed. Platform superusers get owner
    rights for support; their actions are audited under their own user id."""
    company = db.get(Company, company_id)
    if company is None or company.is_deleted:
        raise NotFoundError.for_entity("Company", company_id)
    role = db.scalar(
        select(Membership.role).where(
            Membership.company_id == company_id, Membership.user_id == user.id
        )
    )
    if role is not None:
        return CompanyContext(user=user, company=company, role=role, meta=meta)
    if user.is_superuser:
        return CompanyContext(
            user=user, company=company, role=Role.OWNER, meta=meta, is_support_access=True
        )
    raise NotFoundError.for_entity("Company", company_id)
