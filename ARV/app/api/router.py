"""All versioned routers, mounted under /api/v1 by `create_app`."""

from fastapi import APIRouter

from app.api.routes import auth, companies, oauth, users

API_V1_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_V1_PREFIX)
api_router.include_router(auth.router)
api_router.include_router(oauth.router)
api_router.include_router(users.router)
api_router.include_router(companies.router)
