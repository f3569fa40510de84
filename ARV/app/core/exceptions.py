"""Domain errors. Services raise these; one handler renders them as the error envelope.

Each error carries an `ErrorCode` that fixes its HTTP status, so a code means the same
thing on every route. Domains subclass the generic errors (`VideoNotReady(ConflictError)`).
"""

from enum import StrEnum
from http import HTTPStatus
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    MALFORMED_REQUEST = "malformed_request"
    VALIDATION_ERROR = "validation_error"
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    LINK_INVALID = "link_invalid"
    LINK_EXPIRED = "link_expired"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    VIDEO_BUSY = "video_busy"
    LENGTH_REQUIRED = "length_required"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    QUOTA_EXCEEDED = "quota_exceeded"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"

    @property
    def status(self) -> HTTPStatus:
        return _STATUS[self]


_STATUS: dict[ErrorCode, HTTPStatus] = {
    ErrorCode.BAD_REQUEST: HTTPStatus.BAD_REQUEST,
    ErrorCode.MALFORMED_REQUEST: HTTPStatus.BAD_REQUEST,
    ErrorCode.VALIDATION_ERROR: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    ErrorCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    # A signed link (storage, media playlists) that authorises nothing: ask for a new one.
    ErrorCode.LINK_INVALID: HTTPStatus.FORBIDDEN,
    ErrorCode.LINK_EXPIRED: HTTPStatus.FORBIDDEN,
    ErrorCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    ErrorCode.METHOD_NOT_ALLOWED: HTTPStatus.METHOD_NOT_ALLOWED,
    ErrorCode.CONFLICT: HTTPStatus.CONFLICT,
    # A job is already queued or running for the video: wait for it, or cancel it.
    ErrorCode.VIDEO_BUSY: HTTPStatus.CONFLICT,
    ErrorCode.LENGTH_REQUIRED: HTTPStatus.LENGTH_REQUIRED,
    ErrorCode.PAYLOAD_TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.RANGE_NOT_SATISFIABLE: HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
    # A plan limit: the request is fine, the company's plan does not allow more of it.
    ErrorCode.QUOTA_EXCEEDED: HTTPStatus.PAYMENT_REQUIRED,
    ErrorCode.RATE_LIMITED: HTTPStatus.TOO_MANY_REQUESTS,
    ErrorCode.INTERNAL_ERROR: HTTPStatus.INTERNAL_SERVER_ERROR,
    ErrorCode.SERVICE_UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
}


class AppError(Exception):
    code: ClassVar[ErrorCode] = ErrorCode.BAD_REQUEST
    default_message: ClassVar[str] = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class NotFoundError(AppError):
    code = ErrorCode.NOT_FOUND
    default_message = "Not found."

    @classmethod
    def for_entity(cls, entity: str, entity_id: object) -> "NotFoundError":
        return cls(f"{entity} not found.", details={"entity": entity, "id": str(entity_id)})


class ConflictError(AppError):
    code = ErrorCode.CONFLICT
    default_message = "The request conflicts with the current state."


class PermissionDeniedError(AppError):
    code = ErrorCode.PERMISSION_DENIED
    default_message = "You are not allowed to do this."


class LinkInvalidError(AppError):
    code = ErrorCode.LINK_INVALID
    default_message = "The link's signature is missing or does not match; ask for a new link."


class LinkExpiredError(LinkInvalidError):
    code = ErrorCode.LINK_EXPIRED
    default_message = "This link has expired; ask for a new one."


class RangeNotSatisfiableError(AppError):
    code = ErrorCode.RANGE_NOT_SATISFIABLE
    default_message = "The requested byte range lies outside the object."

    def __init__(self, size: int) -> None:
        super().__init__(
            f"The object holds {size} bytes; ask for a range that starts inside it.",
            details={"size": size},
            headers={"Content-Range": f"bytes */{size}"},
        )


class AuthenticationError(AppError):
    code = ErrorCode.UNAUTHENTICATED
    default_message = "Authentication required."

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        super().__init__(message, details=details, headers={"WWW-Authenticate": "Bearer"})


class ValidationFailedError(AppError):
    """Input that is well-formed but breaks a business rule the schema cannot express."""

    code = ErrorCode.VALIDATION_ERROR
    default_message = "The request is not valid."


class PayloadTooLargeError(AppError):
    code = ErrorCode.PAYLOAD_TOO_LARGE
    default_message = "The request body is too large."


class LengthRequiredError(AppError):
    code = ErrorCode.LENGTH_REQUIRED
    default_message = "Send the body's size in Content-Length."


class UnsupportedMediaTypeError(AppError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    default_message = "This kind of file is not accepted."


class QuotaExceededError(AppError):
    code = ErrorCode.QUOTA_EXCEEDED
    default_message = "The company's plan limit is reached."


class RateLimitedError(AppError):
    code = ErrorCode.RATE_LIMITED
    default_message = "Too many requests; try again later."

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        retry_after = max(1, retry_after_seconds)
        super().__init__(
            message,
            details={"retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailableError(AppError):
    code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "A dependency is unavailable; try again shortly."
