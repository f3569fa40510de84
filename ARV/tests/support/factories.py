"""Test data, made in one place. Rows are flushed into the test's transaction, so the
app under test (same connection) sees them and the outer rollback removes them."""

import itertools
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.core.security import create_access_token, hash_password
from app.models import (
    ARContent,
    ARContentVersion,
    AuthSession,
    BillingPeriod,
    Company,
    ContentStatus,
    FileStatus,
    Marker,
    MarkerStatus,
    Membership,
    PipelineStage,
    Plan,
    Product,
    ProductKind,
    Project,
    StoredFile,
    User,
    VatRate,
    Video,
    VideoStatus,
)
from app.utils.clock import utcnow

DEFAULT_PASSWORD = "correct-horse-battery"
_sequence = itertools.count()


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{next(_sequence)}-{uuid.uuid4().hex[:6]}@example.com"


def make_user(
    db: Session,
    email: str | None = None,
    *,
    password: str = DEFAULT_PASSWORD,
    verified: bool = True,
    superuser: bool = False,
) -> User:
    user = User(
        email=email or unique_email(),
        hashed_password=hash_password(password),
        is_superuser=superuser,
        email_verified_at=utcnow() if verified else None,
    )
    db.add(user)
    db.flush()
    return user


def make_company(db: Session, owner: User | None = None, name: str = "Acme Postcards") -> Company:
    company = Company(name=name, slug=f"company-{uuid.uuid4().hex[:10]}")
    db.add(company)
    db.flush()
    if owner is not None:
        add_member(db, company, owner, Role.OWNER)
    return company


def add_member(db: Session, company: Company, user: User, role: Role) -> Membership:
    membership = Membership(company_id=company.id, user_id=user.id, role=role)
    db.add(membership)
    db.flush()
    return membership


def auth_headers(db: Session, settings: Settings, user: User) -> dict[str, str]:
    """A signed-in session for `user`, as the Authorization header."""
    now = utcnow()
    session = AuthSession(user_id=user.id, expires_at=now + timedelta(days=1))
    db.add(session)
    db.flush()
    token, _ = create_access_token(settings, user.id, session.id, now)
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Tenant:
    """A company with one member of each role, each with ready auth headers."""

    company: Company
    users: dict[Role, User]
    headers: dict[Role, dict[str, str]]


def make_tenant(db: Session, settings: Settings, name: str = "Acme Postcards") -> Tenant:
    company = make_company(db, name=name)
    users: dict[Role, User] = {}
    headers: dict[Role, dict[str, str]] = {}
    for role in Role:
        user = make_user(db, unique_email(role.value))
        add_member(db, company, user, role)
        users[role] = user
        headers[role] = auth_headers(db, settings, user)
    return Tenant(company=company, users=users, headers=headers)


def make_video(
    db: Session,
    company: Company,
    title: str = "Greeting",
    status: VideoStatus = VideoStatus.READY,
    *,
    duration_seconds: float | None = 30.0,
) -> Video:
    """A video row as the pipeline leaves it (no media in storage): for tests of what
    hangs off a video, not of processing."""
    stored = _stored_file(db, company.id, f"{title}.mp4", "video/mp4")
    video = Video(
        company_id=company.id,
        file_id=stored.id,
        title=title,
        status=status,
        stage=PipelineStage.FINALIZE,
        duration_seconds=duration_seconds,
    )
    db.add(video)
    db.flush()
    return video


def _stored_file(
    db: Session, company_id: uuid.UUID, filename: str, content_type: str
) -> StoredFile:
    """An uploaded file's row (no bytes in storage)."""
    stored = StoredFile(
        company_id=company_id,
        status=FileStatus.AVAILABLE,
        filename=filename,
        content_type=content_type,
        size_bytes=1000,
        storage_key=f"companies/{company_id}/files/{uuid.uuid4()}",
    )
    db.add(stored)
    db.flush()
    return stored


def make_project(db: Session, company: Company, **fields: Any) -> Project:
    """A project of `company`; `fields` set any column (`restricted=True`, `status=...`)."""
    project = Project(company_id=company.id, **{"name": "Postcards", **fields})
    db.add(project)
    db.flush()
    return project


def make_content(
    db: Session,
    project: Project,
    title: str = "Postcard",
    *,
    status: ContentStatus = ContentStatus.DRAFT,
    **fields: Any,
) -> ARContent:
    """An AR content in `project`, with the project's default scene settings."""
    content = ARContent(
        company_id=project.company_id,
        project_id=project.id,
        title=title,
        status=status,
        scene=project.default_scene,
        **fields,
    )
    db.add(content)
    db.flush()
    return content


def make_marker(
    db: Session,
    content: ARContent,
    *,
    status: MarkerStatus = MarkerStatus.READY,
    score: int | None = 80,
    fingerprint: bytes | None = None,
    **fields: Any,
) -> Marker:
    """A marker row as processing leaves it (outputs named, none in storage), the newest
    of `content`: its current marker. `fingerprint` from `utils.marker_match.fingerprint`
    makes it comparable with other markers; `fields` set any other column."""
    stored = _stored_file(db, content.company_id, "marker.jpg", "image/jpeg")
    outputs = f"companies/{content.company_id}/markers/{uuid.uuid4()}"
    marker = Marker(
        company_id=content.company_id,
        project_id=content.project_id,
        ar_content_id=content.id,
        file_id=stored.id,
        status=status,
        width_mm=150,
        max_attempts=3,
        score=score,
        sha256=uuid.uuid4().hex * 2,
        fingerprint=fingerprint,
        **{"image_key": f"{outputs}/image.jpg", "mind_key": f"{outputs}/targets.mind", **fields},
    )
    db.add(marker)
    db.flush()
    return marker


def make_published_content(
    db: Session, project: Project, title: str = "Postcard", *, served: int = 1
) -> ARContent:
    """A published content of `project` with versions 1 to `served` (each of one ready
    marker), serving version `served`."""
    content = make_content(db, project, title, status=ContentStatus.PUBLISHED)
    marker = make_marker(db, content)
    db.add_all(
        ARContentVersion(
            company_id=content.company_id,
            project_id=content.project_id,
            ar_content_id=content.id,
            number=number,
            marker_id=marker.id,
            snapshot={"title": title},
        )
        for number in range(1, served + 1)
    )
    content.published_version = served
    db.flush()
    return content


def make_product(db: Session, **fields: Any) -> Product:
    """A product on sale: by default the Pro plan for a month, 2,990.00 RUB with 22% VAT."""
    product = Product(
        **{
            "code": f"pro-month-{uuid.uuid4().hex[:8]}",
            "name": "Pro, a month",
            "kind": ProductKind.PLAN,
            "plan_code": Plan.PRO,
            "period": BillingPeriod.MONTH,
            "price_kopecks": 299_000,
            "vat_rate": VatRate.VAT_22,
            **fields,
        }
    )
    db.add(product)
    db.flush()
    return product


def fill_storage(db: Session, tenant: Tenant, size: int) -> StoredFile:
    """An uploaded file of `size` bytes (its row only), to fill the company's quota."""
    stored = _stored_file(db, tenant.company.id, "big.mp4", "video/mp4")
    stored.size_bytes = size
    db.flush()
    return stored
