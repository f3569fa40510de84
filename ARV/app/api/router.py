"""All versioned routers, mounted under /api/v1 by `create_app`."""

from fastapi import APIRouter

API_V1_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_V1_PREFIX)
