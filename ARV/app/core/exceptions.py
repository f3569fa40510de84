"""Domain errors. Services raise these; one handler renders them as the error envelope.

Every error class declares a stable, machine-readable `code` and inherits its HTTP
`status` from the generic class it extends (`VideoBusyError(ConflictError)` is a 409).
The generic classes carry the generic codes (`not_found`, `conflict`...); a business
refusal gets its own subclass and code. Each class's docstring is its meaning in the
catalogue, `ARV/docs/errors.md`, which a test keeps equal to the classes defined here.
Every error class lives in this module, so the catalogue in code is this one file.
"""

from http import HTTPStatus
from typing import Any, ClassVar


class AppError(Exception):
    """The request cannot be processed (a client that left before its body ended, an
    HTTP-level refusal without a more precise code)."""

    status: ClassVar[HTTPStatus] = HTTPStatus.BAD_REQUEST
    code: ClassVar[str] = "bad_request"
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

    @classmethod
    def meaning(cls) -> str:
        """The class's own docstring on one line: the code's meaning in the catalogue."""
        return " ".join((cls.__doc__ or "").split())


def catalogue() -> list[type[AppError]]:
    """Every error class that declares a code, by status, then code."""
    declaring: list[type[AppError]] = []
    pending: list[type[AppError]] = [AppError]
    while pending:
        error = pending.pop()
        pending += error.__subclasses__()
        if "code" in vars(error):
            declaring.append(error)
    return sorted(declaring, key=lambda error: (error.status, error.code))


# -- generic errors: one per HTTP status ----------------------------------------------------


class MalformedRequestError(AppError):
    """The body is not valid JSON, or a `Range` header is not a bytes range."""

    code = "malformed_request"
    default_message = "The request is malformed."


class AuthenticationError(AppError):
    """No access token, or one that is invalid or expired, or whose session has ended."""

    status = HTTPStatus.UNAUTHORIZED
    code = "unauthenticated"
    default_message = "Authentication required."

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        super().__init__(message, details=details, headers={"WWW-Authenticate": "Bearer"})


class QuotaExceededError(AppError):
    """The upload would take the company past its plan's storage quota (`details` has the
    bytes needed and free). Plan limits of other kinds have codes of their own."""

    status = HTTPStatus.PAYMENT_REQUIRED
    code = "quota_exceeded"
    default_message = "The company's plan limit is reached."


class PermissionDeniedError(AppError):
    """Your role lacks the permission (`details.required`, `details.role`), an admin acting
    on an owner, or a platform-admin route used by someone who is not a superuser."""

    status = HTTPStatus.FORBIDDEN
    code = "permission_denied"
    default_message = "You are not allowed to do this."


class LinkInvalidError(AppError):
    """A storage or media link without a signature, with a malformed one, or altered
    after signing."""

    status = HTTPStatus.FORBIDDEN
    code = "link_invalid"
    default_message = "The link's signature is missing or does not match; ask for a new link."


class LinkExpiredError(LinkInvalidError):
    """A genuine storage or media link used after its expiry: ask for a new one."""

    code = "link_expired"
    default_message = "This link has expired; ask for a new one."


class NotFoundError(AppError):
    """No such route or object, or one in a company you are not a member of
    (`details.entity`, `details.id`)."""

    status = HTTPStatus.NOT_FOUND
    code = "not_found"
    default_message = "Not found."

    @classmethod
    def for_entity(cls, entity: str, entity_id: object) -> "NotFoundError":
        return cls(f"{entity} not found.", details={"entity": entity, "id": str(entity_id)})


class MethodNotAllowedError(AppError):
    """A known path with a method it does not answer."""

    status = HTTPStatus.METHOD_NOT_ALLOWED
    code = "method_not_allowed"
    default_message = "Method not allowed."


class ConflictError(AppError):
    """The request conflicts with the current state, in a way no more precise code names."""

    status = HTTPStatus.CONFLICT
    code = "conflict"
    default_message = "The request conflicts with the current state."


class LengthRequiredError(AppError):
    """An upload through the API without `Content-Length`."""

    status = HTTPStatus.LENGTH_REQUIRED
    code = "length_required"
    default_message = "Send the body's size in Content-Length."


