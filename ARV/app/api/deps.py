"""Dependency aliases shared by every router: settings, the session, pagination, the
signed-in user, the company context a tenant route acts in, and the services routes call."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker

from app.api.openapi import raises
from app.core.config import Settings
from app.core.database import session_scope
from app.core.exceptions import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ProjectArchivedError,
)
from app.core.logging import request_id_var
from app.core.permissions import Action
from app.core.rate_limit import get_rate_limiter
from app.core.security import InvalidTokenError, decode_access_token
from app.core.storage import StorageProvider
from app.models.user import User
from app.services.admin_service import AdminService
from app.services.audit_service import AuditService
from app.services.auth_service import AuthService, live_session_user
from app.services.catalogue_service import CatalogueService
from app.services.company_service import CompanyService, resolve_company_context
from app.services.context import CompanyContext, RequestMeta
from app.services.login_throttle import LoginThrottle
from app.services.media_delivery import MediaDelivery
from app.services.pagination import PageParams
from app.services.project_scope import ProjectScopedService, enter_project
from app.services.readiness_service import ReadinessService
from app.services.tenant import TenantService
from app.services.user_service import UserService

UNKNOWN_CLIENT_IP = "unknown"

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


# Dependencies that only read app state are `async`: a plain `def` would cost every request
# using it a trip through the threadpool (the public hot path's included).
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db() -> Iterator[Session]:
    """One session per request: committed when the route returns, rolled back on error.

    Declared with scope="function" below so the commit happens before the response is
    sent: a client never receives a 2xx for a write that then failed to commit.
    """
    with session_scope() as session:
        yield session


def get_page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")
    ] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


async def get_storage_dep(request: Request) -> StorageProvider:
    storage: StorageProvider = request.app.state.storage
    return storage


async def get_session_factory_dep(request: Request) -> sessionmaker[Session]:
    """For routes that work in several short units instead of one request transaction
    (a streamed upload must not hold a connection while the bytes flow)."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory_dep)]
StorageDep = Annotated[StorageProvider, Depends(get_storage_dep)]
DbSession = Annotated[Session, Depends(get_db, scope="function")]
PageParamsDep = Annotated[PageParams, Depends(get_page_params)]


def get_client_ip(request: Request) -> str:
    # uvicorn --proxy-headers has already put a trusted proxy's X-Forwarded-For here.
    return request.client.host if request.client else UNKNOWN_CLIENT_IP


ClientIp = Annotated[str, Depends(get_client_ip)]


def get_request_meta(request: Request, client_ip: ClientIp) -> RequestMeta:
    return RequestMeta(
        ip_address=client_ip,
        user_agent=request.headers.get("user-agent", "")[:300],
        request_id=request_id_var.get(),
    )


RequestMetaDep = Annotated[RequestMeta, Depends(get_request_meta)]


def get_auth_service(db: DbSession, settings: SettingsDep, meta: RequestMetaDep) -> AuthService:
    throttle = LoginThrottle(get_rate_limiter(settings), settings)
    return AuthService(db, settings, meta, throttle)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


# Services: routes get every service from a dependency (tenant services through
# `tenant_service` below), never build one themselves.
def get_company_service(db: DbSession, meta: RequestMetaDep) -> CompanyService:
    return CompanyService(db, meta)


def get_user_service(db: DbSession) -> UserService:
    return UserService(db)


def get_audit_service(db: DbSession) -> AuditService:
    return AuditService(db)


def get_admin_service(db: DbSession, meta: RequestMetaDep) -> AdminService:
    return AdminService(db, meta)


def get_catalogue_service(db: DbSession) -> CatalogueService:
    return CatalogueService(db)


def get_readiness_service(db: DbSession, settings: SettingsDep) -> ReadinessService:
    return ReadinessService(db, settings)


def get_media_delivery(storage: StorageDep, settings: SettingsDep) -> MediaDelivery:
    return MediaDelivery(storage, settings)


