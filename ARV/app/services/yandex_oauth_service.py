"""Sign-in with Yandex ID: the OAuth 2.0 authorization-code flow with PKCE (RFC 7636).

`authorization_url()` starts a sign-in: the state (stored hashed) and the PKCE verifier go
into `oauth_states`, so Yandex may send the user back to any API instance. `complete()`
claims that state once, trades the code for an access token, reads the Yandex profile and
signs in the matching local user: the one already linked to this Yandex account, else the
one whose verified email Yandex confirms, else a new account.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.database import separate_unit_of_work
from app.core.exceptions import (
    AccountDisabledError,
    AccountUnverifiedError,
    AppError,
    ConcurrentSignInError,
    EmailTakenError,
    OAuthCancelledError,
    OAuthStateError,
    YandexNotConfiguredError,
    YandexRejectedError,
    YandexUnavailableError,
)
from app.core.security import (
    hash_token,
    new_opaque_token,
    new_pkce_verifier,
    pkce_challenge,
    secrets_equal,
)
from app.models.auth import OAuthState
from app.models.user import EMAIL_MAX_LENGTH, User, UserIdentity
from app.services.auth_service import AuthService, IssuedTokens
from app.services.claims import claim_once
from app.services.user_service import normalize_email
from app.utils.clock import utcnow

logger = logging.getLogger(__name__)

PROVIDER = "yandex"
HTTP_TIMEOUT_SECONDS = 10.0
SUBJECT_MAX_LENGTH = 255
FULL_NAME_MAX_LENGTH = 200
FALLBACK_EMAIL_DOMAIN = "yandex.ru"


@dataclass(frozen=True, slots=True)
class AuthorizationRedirect:
    url: str
    state: str


@dataclass(frozen=True, slots=True)
class YandexProfile:
    """The parts of Yandex's user-info answer that sign-in uses."""

    subject: str
    client_id: str
    login: str | None
    default_email: str | None
    full_name: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "YandexProfile":
        subject = _text(data.get("id"))
        if not subject or len(subject) > SUBJECT_MAX_LENGTH:
            raise YandexUnavailableError("Yandex sent a profile without a usable user id.")
        return cls(
            subject=subject,
            client_id=_text(data.get("client_id")) or "",
            login=_text(data.get("login")),
            default_email=_email(data.get("default_email")),
            full_name=(_text(data.get("real_name")) or _text(data.get("display_name")) or "")[
                :FULL_NAME_MAX_LENGTH
            ],
        )

    @property
    def login_email(self) -> str | None:
        """The Yandex mailbox a login implies; not confirmed, so never used for linking."""
        return _email(f"{self.login}@{FALLBACK_EMAIL_DOMAIN}") if self.login else None