class PayloadTooLargeError(AppError):
    """A body larger than the route or the upload link accepts (`UPLOAD_MAX_BYTES`, or a
    part's maximum)."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaTypeError(AppError):
    """Uploaded bytes that are not an accepted image or video (`details.accepted`)."""

    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_media_type"
    default_message = "This kind of file is not accepted."


class RangeNotSatisfiableError(AppError):
    """A `Range` that starts past the end of the object (`details.size`, and
    `Content-Range: bytes */size`)."""

    status = HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE
    code = "range_not_satisfiable"
    default_message = "The requested byte range lies outside the object."

    def __init__(self, size: int) -> None:
        super().__init__(
            f"The object holds {size} bytes; ask for a range that starts inside it.",
            details={"size": size},
            headers={"Content-Range": f"bytes */{size}"},
        )


class ValidationFailedError(AppError):
    """The request does not match the schema (`details` lists each problem as `loc`,
    `message`, `type`), or holds text the database cannot store (`unstorable_text`)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "validation_error"
    default_message = "The request is not valid."


class RateLimitedError(AppError):
    """Too many requests from this address; see `Retry-After` and
    `details.retry_after_seconds`."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "rate_limited"
    default_message = "Too many requests; try again later."

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        retry_after = max(1, retry_after_seconds)
        super().__init__(
            message,
            details={"retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class InternalServerError(AppError):
    """An unexpected failure; quote the `request_id` when reporting it."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR
    code = "internal_error"
    default_message = "Internal server error. Quote the request id when reporting it."


class ServiceUnavailableError(AppError):
    """A dependency is unavailable: `/ready` failing, or Redis down for rate limiting."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "service_unavailable"
    default_message = "A dependency is unavailable; try again shortly."


# -- accounts and sign-in -------------------------------------------------------------------


class InvalidCredentialsError(AuthenticationError):
    """Sign-in with an unknown email address or a wrong password."""

    code = "invalid_credentials"
    default_message = "Wrong email or password."


class AccountDisabledError(AuthenticationError):
    """Sign-in (with a password or Yandex) to an account that is disabled."""

    code = "account_disabled"
    default_message = "This account is disabled."


class RefreshTokenInvalidError(AuthenticationError):
    """A refresh token that is missing, unknown, expired or already used; a reused one
    also ends its session. Sign in again."""

    code = "refresh_token_invalid"
    default_message = "The refresh token is invalid; sign in again."


class CurrentPasswordIncorrectError(AuthenticationError):
    """Changing the password with a wrong current password."""

    code = "current_password_incorrect"
    default_message = "The current password is wrong."


class PasswordRejectedError(ValidationFailedError):
    """A new password that is too short, too long or too easy to guess (`details` names
    the field)."""

    code = "password_rejected"
    default_message = "Choose another password."


class TokenInvalidError(ValidationFailedError):
    """An email verification, password-reset or unsubscribe token that is invalid, expired
    or used."""

    code = "token_invalid"
    default_message = "This link is invalid, expired or already used."


class SignInLockedError(RateLimitedError):
    """Too many failed sign-ins for this account; see `Retry-After`."""

    code = "sign_in_locked"


class EmailTakenError(ConflictError):
    """Signing up (with Yandex) with an email address that already has an account: sign
    in with its password instead."""

    code = "email_taken"
    default_message = "A user with this email already exists."


class AccountUnverifiedError(ConflictError):
    """Signing in with Yandex to a local account whose email address is not verified yet:
    verify it first."""

    code = "account_unverified"
    default_message = "An account with this email exists but its email is not verified."


class OAuthCancelledError(AppError):
    """Sign-in with Yandex was cancelled by the user at Yandex."""

    code = "oauth_cancelled"
    default_message = "Sign-in with Yandex was cancelled."


class OAuthStateError(AppError):
    """A Yandex callback with a missing, unknown, used, expired or foreign sign-in state:
    start again."""

    code = "oauth_state_invalid"
    default_message = "The sign-in link is invalid or expired; start again."


class YandexRejectedError(AuthenticationError):
    """Yandex refused the sign-in, or shared no usable email address."""

    code = "yandex_rejected"
    default_message = "Yandex did not accept this sign-in; start again."


class ConcurrentSignInError(ConflictError):
    """The same Yandex account was signed in from elsewhere at the same moment."""

    code = "concurrent_sign_in"
    default_message = "This Yandex account was just signed in from elsewhere; start again."


class YandexNotConfiguredError(ServiceUnavailableError):
    """Sign-in with Yandex is not configured on this server."""

    code = "yandex_not_configured"
    default_message = "Yandex sign-in is not configured on this server."


class YandexUnavailableError(ServiceUnavailableError):
    """Yandex did not answer, or answered something unreadable."""

    code = "yandex_unavailable"
    default_message = "Yandex did not answer; try again."


# -- companies, members, invitations, plans -------------------------------------------------


class LastOwnerError(ConflictError):
    """The last owner demoting themselves, leaving or being removed: appoint another
    owner first."""

    code = "last_owner"
    default_message = "A company must keep at least one owner; appoint another first."


class SelfRemovalError(ConflictError):
    """Removing yourself as a member: use leave instead."""

    code = "self_removal"
    default_message = "Use leave to remove yourself from a company."


class AlreadyMemberError(ConflictError):
    """Inviting someone who is already a member."""

    code = "already_member"
    default_message = "This person is already a member."


class InvitationExistsError(ConflictError):
    """Inviting an address that already has an open invitation: resend it instead."""

    code = "invitation_exists"
    default_message = "This address already has an open invitation; resend it instead."


class InvitationClosedError(ConflictError):
    """Revoking or resending an invitation that was already accepted or revoked."""

    code = "invitation_closed"
    default_message = "This invitation was already accepted or revoked."


class InvitationInvalidError(ValidationFailedError):
    """Accepting an invitation token that is invalid, expired, used, for another email
    address or for a deleted company."""

    code = "invitation_invalid"
    default_message = (
        "This invitation is invalid, expired, already used, or for another email address."
    )


class EmailNotVerifiedError(PermissionDeniedError):
    """Inviting members before confirming your own email address."""

    code = "email_not_verified"
    default_message = "Confirm your email address before inviting members."


class MemberLimitError(QuotaExceededError):
    """The plan's member limit is reached, open invitations included (`details.limit`,
    `details.used`)."""

    code = "member_limit_reached"


class ARContentLimitError(QuotaExceededError):
    """The plan's AR content limit is reached (`details.limit`, `details.used`)."""

    code = "ar_content_limit_reached"


