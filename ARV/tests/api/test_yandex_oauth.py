"""Sign-in with Yandex ID, end to end against a fake Yandex on loopback."""

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.security import hash_token
from app.models import AuditLog, OAuthState, User
from app.models.user import UserIdentity
from app.utils.clock import utcnow
from tests.conftest import ClientFactory
from tests.support.api import assert_error
from tests.support.factories import make_user
from tests.support.fake_yandex import CLIENT_ID, CLIENT_SECRET, FakeYandex, s256

LOGIN = "/api/v1/auth/yandex/login"
CALLBACK = "/api/v1/auth/yandex/callback"
ME = "/api/v1/users/me"
REDIRECT_URI = "http://testserver/api/v1/auth/yandex/callback"
FRONTEND = "https://app.example.com/oauth/done"
YANDEX_ID = "1130000012345678"
YANDEX_EMAIL = "ivan.petrov@yandex.ru"
INVALID_STATE = "The sign-in link is invalid or expired; start again."


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def fake_yandex() -> Iterator[FakeYandex]:
    fake = FakeYandex()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def yandex_settings(settings: Settings, fake_yandex: FakeYandex) -> Settings:
    return settings.model_copy(
        update={
            "YANDEX_CLIENT_ID": CLIENT_ID,
            "YANDEX_CLIENT_SECRET": SecretStr(CLIENT_SECRET),
            "YANDEX_REDIRECT_URI": REDIRECT_URI,
            "YANDEX_AUTHORIZE_URL": f"{fake_yandex.base_url}/authorize",
            "YANDEX_TOKEN_URL": f"{fake_yandex.base_url}/token",
            "YANDEX_USERINFO_URL": f"{fake_yandex.base_url}/info",
            # Counters in Redis outlive each test; keep them out of the way here.
            "AUTH_RATE_LIMIT_PER_IP": 100_000,
            # The test client speaks plain HTTP; a Secure cookie would never come back.
            "COOKIE_SECURE": False,
        }
    )


@dataclass
class YandexFlow:
    client: TestClient
    fake: FakeYandex

    def start(self) -> tuple[str, str]:
        """Open the login link; the state and a code Yandex issued for its challenge."""
        response = self.client.get(LOGIN)
        assert response.status_code == 302, response.text
        query = parse_qs(urlsplit(response.headers["location"]).query)
        return query["state"][0], self.fake.issue_code(query["code_challenge"][0])

    def callback(self, state: str, code: str) -> httpx2.Response:
        return self.client.get(CALLBACK, params={"code": code, "state": state})

    def callback_holding(self, state: str, code: str) -> httpx2.Response:
        """The callback from a browser whose state cookie matches `state`, so what is
        tested is the server-side state record, not the browser binding."""
        self.client.cookies.clear()
        self.client.cookies.set("arv_oauth_state", state, path="/api/v1/auth/yandex")
        return self.callback(state, code)

    def sign_in(self) -> httpx2.Response:
        return self.callback(*self.start())


@pytest.fixture
def flow(
    client_for: ClientFactory, yandex_settings: Settings, fake_yandex: FakeYandex
) -> YandexFlow:
    return YandexFlow(client_for(yandex_settings), fake_yandex)


