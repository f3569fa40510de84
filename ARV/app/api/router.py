"""All versioned routers, mounted under /api/v1 by `create_app`."""

from fastapi import APIRouter

from app.api.routes import (
    admin,
    admin_billing,
    ar_contents,
    auth,
    catalogue,
    companies,
    content_stats,
    live,
    markers,
    media,
    notifications,
    oauth,
    orders,
    payments,
    projects,
    publishing,
    storage,
    storage_links,
    users,
    videos,
    viewer,
    viewer_bundle,
    viewer_codes,
    viewer_events,
)

API_V1_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_V1_PREFIX)
# Routes match in this order, one by one: the public hot path (what phones scanning prints
# and their players call) comes first.
api_router.include_router(viewer.router)
api_router.include_router(viewer_bundle.router)
api_router.include_router(viewer_codes.router)
api_router.include_router(viewer_events.router)
api_router.include_router(storage_links.router)
api_router.include_router(media.router)
api_router.include_router(auth.router)
api_router.include_router(oauth.router)
api_router.include_router(users.router)
api_router.include_router(notifications.router)
api_router.include_router(live.router)
api_router.include_router(companies.router)
api_router.include_router(storage.router)
api_router.include_router(videos.router)
api_router.include_router(projects.router)
api_router.include_router(ar_contents.router)
api_router.include_router(content_stats.router)
api_router.include_router(publishing.router)
api_router.include_router(markers.router)
api_router.include_router(catalogue.router)
api_router.include_router(orders.router)
api_router.include_router(payments.router)
api_router.include_router(admin.router)
api_router.include_router(admin_billing.router)