class YandexOAuthService:
    def __init__(self, db: Session, settings: Settings, auth: AuthService) -> None:
        self.db = db
        self.settings = settings
        self.auth = auth

    # -- start -----------------------------------------------------------------------------

    def authorization_url(self) -> "AuthorizationRedirect":
        """Store a fresh state and PKCE verifier; the Yandex URL to send the user to, and
        the state the browser must present again at the callback."""
        self._ensure_enabled()
        state = new_opaque_token()
        verifier = new_pkce_verifier()
        ttl = timedelta(seconds=self.settings.OAUTH_STATE_TTL_SECONDS)
        self.db.add(
            OAuthState(
                provider=PROVIDER,
                state_hash=hash_token(state),
                code_verifier=verifier,
                expires_at=utcnow() + ttl,
            )
        )
        self.db.flush()
        params = {
            "response_type": "code",
            "client_id": self.settings.YANDEX_CLIENT_ID or "",
            "redirect_uri": self.settings.YANDEX_REDIRECT_URI or "",
            "state": state,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        url = str(httpx.URL(self.settings.YANDEX_AUTHORIZE_URL).copy_merge_params(params))
        return AuthorizationRedirect(url=url, state=state)

    # -- callback --------------------------------------------------------------------------

    def refusal(self, error: str) -> AppError:
        """The error for a callback where Yandex reports `error` instead of a code."""
        if error == "access_denied":
            return OAuthCancelledError(details={"provider_error": error})
        logger.warning("yandex refused the authorization request", extra={"provider_error": error})
        return YandexRejectedError(
            "Yandex refused the sign-in request; start again.",
            details={"provider_error": error},
        )

    def complete(self, code: str, state: str, browser_state: str | None) -> IssuedTokens:
        """Finish the sign-in. `browser_state` is the state the starting browser kept in a
        cookie: without it, anyone holding a valid state and code could sign a victim's
        browser into the attacker's account (login CSRF)."""
        self._ensure_enabled()
        if not state.isascii():  # every state we issue is URL-safe ASCII
            raise OAuthStateError()
        if not browser_state or not secrets_equal(state, browser_state):
            raise OAuthStateError("This sign-in was started in another browser; start again.")
        verifier = self._claim_state(state)
        profile = self._fetch_profile(code, verifier)
        user = self._sign_in_user(profile)
        self._audit("auth.login", user)
        return self.auth.start_session(user)

    def _claim_state(self, state: str) -> str:
        # One conditional update: of two callbacks with one state, exactly one gets through.
        # Claimed in a unit of work of its own, committed at once: the state stays used
        # even when this sign-in is then refused, so a link works once.
        with separate_unit_of_work(self.db) as own:
            verifier = claim_once(
                own,
                OAuthState.used_at,
                OAuthState.state_hash == hash_token(state),
                OAuthState.provider == PROVIDER,
                expires=OAuthState.expires_at,
                returning=OAuthState.code_verifier,
            )
        if verifier is None:
            raise OAuthStateError()
        return verifier

    # -- talking to Yandex -----------------------------------------------------------------

    def _fetch_profile(self, code: str, verifier: str) -> YandexProfile:
        with httpx.Client(timeout=HTTP_TIMEOUT_SECONDS) as http:
            access_token = self._exchange_code(http, code, verifier)
            profile = self._read_profile(http, access_token)
        if profile.client_id != self.settings.YANDEX_CLIENT_ID:
            logger.warning("yandex profile issued for another client id")
            raise YandexRejectedError("This Yandex sign-in was issued for another application.")
        return profile

    def _exchange_code(self, http: httpx.Client, code: str, verifier: str) -> str:
        secret = self.settings.YANDEX_CLIENT_SECRET
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.settings.YANDEX_CLIENT_ID or "",
            "client_secret": secret.get_secret_value() if secret else "",
            "code_verifier": verifier,
        }
        response = _send(
            http, http.build_request("POST", self.settings.YANDEX_TOKEN_URL, data=form)
        )
        if response.is_client_error:
            provider_error = _json_body(response).get("error")
            logger.warning(
                "yandex rejected the authorization code",
                extra={"status": response.status_code, "provider_error": provider_error},
            )
            raise YandexRejectedError(details={"provider_error": _text(provider_error)})
        access_token = _text(_success_body(response).get("access_token"))
        if not access_token:
            raise YandexUnavailableError("Yandex sent no access token; try again.")
        return access_token

    def _read_profile(self, http: httpx.Client, access_token: str) -> YandexProfile:
        # The token goes in the header only: query strings end up in access logs.
        request = http.build_request(
            "GET",
            self.settings.YANDEX_USERINFO_URL,
            params={"format": "json"},
            headers={"Authorization": f"OAuth {access_token}"},
        )
        response = _send(http, request)
        if response.is_client_error:
            logger.warning("yandex refused the user info", extra={"status": response.status_code})
            raise YandexRejectedError()
        return YandexProfile.from_json(_success_body(response))

    # -- the local user --------------------------------------------------------------------

    def _sign_in_user(self, profile: YandexProfile) -> User:
        identity = self.db.scalar(
            select(UserIdentity).where(
                UserIdentity.provider == PROVIDER, UserIdentity.subject == profile.subject
            )
        )
        user = self.db.get_one(User, identity.user_id) if identity else self._user_to_link(profile)
        if user is None:
            return self._register(profile)
        if not user.is_active:
            raise AccountDisabledError("This account is disabled.")
        if identity is None:
            self._add_identity(user, profile)
            self._audit("user.identity_linked", user)
        return user

    def _user_to_link(self, profile: YandexProfile) -> User | None:
        """The local account with the email Yandex confirms, if its owner proved it too."""
        if profile.default_email is None:
            return None
        user = self.auth.users.get_by_email(profile.default_email)
        if user is not None and not user.is_verified:
            raise AccountUnverifiedError(
                "An account with this email already exists but its email is not verified. "
                "Sign in with your password and verify your email first, then use Yandex.",
                details={"email": user.email},
            )
        return user

    def _register(self, profile: YandexProfile) -> User:
        email = profile.default_email or profile.login_email
        if email is None:
            raise YandexRejectedError(
                "Yandex shared no email address; allow access to your email and try again."
            )
        if self.auth.users.get_by_email(email) is not None:
            raise EmailTakenError(
                "An account with this email already exists; sign in with its password.",
                details={"email": email},
            )
        # All or nothing: a refusal keeps only the state claim, never half an account.
        with self.db.begin_nested():
            user = self.auth.users.create(
                email, None, full_name=profile.full_name, verified=profile.default_email is not None
            )
            self._add_identity(user, profile)
        self._audit("user.registered", user)
        return user

    def _add_identity(self, user: User, profile: YandexProfile) -> None:
        identity = UserIdentity(
            user_id=user.id, provider=PROVIDER, subject=profile.subject, email=profile.default_email
        )
        try:
            with self.db.begin_nested():
                self.db.add(identity)
                self.db.flush()
        except IntegrityError as error:
            # A concurrent callback for the same Yandex account linked it first.
            raise ConcurrentSignInError() from error

    # -- helpers ---------------------------------------------------------------------------

    def _ensure_enabled(self) -> None:
        if not self.settings.yandex_enabled:
            raise YandexNotConfiguredError()

    def _audit(self, action: str, user: User) -> None:
        self.auth.audit.record(
            action,
            entity_type="user",
            entity_id=user.id,
            actor_user_id=user.id,
            meta=self.auth.meta,
            changes={"provider": PROVIDER},
        )


def _send(http: httpx.Client, request: httpx.Request) -> httpx.Response:
    try:
        return http.send(request)
    except httpx.HTTPError as error:
        logger.warning(
            "yandex request failed",
            extra={"url": str(request.url.copy_with(query=None)), "error": repr(error)},
        )
        raise YandexUnavailableError() from error


def _success_body(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != httpx.codes.OK:
        logger.warning("yandex answered with an error", extra={"status": response.status_code})
        raise YandexUnavailableError()
    body = _json_body(response)
    if not body:
        raise YandexUnavailableError("Yandex sent an answer this server cannot read.")
    return body


def _json_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON object in `response`, or an empty one when there is none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _text(value: object) -> str | None:
    if isinstance(value, int | str) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def _email(value: object) -> str | None:
    text = _text(value)
    if text is None or "@" not in text or len(text) > EMAIL_MAX_LENGTH:
        return None
    return normalize_email(text)
