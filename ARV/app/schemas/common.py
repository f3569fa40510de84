"""Schemas every domain shares: the error envelope, list pages, base request/response."""

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class RequestSchema(BaseModel):
    """Base for request bodies: unknown fields are refused, so a client cannot set
    `company_id`, a role or a status by adding a field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Passwords are taken exactly as typed: the request-wide whitespace stripping must not apply.
PasswordInput = Annotated[
    str, StringConstraints(strip_whitespace=False, min_length=1, max_length=200)
]


class ResponseSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. `not_found`.")
    message: str = Field(description="Human-readable explanation.")
    details: Any = Field(default=None, description="Structured context, e.g. invalid fields.")


class ErrorResponse(BaseModel):
    error: ErrorBody
    request_id: str | None = Field(description="Echo of the X-Request-ID header.")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Number of items matching the filters, across all pages.")
    limit: int
    offset: int


OpenApiResponses = dict[int | str, dict[str, Any]]


def error_responses(descriptions: dict[int, str]) -> OpenApiResponses:
    """OpenAPI entries documenting that these statuses answer with the error envelope."""
    return {
        status: {"model": ErrorResponse, "description": description}
        for status, description in descriptions.items()
    }