class FeatureNotInPlanError(QuotaExceededError):
    """The company's plan does not include this feature (`details.feature`,
    `details.plan`), for example analytics."""

    code = "feature_not_in_plan"


class UnknownPlanError(ValidationFailedError):
    """A plan that does not exist (`details.plans` lists those that do)."""

    code = "unknown_plan"


class OutboxMessageNotDeadError(ConflictError):
    """Retrying an outbox message that is not dead-lettered (`details.status`)."""

    code = "outbox_message_not_dead"
    default_message = "Only a dead message can be retried; this one is not."


# -- storage --------------------------------------------------------------------------------


class FileTooLargeError(PayloadTooLargeError):
    """A file larger than the plan allows per file (`details.limit_bytes`,
    `details.size_bytes`)."""

    code = "file_too_large"


class ContentLengthMismatchError(ValidationFailedError):
    """An upload through the API whose body is longer or shorter than its
    `Content-Length`; nothing is stored."""

    code = "content_length_mismatch"


class ContentTypeMismatchError(PermissionDeniedError):
    """A body sent to an upload link with another `Content-Type` than it was signed for."""

    code = "content_type_mismatch"


class FileInUseError(ConflictError):
    """Deleting a file that something still uses (`details` names the users): delete
    them first."""

    code = "file_in_use"
    default_message = "This file is still in use."


class UploadIncompleteError(ConflictError):
    """Using a file (reading it, making a video of it) that is still uploading: complete
    the upload first."""

    code = "upload_incomplete"
    default_message = "This file is still uploading."


class UploadCompleteError(ConflictError):
    """Acting on a direct upload that is already complete."""

    code = "upload_already_complete"
    default_message = "This upload is already complete."


class UploadPartsMissingError(ConflictError):
    """Completing a direct upload before every part arrived (`details.missing_parts`)."""

    code = "upload_parts_missing"


class UploadLostError(ConflictError):
    """Storage no longer holds the direct upload (expired or aborted); its reserved space
    is freed. Start a new upload."""

    code = "upload_lost"


class NotMultipartError(ConflictError):
    """A direct-upload action on a file that was uploaded through the API."""

    code = "not_multipart"
    default_message = "This file was uploaded through the API, not in parts."


