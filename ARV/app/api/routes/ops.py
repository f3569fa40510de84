"""Operations endpoints, outside /api/v1: liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.deps import ReadinessServiceDep
from app.api.openapi import raises
from app.core.exceptions import ServiceUnavailableError
from app.schemas.ops import HealthResponse, ReadinessResponse

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the process is up (checks no dependency)")
async def health(request: Request) -> HealthResponse:
    """Answers 200 while the process runs; a load balancer's liveness probe."""
    return HealthResponse(status="ok", version=request.app.version)


@router.get(
    "/ready",
    summary="Readiness: database, Redis (when configured) and storage answer",
)
@raises(ServiceUnavailableError)
def ready(readiness: ReadinessServiceDep) -> ReadinessResponse:
    """Answers 200 when every dependency answers, else 503 with each check's result in `details`."""
    checks = readiness.check()
    failing = sorted(name for name, status in checks.items() if not status.ok)
    if failing:
        raise ServiceUnavailableError(
            f"Not ready: {', '.join(failing)} failing.",
            details={name: status.model_dump() for name, status in checks.items()},
        )
    return ReadinessResponse(status="ready", checks=checks)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(request: Request) -> Response:
    """Request counts and latencies per route template, in Prometheus' text format."""
    payload = generate_latest(request.app.state.metrics.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
