"""Sign-up, sign-in, token refresh, sessions, email verification and password reset."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, Form, Header, Path, Response, status

from app.api.deps import AuthServiceDep, CurrentPrincipal, CurrentUser, SettingsDep
from app.api.openapi import raises
from app.api.rate_limits import limit_per_ip
from app.core.config import Settings
from app.core.exceptions import (
    AccountDisabledError,
    InvalidCredentialsError,
    NotFoundError,
    PasswordRejectedError,
    RefreshTokenInvalidError,
    ServiceUnavailableError,
    SignInLockedError,
    TokenInvalidError,
)
from app.models.user import Language
from app.schemas.auth import (
    AcceptedResponse,
    LoginRequest,
    PasswordLoginForm,
    PasswordReset,
    PasswordResetRequest,
    RefreshRequest,
    SessionResponse,
    TokenPair,
    TokenRequest,
)
from app.schemas.user import RegisterRequest, UserResponse
from app.services.auth_service import IssuedTokens
from app.utils.languages import preferred_language

router = APIRouter(prefix="/auth", tags=["auth"])

REFRESH_COOKIE = "arv_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"
RefreshCookie = Annotated[
    str | None,
    Cookie(
        alias=REFRESH_COOKIE,
        max_length=200,
        description="The refresh token, in cookie mode; used when the body has none.",
    ),
]
SessionId = Annotated[uuid.UUID, Path(description="The session's id.")]
SIGN_IN_ERRORS = (
    InvalidCredentialsError,
    AccountDisabledError,
    SignInLockedError,
    ServiceUnavailableError,
)


def token_response(tokens: IssuedTokens, settings: Settings, response: Response) -> TokenPair:
    """The token pair; in cookie mode the refresh token travels only in the HttpOnly cookie,
    where page scripts cannot read it."""
    response.headers["Cache-Control"] = "no-store"
    if settings.REFRESH_COOKIE_ENABLED:
        response.set_cookie(
            REFRESH_COOKIE,
            tokens.refresh_token,
            expires=tokens.refresh_expires_at,
            path=REFRESH_COOKIE_PATH,
            httponly=True,
            secure=settings.COOKIE_SECURE,
            samesite="strict",
        )
    return TokenPair(
        access_token=tokens.access_token,
        expires_in=settings.ACCESS_TOKEN_TTL_SECONDS,
        refresh_token=None if settings.REFRESH_COOKIE_ENABLED else tokens.refresh_token,
        refresh_expires_at=tokens.refresh_expires_at,
        session_id=tokens.session_id,
    )


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Create an account",
    description="Always answers 202, whether or not the address already has an account "
    "(its owner gets an email instead), so sign-up cannot be used to probe addresses. "
    "A verification email follows; sign-in works before verification.",
    dependencies=[Depends(limit_per_ip("register"))],
)
@raises(PasswordRejectedError)
def register(
    body: RegisterRequest,
    auth: AuthServiceDep,
    accept_language: Annotated[
        str | None,
        Header(
            max_length=1000,
            description="Picks the language of the account's emails (en or ru; else en). "
            "Change it later with PATCH /users/me.",
        ),
    ] = None,
) -> AcceptedResponse:
    language = preferred_language(accept_language, set(Language), Language.EN)
    auth.register(body.email, body.password, body.full_name, Language(language))
    return AcceptedResponse(detail="Check your inbox to confirm your email address.")


@router.post(
    "/login",
    summary="Sign in with email and password",
    dependencies=[Depends(limit_per_ip("login"))],
)
@raises(*SIGN_IN_ERRORS)
def login(
    body: LoginRequest, auth: AuthServiceDep, settings: SettingsDep, response: Response
) -> TokenPair:
    """Answers an access token and a refresh token (in the body, or in an HttpOnly cookie when
    cookie mode is on). Repeated failures for one account lock it for a while
    (`sign_in_locked`)."""
    return token_response(auth.login(body.email, body.password), settings, response)


@router.post(
    "/login/form",
    summary="Sign in with the OAuth2 password form (used by the docs' Authorize button)",
    dependencies=[Depends(limit_per_ip("login"))],
)
@raises(*SIGN_IN_ERRORS)
def login_form(
    form: Annotated[PasswordLoginForm, Form()],
    auth: AuthServiceDep,
    settings: SettingsDep,
    response: Response,
) -> TokenPair:
    """The same sign-in as `POST /auth/login`, from an OAuth2 password form (`username` is the
    email address)."""
    return token_response(auth.login(form.username, form.password), settings, response)


@router.post(
    "/refresh",
    summary="Trade a refresh token for a new pair (the old one stops working)",
    description="Refresh tokens rotate on every use. Presenting a rotated token again "
    "(after a short grace period for parallel tabs) revokes the whole session.",
    dependencies=[Depends(limit_per_ip("refresh"))],
)
@raises(RefreshTokenInvalidError)
def refresh(
    auth: AuthServiceDep,
    settings: SettingsDep,
    response: Response,
    body: RefreshRequest | None = None,
    cookie_token: RefreshCookie = None,
) -> TokenPair:
    token = (body and body.refresh_token) or cookie_token
    if not token:
        raise RefreshTokenInvalidError("Send the refresh token in the body or the cookie.")
    return token_response(auth.refresh(token), settings, response)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this session")
def logout(
    auth: AuthServiceDep,
    settings: SettingsDep,
    response: Response,
    body: RefreshRequest | None = None,
    cookie_token: RefreshCookie = None,
) -> None:
    """Revokes the session the refresh token (body or cookie) belongs to and clears the cookie.
    Answers 204 even without a token."""
    token = (body and body.refresh_token) or cookie_token
    if token:
        auth.logout(token)
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        secure=settings.COOKIE_SECURE,
        samesite="strict",
    )


@router.get("/sessions", summary="Signed-in devices")
def list_sessions(principal: CurrentPrincipal, auth: AuthServiceDep) -> list[SessionResponse]:
    """Your live sessions, most recently used first; `current` marks the one making this call."""
    return [
        SessionResponse.model_validate(session).model_copy(
            update={"current": session.id == principal.session_id}
        )
        for session in auth.list_sessions(principal.user)
    ]


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out one device",
)
@raises(NotFoundError)
def revoke_session(session_id: SessionId, user: CurrentUser, auth: AuthServiceDep) -> None:
    """Ends one of your sessions, the current one included; its tokens stop working at once."""
    auth.revoke_session(user, session_id)


@router.delete(
    "/sessions",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out every other device",
)
def revoke_other_sessions(principal: CurrentPrincipal, auth: AuthServiceDep) -> None:
    """Ends every session of yours except the one making this call."""
    auth.revoke_other_sessions(principal.user, keep=principal.session_id, reason="revoked_by_user")


@router.post("/verify-email", summary="Confirm the email address with the emailed token")
@raises(TokenInvalidError)
def verify_email(body: TokenRequest, auth: AuthServiceDep) -> UserResponse:
    """Marks the address confirmed. The token works once and expires."""
    return UserResponse.model_validate(auth.verify_email(body.token))


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send the verification email again",
)
def resend_verification(user: CurrentUser, auth: AuthServiceDep) -> AcceptedResponse:
    """Sends a fresh verification link if the address is not confirmed yet."""
    auth.resend_verification(user)
    return AcceptedResponse(detail="If the address is not confirmed yet, an email is on its way.")


@router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Email a password-reset link",
    description="Always answers 202, so it cannot be used to probe addresses.",
    dependencies=[Depends(limit_per_ip("password-reset"))],
)
def forgot_password(body: PasswordResetRequest, auth: AuthServiceDep) -> AcceptedResponse:
    auth.request_password_reset(body.email)
    return AcceptedResponse(detail="If the address has an account, a reset link is on its way.")


@router.post(
    "/password/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password with the emailed token (signs out every device)",
    dependencies=[Depends(limit_per_ip("password-reset"))],
)
@raises(TokenInvalidError, PasswordRejectedError)
def reset_password(body: PasswordReset, auth: AuthServiceDep) -> None:
    """Sets the new password and ends every session of the account. The token works once and
    expires."""
    auth.reset_password(body.token, body.new_password)