CompanyServiceDep = Annotated[CompanyService, Depends(get_company_service)]
UserServiceDep = Annotated[UserService, Depends(get_user_service)]
AuditServiceDep = Annotated[AuditService, Depends(get_audit_service)]
AdminServiceDep = Annotated[AdminService, Depends(get_admin_service)]
CatalogueServiceDep = Annotated[CatalogueService, Depends(get_catalogue_service)]
ReadinessServiceDep = Annotated[ReadinessService, Depends(get_readiness_service)]
MediaDeliveryDep = Annotated[MediaDelivery, Depends(get_media_delivery)]

bearer_token = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/login/form",
    auto_error=False,
    description="Access token from /auth/login (or the Authorize button's password form).",
)


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    session_id: uuid.UUID


@raises(AuthenticationError)
def get_principal(
    db: DbSession, settings: SettingsDep, token: Annotated[str | None, Depends(bearer_token)]
) -> Principal:
    if not token:
        raise AuthenticationError("Sign in first: send `Authorization: Bearer <access token>`.")
    try:
        claims = decode_access_token(settings, token)
    except InvalidTokenError as error:
        raise AuthenticationError("The access token is invalid or expired.") from error
    user = live_session_user(db, claims)
    if user is None:
        raise AuthenticationError("This session has ended; sign in again.")
    return Principal(user=user, session_id=claims.session_id)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_current_user(principal: CurrentPrincipal) -> User:
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]


@raises(NotFoundError)
def get_company_context(
    company_id: Annotated[uuid.UUID, Path(description="The company acted in.")],
    db: DbSession,
    user: CurrentUser,
    meta: RequestMetaDep,
) -> CompanyContext:
    return resolve_company_context(db, user, company_id, meta)


@raises(PermissionDeniedError)
class RequirePermission:
    """Dependency: the company context, provided the caller's role allows `action`.
    Checked before any resource is loaded, so a refused caller learns nothing about ids."""

    def __init__(self, action: Action) -> None:
        self.action = action

    def __call__(
        self, ctx: Annotated[CompanyContext, Depends(get_company_context)]
    ) -> CompanyContext:
        if not ctx.can(self.action):
            raise PermissionDeniedError(
                f"Your role ({ctx.role.value}) does not allow {self.action.value}.",
                details={"required": self.action.value, "role": ctx.role.value},
            )
        return ctx


def company_context(action: Action) -> object:
    """`ctx: Annotated[CompanyContext, company_context(Action.X)]` in a tenant route."""
    return Depends(RequirePermission(action))


TS = TypeVar("TS", bound=TenantService)


def tenant_service(service: type[TS], action: Action) -> Any:
    """The one way a route gets a tenant service:
    `videos: Annotated[VideoService, tenant_service(VideoService, Action.CONTENT_READ)]`.
    The caller's role is checked for `action` first, before any resource is loaded; the
    service is then built for the caller's company context. Services load and lock what a
    request acts on themselves, inside its unit of work, in the order that avoids deadlocks
    (a video before its job), so routes take ids, not loaded resources."""

    def build(
        ctx: Annotated[CompanyContext, Depends(RequirePermission(action))],
        db: DbSession,
        storage: StorageDep,
        settings: SettingsDep,
    ) -> TS:
        return service.for_request(db, ctx, storage, settings)

    return Depends(build)


PS = TypeVar("PS", bound=ProjectScopedService)


def project_service(service: type[PS], action: Action, *, archived_ok: bool = False) -> Any:
    """`tenant_service` for a route under `/projects/{project_id}`: after the role, the
    project is entered (`services.project_scope.enter_project`): a restricted project the
    caller was not granted answers 404, a grant narrower than `action` 403, and a change to
    an archived project 409 unless `archived_ok` (unarchiving, deleting). All before the
    body is looked at, so a refused caller learns nothing from validation errors."""

    @raises(ProjectArchivedError)
    def build(
        project_id: Annotated[uuid.UUID, Path(description="The project acted in.")],
        ctx: Annotated[CompanyContext, Depends(RequirePermission(action))],
        db: DbSession,
        storage: StorageDep,
        settings: SettingsDep,
    ) -> PS:
        project = enter_project(db, ctx, project_id, action, archived_ok=archived_ok)
        return service.for_project(db, ctx, project, storage, settings)

    return Depends(build)
