from pydantic import BaseModel, Field


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])
    version: str


class ComponentStatus(BaseModel):
    ok: bool
    latency_ms: float | None = None
    error: str | None = None


class ReadinessResponse(BaseModel):
    status: str = Field(examples=["ready"])
    checks: dict[str, ComponentStatus]
