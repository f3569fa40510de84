"""ASGI entry point: `uvicorn app.main:app`."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from prometheus_client import CollectorRegistry

from app.api.errors import register_exception_handlers
from app.api.openapi import install_openapi, operation_id
from app.api.router import API_V1_PREFIX, api_router
from app.api.routes import ops, viewer_page
from app.core.config import Settings, get_settings
from app.core.database import get_session_factory
from app.core.logging import configure_logging
from app.core.realtime import hub_for
from app.core.storage import build_storage
from app.middleware.media_cors import MediaCorsMiddleware
from app.middleware.metrics import MetricsMiddleware, RequestMetrics
from app.middleware.request_context import RequestContextMiddleware
from app.middleware.security_headers import SecurityHeadersMiddleware
from app.middleware.unstorable_input import UnstorableInputMiddleware
from app.schemas.common import ErrorResponse

VERSION = "0.1.0"
# Served through signed links to players and WebGL: readable from any origin.
MEDIA_PATHS = (f"{API_V1_PREFIX}/storage/local/objects/", f"{API_V1_PREFIX}/media/")

OPENAPI_TAGS = [
    {"name": "auth", "description": "Sign-up, sign-in, sessions, verification, password reset."},
    {"name": "users", "description": "Your own account."},
    {"name": "companies", "description": "Companies, members, invitations and audit log."},
    {
        "name": "storage",
        "description": "Files: streamed or direct uploads in parts, quota, download links.",
    },
    {
        "name": "videos",
        "description": "Videos: processing into an H.264/AAC ladder, HLS and stills, with "
        "progress per rendition.",
    },
    {
        "name": "projects",
        "description": "Projects: how a company organises its AR contents; restricted "
        "projects and who may see them; templates of project defaults.",
    },
    {
        "name": "ar-contents",
        "description": "AR contents inside a project: marker, scene settings, public id, and "
        "the video schedule (which video plays over the marker, and when).",
    },
    {
        "name": "publishing",
        "description": "Publishing AR contents: the checks a publish passes, the immutable "
        "versions each publish freezes, how the draft differs from one, rolling back, "
        "unpublishing and archiving.",
    },
    {
        "name": "markers",
        "description": "Markers: the printed image, checked, scored for trackability (0-100 "
        "and stars, with hints and a heat-map), checked for duplicates and compiled into a "
        "MindAR target on the media queue.",
    },
    {
        "name": "orders",
        "description": "The catalogue of products on sale (plans, storage add-ons, content "
        "packs, print services) and a company's orders: placed idempotently, moved through "
        "the order states with a timeline, paid (YooKassa, bank transfer), fulfilled, "
        "refunded and invoiced. Amounts in kopecks, RUB.",
    },
    {
        "name": "notifications",
        "description": "Your inbox, preferences per type and channel, the delivery log, push "
        "devices, the one-click unsubscribe of emails, and the live WebSocket (`/ws`).",
    },
    {
        "name": "viewer",
        "description": "What AR viewer apps call: no sign-in, rate-limited per address.",
    },
    {
        "name": "storage-links",
        "description": "Signed links of the local storage provider (no sign-in: the "
        "signature is the authorisation).",
    },
    {
        "name": "media",
        "description": "HLS playlists and storyboard tracks for players, with every URI "
        "inside signed (no sign-in: the signature is the authorisation).",
    },
    {"name": "operations", "description": "Liveness, readiness and metrics."},
    {
        "name": "admin",
        "description": "Platform administration, for platform superusers only: a company's "
        "plan (recorded in that company's audit log), the catalogue of products, and the "
        "outbox's dead letters.",
    },
]

DESCRIPTION = """
ARVlite serves AR content: printed markers that play a video when an AR viewer looks at them.

Every error answers with the same envelope:
`{"error": {"code": "...", "message": "...", "details": ...}, "request_id": "..."}`.
Each error response below lists the codes it may carry; `code` is stable and
machine-readable, `message` is for people.
Lists answer `{"items": [...], "total": n, "limit": l, "offset": o}`.
Send `X-Request-ID` to correlate a call with the server's logs; it is echoed back.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.STORAGE_PROVIDER == "local":
        settings.local_storage_root.mkdir(parents=True, exist_ok=True)
    # Live sockets' hub hears the bus from the start, not from its first socket.
    hub_for(settings.REDIS_URL)
    # Full collections walk every live object: with thousands of open sockets, one pauses
    # the process for hundreds of milliseconds, delaying every socket's messages
    # (ARV/bench/live_sockets.py). What startup made is taken out of their sight, and the
    # young generations, where a request's and a broadcast's garbage dies, are collected
    # far less often than by default (700, 10, 10), so full collections are rare.
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.LOG_LEVEL)
    app = FastAPI(
        lifespan=lifespan,
        title=settings.APP_NAME,
        version=VERSION,
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        generate_unique_id_function=operation_id,
        # Replaced per route by `install_openapi`; here so FastAPI documents the envelope.
        responses={422: {"model": ErrorResponse, "description": "Invalid request."}},
    )
    app.state.settings = settings
    app.state.storage = build_storage(settings)
    # Units of work of their own (`SessionFactoryDep`; the manifest reads it directly).
    app.state.sessions = get_session_factory()
    app.state.metrics = RequestMetrics(CollectorRegistry())

    register_exception_handlers(app)
    app.include_router(ops.router)
    app.include_router(viewer_page.router)
    app.include_router(api_router)
    install_openapi(app)

    # Added innermost first: a request passes security headers, media CORS (signed media,
    # open to any origin), CORS, request context, metrics, gzip, the unstorable-text check,
    # then the router.
    app.add_middleware(UnstorableInputMiddleware)
    app.add_middleware(GZipMiddleware, minimum_size=settings.GZIP_MINIMUM_SIZE)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.CORS_ORIGINS,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        # ETag: a browser sending upload parts to local storage links names them by it.
        expose_headers=["X-Request-ID", "Retry-After", "ETag"],
    )
    app.add_middleware(MediaCorsMiddleware, paths=MEDIA_PATHS)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.ENV == "production")
    return app


app = create_app()
