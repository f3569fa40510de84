"""One envelope for every error: `{"error": {"code", "message", "details"}, "request_id"}`."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.core.exceptions import AppError, ErrorCode
from app.core.logging import request_id_var
from app.schemas.common import ErrorBody, ErrorResponse

logger = logging.getLogger(__name__)

_HTTP_STATUS_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}


def error_response(
    code: ErrorCode,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(code=code.value, message=message, details=jsonable_encoder(details)),
        request_id=request_id or request_id_var.get(),
    )
    return JSONResponse(body.model_dump(), status_code=code.status, headers=headers)


def internal_error_response(request_id: str) -> JSONResponse:
    return error_response(
        ErrorCode.INTERNAL_ERROR,
        "Internal server error. Quote the request id when reporting it.",
        request_id=request_id,
    )


async def _app_error(_: Request, exc: AppError) -> JSONResponse:
    return error_response(exc.code, exc.message, details=exc.details, headers=exc.headers)


def validation_error_response(problems: list[dict[str, Any]]) -> JSONResponse:
    """422 with one `{"loc", "message", "type"}` entry per problem (400 for broken JSON)."""
    if any(problem["type"] == "json_invalid" for problem in problems):
        return error_response(
            ErrorCode.MALFORMED_REQUEST, "The request body is not valid JSON.", details=problems
        )
    return error_response(ErrorCode.VALIDATION_ERROR, "The request is not valid.", details=problems)


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    return validation_error_response(
        [
            {"loc": list(err["loc"]), "message": err["msg"], "type": err["type"]}
            for err in exc.errors()
        ]
    )


async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    fallback = ErrorCode.INTERNAL_ERROR if exc.status_code >= 500 else ErrorCode.BAD_REQUEST
    code = _HTTP_STATUS_CODES.get(exc.status_code, fallback)
    message = exc.detail if isinstance(exc.detail, str) else code.status.phrase
    return error_response(code, message, headers=dict(exc.headers or {}))


async def _client_disconnect(_: Request, exc: ClientDisconnect) -> JSONResponse:
    # The client left mid-upload; nobody reads this answer, and it is not a server fault.
    logger.info("client disconnected before the request body ended")
    return error_response(ErrorCode.BAD_REQUEST, "The request body ended early.")


def register_exception_handlers(app: FastAPI) -> None:
    app.exception_handler(ClientDisconnect)(_client_disconnect)
    app.exception_handler(AppError)(_app_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(StarletteHTTPException)(_http_error)