def me(client: TestClient, access_token: str) -> dict[str, Any]:
    response = client.get(ME, headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def count(db: Session, model: type[Any], *where: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def users_with_email(db: Session, email: str) -> int:
    return count(db, User, User.email == email)


# -- the happy path ----------------------------------------------------------------------------


def test_login_redirects_to_yandex_with_pkce(flow: YandexFlow, db: Session) -> None:
    response = flow.client.get(LOGIN)

    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{flow.fake.base_url}/authorize"
    )
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert query.keys() == {
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
    }
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["code_challenge_method"] == "S256"
    stored = db.scalars(
        select(OAuthState).where(OAuthState.state_hash == hash_token(query["state"]))
    ).one()
    assert stored.provider == "yandex"
    assert stored.used_at is None
    assert 43 <= len(stored.code_verifier) <= 128
    assert s256(stored.code_verifier) == query["code_challenge"]
    ttl = stored.expires_at - utcnow()
    assert timedelta(seconds=590) < ttl <= timedelta(seconds=600)
    # Nothing secret travels to Yandex: the verifier stays on the server.
    assert stored.code_verifier not in response.headers["location"]


def test_first_sign_in_creates_a_verified_user_with_working_tokens(
    flow: YandexFlow, db: Session
) -> None:
    response = flow.sign_in()

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "bearer"
    account = me(flow.client, tokens["access_token"])
    assert account["email"] == YANDEX_EMAIL
    assert account["full_name"] == "Ivan Petrov"
    assert account["is_verified"] is True
    user = db.get_one(User, uuid.UUID(account["id"]))
    assert user.hashed_password is None
    identity = db.scalars(select(UserIdentity).where(UserIdentity.user_id == user.id)).one()
    assert (identity.provider, identity.subject) == ("yandex", YANDEX_ID)
    assert identity.email == YANDEX_EMAIL
    actions = db.execute(
        select(AuditLog.action, AuditLog.changes).where(AuditLog.entity_id == str(user.id))
    ).all()
    assert sorted(actions) == [
        ("auth.login", {"provider": "yandex"}),
        ("user.registered", {"provider": "yandex"}),
    ]
    refreshed = flow.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text


def test_token_exchange_sends_the_pkce_verifier_and_client_credentials(
    flow: YandexFlow,
) -> None:
    state, code = flow.start()
    assert flow.callback(state, code).status_code == 200

    (token_request,) = flow.fake.requests_to("/token")
    assert token_request.method == "POST"
    assert token_request.form["grant_type"] == "authorization_code"
    assert token_request.form["code"] == code
    assert token_request.form["client_id"] == CLIENT_ID
    assert token_request.form["client_secret"] == CLIENT_SECRET
    assert 43 <= len(token_request.form["code_verifier"]) <= 128


def test_access_token_travels_in_the_header_never_the_query(flow: YandexFlow) -> None:
    assert flow.sign_in().status_code == 200

    (info_request,) = flow.fake.requests_to("/info")
    (access_token,) = flow.fake.issued_tokens
    assert info_request.headers["authorization"] == f"OAuth {access_token}"
    assert info_request.query == {"format": ["json"]}
    assert access_token not in info_request.target


def test_second_sign_in_reuses_the_user(flow: YandexFlow, db: Session) -> None:
    first = flow.sign_in().json()
    second = flow.sign_in().json()

    assert second["session_id"] != first["session_id"]
    first_id = me(flow.client, first["access_token"])["id"]
    assert me(flow.client, second["access_token"])["id"] == first_id
    assert users_with_email(db, YANDEX_EMAIL) == 1
    assert count(db, UserIdentity, UserIdentity.subject == YANDEX_ID) == 1


def test_identity_wins_over_a_changed_yandex_email(flow: YandexFlow) -> None:
    first = me(flow.client, flow.sign_in().json()["access_token"])
    flow.fake.profile["default_email"] = "new.address@example.com"

    second = me(flow.client, flow.sign_in().json()["access_token"])

    assert second["id"] == first["id"]
    assert second["email"] == YANDEX_EMAIL


def test_no_yandex_email_falls_back_to_the_login_mailbox_unverified(
    flow: YandexFlow,
) -> None:
    flow.fake.profile["default_email"] = None
    flow.fake.profile["real_name"] = None

    account = me(flow.client, flow.sign_in().json()["access_token"])

    assert account["email"] == YANDEX_EMAIL
    assert account["is_verified"] is False
    assert account["full_name"] == "ivan.petrov"  # display_name


# -- linking to local accounts -----------------------------------------------------------------


def test_links_to_a_verified_local_account_with_the_same_email(
    flow: YandexFlow, db: Session
) -> None:
    local = make_user(db, YANDEX_EMAIL, verified=True)
    flow.fake.profile["default_email"] = "Ivan.Petrov@Yandex.ru"

    response = flow.sign_in()

    assert response.status_code == 200, response.text
    assert me(flow.client, response.json()["access_token"])["id"] == str(local.id)
    identity = db.scalars(select(UserIdentity).where(UserIdentity.user_id == local.id)).one()
    assert identity.subject == YANDEX_ID
    assert users_with_email(db, YANDEX_EMAIL) == 1
    assert count(db, AuditLog, AuditLog.action == "user.identity_linked") == 1


def test_refuses_to_link_to_an_unverified_local_account(flow: YandexFlow, db: Session) -> None:
    local = make_user(db, YANDEX_EMAIL, verified=False)

    error = assert_error(flow.sign_in(), 409, "account_unverified")

    assert "verify your email" in error["message"]
    assert "password" in error["message"]
    assert count(db, UserIdentity, UserIdentity.user_id == local.id) == 0
    assert users_with_email(db, YANDEX_EMAIL) == 1


def test_never_links_by_the_unconfirmed_login_mailbox(flow: YandexFlow, db: Session) -> None:
    make_user(db, YANDEX_EMAIL, verified=True)
    flow.fake.profile["default_email"] = None

    error = assert_error(flow.sign_in(), 409, "email_taken")

    assert "already exists" in error["message"]
    assert count(db, UserIdentity, UserIdentity.subject == YANDEX_ID) == 0


def test_disabled_account_cannot_sign_in(flow: YandexFlow, db: Session) -> None:
    account = me(flow.client, flow.sign_in().json()["access_token"])
    db.execute(update(User).where(User.id == uuid.UUID(account["id"])).values(is_active=False))
    db.flush()

    error = assert_error(flow.sign_in(), 401, "account_disabled")

    assert error["message"] == "This account is disabled."


# -- refusals ------------------------------------------------------------------------------------


def test_denied_consent_is_a_clear_error(flow: YandexFlow) -> None:
    state, _ = flow.start()

    response = flow.client.get(
        CALLBACK,
        params={
            "error": "access_denied",
            "error_description": "The user denied access",
            "state": state,
        },
    )

    error = assert_error(response, 400, "oauth_cancelled")
    assert error["message"] == "Sign-in with Yandex was cancelled."
    assert flow.fake.requests_to("/token") == []


def test_other_yandex_errors_are_refused(flow: YandexFlow) -> None:
    response = flow.client.get(CALLBACK, params={"error": "unauthorized_client"})

    error = assert_error(response, 401, "yandex_rejected")
    assert error["details"] == {"provider_error": "unauthorized_client"}


def test_unknown_state_is_refused(flow: YandexFlow, db: Session) -> None:
    _, code = flow.start()

    error = assert_error(
        flow.callback_holding("not-a-state-we-issued", code), 400, "oauth_state_invalid"
    )

    assert error["message"] == INVALID_STATE
    assert flow.fake.requests_to("/token") == []
    assert users_with_email(db, YANDEX_EMAIL) == 0


def test_missing_code_or_state_is_refused(flow: YandexFlow) -> None:
    state, code = flow.start()

    assert_error(flow.client.get(CALLBACK, params={"state": state}), 400, "oauth_state_invalid")
    assert_error(flow.client.get(CALLBACK, params={"code": code}), 400, "oauth_state_invalid")


def test_replayed_state_is_refused(flow: YandexFlow) -> None:
    state, code = flow.start()
    assert flow.callback(state, code).status_code == 200

    replay = flow.callback_holding(state, flow.fake.issue_code("x"))
    error = assert_error(replay, 400, "oauth_state_invalid")

    assert error["message"] == INVALID_STATE
    assert len(flow.fake.requests_to("/token")) == 1


def test_expired_state_is_refused(flow: YandexFlow, db: Session) -> None:
    state, code = flow.start()
    db.execute(
        update(OAuthState)
        .where(OAuthState.state_hash == hash_token(state))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.flush()

    error = assert_error(flow.callback(state, code), 400, "oauth_state_invalid")

    assert error["message"] == INVALID_STATE
    assert flow.fake.requests_to("/token") == []


def test_state_from_another_login_does_not_fit_the_code(flow: YandexFlow, db: Session) -> None:
    state, _ = flow.start()
    _, other_code = flow.start()  # issued for the other login's PKCE challenge

    assert_error(flow.callback_holding(state, other_code), 401, "yandex_rejected")

    assert users_with_email(db, YANDEX_EMAIL) == 0


def test_rejected_code_is_refused_and_uses_up_the_state(flow: YandexFlow, db: Session) -> None:
    flow.fake.token_failure = 400
    state, code = flow.start()

    error = assert_error(flow.callback(state, code), 401, "yandex_rejected")

    assert error["message"] == "Yandex did not accept this sign-in; start again."
    assert error["details"] == {"provider_error": "invalid_grant"}
    assert users_with_email(db, YANDEX_EMAIL) == 0
    assert count(db, OAuthState, OAuthState.used_at.is_not(None)) == 1
    flow.fake.token_failure = None
    assert assert_error(flow.callback(state, code), 400, "oauth_state_invalid")["message"] == (
        INVALID_STATE
    )


def test_token_endpoint_server_error_is_reported(flow: YandexFlow, db: Session) -> None:
    flow.fake.token_failure = 500

    error = assert_error(flow.sign_in(), 503, "yandex_unavailable")

    assert error["message"] == "Yandex did not answer; try again."
    assert users_with_email(db, YANDEX_EMAIL) == 0
    assert flow.fake.requests_to("/info") == []


def test_unreachable_yandex_is_reported(
    client_for: ClientFactory, yandex_settings: Settings, fake_yandex: FakeYandex, db: Session
) -> None:
    broken = yandex_settings.model_copy(
        update={"YANDEX_TOKEN_URL": f"http://127.0.0.1:{closed_port()}/token"}
    )
    flow = YandexFlow(client_for(broken), fake_yandex)

    error = assert_error(flow.sign_in(), 503, "yandex_unavailable")

    assert error["message"] == "Yandex did not answer; try again."
    assert users_with_email(db, YANDEX_EMAIL) == 0


def test_profile_issued_for_another_client_is_refused(flow: YandexFlow, db: Session) -> None:
    flow.fake.profile["client_id"] = "someone-elses-app"

    error = assert_error(flow.sign_in(), 401, "yandex_rejected")

    assert "another application" in error["message"]
    assert users_with_email(db, YANDEX_EMAIL) == 0
    assert count(db, UserIdentity, UserIdentity.subject == YANDEX_ID) == 0


def test_not_configured_is_a_clear_error(
    client_for: ClientFactory, yandex_settings: Settings
) -> None:
    client = client_for(
        yandex_settings.model_copy(update={"YANDEX_CLIENT_ID": None, "YANDEX_CLIENT_SECRET": None})
    )

    for response in (
        client.get(LOGIN),
        client.get(CALLBACK, params={"code": "abc", "state": "def"}),
    ):
        error = assert_error(response, 503, "yandex_not_configured")
        assert error["message"] == "Yandex sign-in is not configured on this server."


def test_callback_is_rate_limited(
    client_for: ClientFactory, yandex_settings: Settings, fake_yandex: FakeYandex
) -> None:
    client = client_for(yandex_settings.model_copy(update={"AUTH_RATE_LIMIT_PER_IP": 2}))

    responses = [client.get(CALLBACK, params={"state": "s", "code": "c"}) for _ in range(3)]

    assert_error(responses[-1], 429, "rate_limited")
    assert "retry-after" in responses[-1].headers


# -- handing the tokens to a frontend --------------------------------------------------------


def test_frontend_redirect_carries_tokens_in_the_fragment(
    client_for: ClientFactory, yandex_settings: Settings, fake_yandex: FakeYandex
) -> None:
    client = client_for(
        yandex_settings.model_copy(update={"OAUTH_FRONTEND_REDIRECT_URL": FRONTEND})
    )

    response = YandexFlow(client, fake_yandex).sign_in()

    assert response.status_code == 302, response.text
    assert response.headers["cache-control"] == "no-store"
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == FRONTEND
    assert location.query == ""
    fragment = {key: values[0] for key, values in parse_qs(location.fragment).items()}
    assert fragment.keys() == {"access_token", "refresh_token", "expires_in"}
    assert fragment["expires_in"] == str(yandex_settings.ACCESS_TOKEN_TTL_SECONDS)
    assert me(client, fragment["access_token"])["email"] == YANDEX_EMAIL


def test_a_callback_from_another_browser_is_refused(
    flow: YandexFlow, client_for: ClientFactory, yandex_settings: Settings, db: Session
) -> None:
    """Login CSRF: an attacker's own valid state and code, replayed in a victim's browser
    (which never started this sign-in), must not sign the victim in."""
    state, code = flow.start()
    victim = client_for(yandex_settings)
    response = victim.get(CALLBACK, params={"code": code, "state": state})
    error = assert_error(response, 400, "oauth_state_invalid")
    assert "another browser" in error["message"]
    assert flow.callback(state, code).status_code == 200  # the real browser still can


def test_the_state_cookie_is_httponly_lax_and_scoped(flow: YandexFlow) -> None:
    cookie = flow.client.get(LOGIN).headers["set-cookie"]
    assert cookie.startswith("arv_oauth_state=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/api/v1/auth/yandex" in cookie
