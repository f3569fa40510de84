"""Sign-in with Yandex ID: the redirect to Yandex and the callback Yandex sends users back to."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Cookie, Depends, Query, Response, status
from fastapi.responses import RedirectResponse

from app.api.deps import AuthServiceDep, DbSession, SettingsDep
from app.api.openapi import raises
from app.api.rate_limits import limit_per_ip
from app.api.routes.auth import token_response
from app.core.config import Settings
from app.core.exceptions import (
    AccountDisabledError,
    AccountUnverifiedError,
    ConcurrentSignInError,
    EmailTakenError,
    OAuthCancelledError,
    OAuthStateError,
    YandexNotConfiguredError,
    YandexRejectedError,
    YandexUnavailableError,
)
from app.schemas.auth import TokenPair
from app.schemas.common import OpenApiResponses
from app.services.auth_service import IssuedTokens
from app.services.yandex_oauth_service import YandexOAuthService

router = APIRouter(prefix="/auth/yandex", tags=["auth"])

# Token-bearing answers must not be kept by browsers or proxies.
NO_STORE = {"Cache-Control": "no-store"}
STATE_COOKIE = "arv_oauth_state"
STATE_COOKIE_PATH = "/api/v1/auth/yandex"


def get_yandex_service(
    db: DbSession, settings: SettingsDep, auth: AuthServiceDep
) -> YandexOAuthService:
    return YandexOAuthService(db, settings, auth)


YandexServiceDep = Annotated[YandexOAuthService, Depends(get_yandex_service)]

CALLBACK_RESPONSES: OpenApiResponses = {
    status.HTTP_302_FOUND: {"description": "Signed in; on to OAUTH_FRONTEND_REDIRECT_URL."},
}


@router.get(
    "/login",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    summary="Start signing in with Yandex (redirects to Yandex)",
    description="Open this in the browser: it redirects to Yandex's consent page, which "
    "sends the user back to the callback. The sign-in link is valid for "
    "OAUTH_STATE_TTL_SECONDS and works once.",
    dependencies=[Depends(limit_per_ip("oauth-login"))],
    responses={status.HTTP_302_FOUND: {"description": "On to Yandex's consent page."}},
)
@raises(YandexNotConfiguredError)
def yandex_login(yandex: YandexServiceDep, settings: SettingsDep) -> RedirectResponse:
    authorization = yandex.authorization_url()
    redirect = RedirectResponse(
        authorization.url, status_code=status.HTTP_302_FOUND, headers=NO_STORE
    )
    # Lax, not Strict: the callback arrives as a top-level navigation from Yandex's site.
    redirect.set_cookie(
        STATE_COOKIE,
        authorization.state,
        max_age=settings.OAUTH_STATE_TTL_SECONDS,
        path=STATE_COOKIE_PATH,
        httponly=True,
        secure=settings.COOKIE_SECURE,
        samesite="lax",
    )
    return redirect


@router.get(
    "/callback",
    response_model=TokenPair,
    summary="Finish signing in with Yandex",
    description="Yandex redirects here with `code` and `state` (or `error`). Answers the "
    "token pair, or, when OAUTH_FRONTEND_REDIRECT_URL is set, redirects (302) there with "
    "`access_token`, `refresh_token` and `expires_in` in the URL fragment.",
    dependencies=[Depends(limit_per_ip("oauth-callback"))],
    responses=CALLBACK_RESPONSES,
)
@raises(
    OAuthCancelledError,
    OAuthStateError,
    YandexRejectedError,
    YandexUnavailableError,
    YandexNotConfiguredError,
    AccountDisabledError,
    AccountUnverifiedError,
    EmailTakenError,
    ConcurrentSignInError,
)
def yandex_callback(
    yandex: YandexServiceDep,
    settings: SettingsDep,
    response: Response,
    code: Annotated[
        str | None, Query(max_length=1000, description="The authorization code Yandex sent.")
    ] = None,
    state: Annotated[
        str | None, Query(max_length=200, description="The sign-in state, as Yandex echoes it.")
    ] = None,
    error: Annotated[
        str | None, Query(max_length=100, description="Yandex's error instead of a code.")
    ] = None,
    browser_state: Annotated[
        str | None,
        Cookie(
            alias=STATE_COOKIE,
            max_length=200,
            description="The state set by /auth/yandex/login in this browser.",
        ),
    ] = None,
) -> TokenPair | RedirectResponse:
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
    if error:
        raise yandex.refusal(error)
    if not code or not state:
        raise OAuthStateError()
    tokens = yandex.complete(code, state, browser_state)
    if settings.OAUTH_FRONTEND_REDIRECT_URL:
        return frontend_redirect(tokens, settings, settings.OAUTH_FRONTEND_REDIRECT_URL)
    response.headers.update(NO_STORE)
    return token_response(tokens, settings, response)


def frontend_redirect(tokens: IssuedTokens, settings: Settings, url: str) -> RedirectResponse:
    """302 to the frontend with the tokens in the fragment, which browsers never send to a
    server, so the tokens stay out of access logs and Referer headers."""
    fragment = urlencode(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_in": settings.ACCESS_TOKEN_TTL_SECONDS,
        }
    )
    redirect = RedirectResponse(
        f"{url.split('#', 1)[0]}#{fragment}", status_code=status.HTTP_302_FOUND, headers=NO_STORE
    )
    token_response(tokens, settings, redirect)  # sets the refresh cookie when enabled
    return redirect