class PartNumberInvalidError(ValidationFailedError):
    """Part numbers outside the upload's parts (`details.invalid_parts`)."""

    code = "part_number_invalid"


class UploadPartsInvalidError(ValidationFailedError):
    """Parts that cannot be joined (wrong ETags, or a part but the last shorter than
    `part_size_bytes`)."""

    code = "upload_parts_invalid"


class UploadSizeMismatchError(ValidationFailedError):
    """The joined parts differ in size from the size the upload declared; the upload is
    discarded."""

    code = "upload_size_mismatch"


# -- videos ---------------------------------------------------------------------------------


class NotAVideoError(UnsupportedMediaTypeError):
    """Making a video from a file that is not a video."""

    code = "not_a_video"


class VideoBusyError(ConflictError):
    """A job (processing, re-encoding, poster) is already queued or running for the video
    (`details.job_id`): wait for it, or cancel it."""

    code = "video_busy"
    default_message = "This video is already being processed; cancel that first or wait for it."


class VideoNotReadyError(ConflictError):
    """The video has not been probed yet: wait until it is playable."""

    code = "video_not_ready"
    default_message = "The video is not ready yet."


class NothingToCancelError(ConflictError):
    """Cancelling when no job is queued or running for the video."""

    code = "nothing_to_cancel"
    default_message = "Nothing is being processed for this video."


class UnknownRenditionError(ValidationFailedError):
    """A rendition the video does not have (`details.rendition`)."""

    code = "unknown_rendition"


class PosterTimeError(ValidationFailedError):
    """A poster time at or after the end of the video (`details.duration_seconds`)."""

    code = "poster_time_out_of_range"


class StatsRangeError(ValidationFailedError):
    """A statistics range that ends before it starts or spans too many days."""

    code = "stats_range_invalid"


# -- AR contents and schedules --------------------------------------------------------------


class ScheduleOverlapError(ConflictError):
    """A window that overlaps another at the same priority (`details.conflicts`)."""

    code = "schedule_overlap"


class ScheduleFullError(ConflictError):
    """The AR content's schedule holds its maximum of videos (`details.limit`)."""

    code = "schedule_full"


class ScheduleWindowError(ValidationFailedError):
    """A window that ends before it starts, or a wall-clock time its zone skips."""

    code = "schedule_window_invalid"


# -- projects -------------------------------------------------------------------------------


class ProjectArchivedError(ConflictError):
    """Changing an archived project or anything in it: unarchive it first
    (`details.project_id`)."""

    code = "project_archived"
    default_message = "This project is archived and read-only; unarchive it first."


class ProjectHasPublishedContentError(ConflictError):
    """Deleting a project whose contents are still published: unpublish them first
    (`details.contents`)."""

    code = "project_has_published_content"


class TemplateNameTakenError(ConflictError):
    """The company already has a project template of that name."""

    code = "template_name_taken"


class NotAMemberError(ValidationFailedError):
    """Granting project access to a user who is not a member of the company."""

    code = "not_a_member"


class ContentArchivedError(ConflictError):
    """Changing an archived AR content: unarchive it first (`details.content_id`)."""

    code = "content_archived"
    default_message = "This AR content is archived and read-only; unarchive it first."


# -- publishing -----------------------------------------------------------------------------


class PublishRefusedError(ConflictError):
    """Publishing (or rolling back to) a version whose conditions are not all met:
    `details.unmet` lists every unmet condition at once, each with a stable `code`
    (`marker_missing`, `marker_not_ready`, `score_below_threshold`, `target_not_compiled`,
    `duplicate_marker`, `default_video_missing`, `default_video_not_playable`,
    `video_deleted`) and a `message`."""

    code = "publish_refused"
    default_message = "This AR content cannot be published yet."


class ContentTransitionError(ConflictError):
    """A publishing step the AR content's status does not allow, such as unpublishing a
    draft or archiving a published content (`details.status`, `details.action`,
    `details.allowed_from`)."""

    code = "content_invalid_transition"


class VideoInUseError(ConflictError):
    """Deleting a video that a published version of an AR content plays: unpublish the
    content or publish it without the video first (`details.contents`; contents in
    projects you cannot see are only counted, in `details.hidden_contents`)."""

    code = "video_in_use"


# -- markers --------------------------------------------------------------------------------


