"""One envelope for every error: `{"error": {"code", "message", "details"}, "request_id"}`."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.core.exceptions import (
    AppError,
    AuthenticationError,
    ConflictError,
    InternalServerError,
    MalformedRequestError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
    ValidationFailedError,
)
from app.core.logging import request_id_var
from app.schemas.common import ErrorBody, ErrorResponse

logger = logging.getLogger(__name__)

# Statuses the framework itself raises (an unknown route, a wrong method...), by the generic
# error that names them.
_HTTP_STATUS_ERRORS: dict[int, type[AppError]] = {
    error.status: error
    for error in (
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        RateLimitedError,
        ServiceUnavailableError,
    )
}


def error_response(
    error: type[AppError],
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    """The envelope for `error`'s code, with its status."""
    body = ErrorResponse(
        error=ErrorBody(code=error.code, message=message, details=jsonable_encoder(details)),
        request_id=request_id or request_id_var.get(),
    )
    return JSONResponse(body.model_dump(), status_code=error.status, headers=headers)


def internal_error_response(request_id: str) -> JSONResponse:
    return error_response(
        InternalServerError, InternalServerError.default_message, request_id=request_id
    )


async def _app_error(_: Request, exc: AppError) -> JSONResponse:
    return error_response(type(exc), exc.message, details=exc.details, headers=exc.headers)


def validation_error_response(problems: list[dict[str, Any]]) -> JSONResponse:
    """422 with one `{"loc", "message", "type"}` entry per problem (400 for broken JSON)."""
    if any(problem["type"] == "json_invalid" for problem in problems):
        return error_response(
            MalformedRequestError, "The request body is not valid JSON.", details=problems
        )
    return error_response(ValidationFailedError, "The request is not valid.", details=problems)


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    return validation_error_response(
        [
            {"loc": list(err["loc"]), "message": err["msg"], "type": err["type"]}
            for err in exc.errors()
        ]
    )


async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    fallback = InternalServerError if exc.status_code >= 500 else AppError
    error = _HTTP_STATUS_ERRORS.get(exc.status_code, fallback)
    message = exc.detail if isinstance(exc.detail, str) else error.status.phrase
    return error_response(error, message, headers=dict(exc.headers or {}))


async def _client_disconnect(_: Request, exc: ClientDisconnect) -> JSONResponse:
    # The client left mid-upload; nobody reads this answer, and it is not a server fault.
    logger.info("client disconnected before the request body ended")
    return error_response(AppError, "The request body ended early.")


def register_exception_handlers(app: FastAPI) -> None:
    app.exception_handler(ClientDisconnect)(_client_disconnect)
    app.exception_handler(AppError)(_app_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(StarletteHTTPException)(_http_error)