class NotAnImageError(UnsupportedMediaTypeError):
    """Making a marker from a file that is not a JPEG, PNG or WebP image."""

    code = "not_an_image"


class MarkerWidthRequiredError(ValidationFailedError):
    """A marker without its printed width, in a project with no default width."""

    code = "marker_width_required"
    default_message = (
        "Give the marker's printed width in millimetres (width_mm): native trackers need it."
    )


class MarkerNotRetryableError(ConflictError):
    """Retrying a marker that did not fail (`details.status`): a rejected image must be
    fixed and uploaded again."""

    code = "marker_not_retryable"


class ContentPublishedError(ConflictError):
    """Deleting a published AR content: unpublish it first (`details.content_id`)."""

    code = "content_published"
    default_message = "This AR content is published; unpublish it before deleting it."


class ProductCodeTakenError(ConflictError):
    """Another product of the catalogue has that code."""

    code = "product_code_taken"


class ProductInvalidError(ValidationFailedError):
    """A product whose fields do not fit its kind (a plan without its plan or period, an
    add-on without its quantity...); `details.field` names the field."""

    code = "product_invalid"


class CurrencyNotSupportedError(ValidationFailedError):
    """A price in a currency other than RUB."""

    code = "currency_not_supported"


class ProductUnavailableError(ValidationFailedError):
    """An order names a product that does not exist or is no longer on sale
    (`details.product_id`)."""

    code = "product_unavailable"


class OrderInvalidError(ValidationFailedError):
    """An order that cannot be placed as asked: two plans, a plan ordered more than once, the
    same product on two lines, products priced with VAT beside products priced without it
    (`details.reason` says which)."""

    code = "order_invalid"


class IdempotencyKeyReusedError(ValidationFailedError):
    """An Idempotency-Key already used for a request with another body."""

    code = "idempotency_key_reused"


class OrderInvalidTransitionError(ConflictError):
    """The order cannot go from its state to the one asked (`details.from`, `details.to`)."""

    code = "order_invalid_transition"


class PaymentProviderError(ServiceUnavailableError):
    """The payment provider could not be reached or refused the request; nothing was
    charged, and trying again is safe."""

    code = "payment_provider_unavailable"


class PaymentsNotConfiguredError(ConflictError):
    """This installation takes no payments through that provider (not configured)."""

    code = "payments_not_configured"


class WebhookSourceRefusedError(AppError):
    """A payment notification from an address outside the provider's networks."""

    status = HTTPStatus.FORBIDDEN
    code = "webhook_source_refused"
    default_message = "Notifications are accepted only from the provider's networks."


class InvoiceNotReadyError(ConflictError):
    """The invoice's PDF is still being made, or making it failed (`details.status`,
    `details.reason`)."""

    code = "invoice_not_ready"
    default_message = "The invoice's PDF is not ready."


class RefundInvalidError(ValidationFailedError):
    """A refund that cannot be made as asked: more than was paid and not yet refunded, or
    nothing (`details` says which)."""

    code = "refund_invalid"


class PaymentAmountMismatchError(ValidationFailedError):
    """A bank transfer recorded for another amount than the order's total
    (`details.expected_kopecks`)."""

    code = "payment_amount_mismatch"


class InvoiceNotFailedError(ConflictError):
    """Only an invoice whose PDF failed is made again (`details.status`)."""

    code = "invoice_not_failed"
    default_message = "This invoice's PDF did not fail; there is nothing to retry."


class PreferenceLockedError(ConflictError):
    """A notification preference that cannot be changed: a security or account message, or
    a channel the type is not sent on (`details.type`, `details.channel`)."""

    code = "preference_locked"
    default_message = "This notification cannot be turned off on that channel."


class PushDeviceLimitError(ConflictError):
    """A user registering more push devices than PUSH_MAX_DEVICES_PER_USER
    (`details.limit`)."""

    code = "push_device_limit"


class PushEndpointRefusedError(ValidationFailedError):
    """A Web Push subscription naming a push service not in WEBPUSH_ENDPOINT_HOSTS, or not
    over HTTPS (`details.host`)."""

    code = "push_endpoint_refused"
    default_message = "This push service is not accepted."


class NotificationTypeUnknownError(ValidationFailedError):
    """A preference for a notification type that does not exist (`details.type`)."""

    code = "notification_type_unknown"
