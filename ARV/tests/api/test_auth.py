"""Sign-up, sign-in, refresh-token rotation, sessions, verification and password reset."""

import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.models import AuditLog, AuthSession, OneTimeToken, RefreshToken, User
from app.utils.clock import utcnow
from tests.support.factories import DEFAULT_PASSWORD, make_user, unique_email
from tests.support.mailbox import Mailbox, body

STRONG = "a-much-better-passphrase"


def login(client: TestClient, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def refresh(client: TestClient, token: str) -> Any:
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


# -- registration ------------------------------------------------------------------------


def test_register_then_login_before_verification(
    client: TestClient, settings: Settings, mailbox: Mailbox
) -> None:
    email = unique_email("new")
    response = client.post(
        "/api/v1/auth/register",
        json={"email": f"  {email.upper()} ", "password": STRONG, "full_name": "Anna"},
    )
    assert response.status_code == 202
    tokens = login(client, email, STRONG)
    me = client.get("/api/v1/users/me", headers=bearer(tokens)).json()
    assert me["email"] == email
    assert me["is_verified"] is False
    assert "hashed_password" not in me
    assert len(mailbox.messages_to(email)) == 1


def test_register_does_not_reveal_existing_accounts(
    client: TestClient,
    db: Session,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    existing = make_user(db)
    fresh = unique_email()
    taken = client.post("/api/v1/auth/register", json={"email": existing.email, "password": STRONG})
    new = client.post("/api/v1/auth/register", json={"email": fresh, "password": STRONG})
    assert (taken.status_code, taken.json()) == (new.status_code, new.json())
    notice = mailbox.messages_to(existing.email)
    assert [m["Subject"] for m in notice] == ["Someone tried to sign up with your email"]
    assert db.scalar(select(User.hashed_password).where(User.email == existing.email)) == (
        existing.hashed_password
    )


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 8"),
        ("password123", "too common"),
        ("é" * 40, "at most 72 bytes"),
    ],
)
def test_weak_passwords_are_refused(client: TestClient, password: str, reason: str) -> None:
    response = client.post(
        "/api/v1/auth/register", json={"email": unique_email(), "password": password}
    )
    assert response.status_code == 422
    assert reason in response.json()["error"]["message"]


def test_register_refuses_privileged_fields(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "password": STRONG, "is_superuser": True},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["body", "is_superuser"]


# -- login -------------------------------------------------------------------------------


def test_wrong_password_and_unknown_email_look_the_same(client: TestClient, db: Session) -> None:
    user = make_user(db)
    wrong = client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope-nope"})
    unknown = client.post(
        "/api/v1/auth/login", json={"email": unique_email(), "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_failed_login_is_audited_even_though_the_request_fails(
    client: TestClient, db: Session
) -> None:
    user = make_user(db)
    client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope-nope"})
    actions = db.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(user.id))).all()
    assert "auth.login_failed" in actions


def test_repeated_failures_lock_the_account_temporarily(
    client: TestClient, db: Session, settings: Settings
) -> None:
    user = make_user(db)
    for _ in range(settings.LOGIN_MAX_FAILURES):
        client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope-nope"})
    locked = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "sign_in_locked"
    assert int(locked.headers["retry-after"]) > 0


def test_passwords_are_taken_exactly_as_typed(client: TestClient) -> None:
    email, padded = unique_email(), "  spaced passphrase  "
    client.post("/api/v1/auth/register", json={"email": email, "password": padded})
    assert login(client, email, padded)["token_type"] == "bearer"
    form = client.post("/api/v1/auth/login/form", data={"username": email, "password": padded})
    assert form.status_code == 200
    trimmed = client.post("/api/v1/auth/login", json={"email": email, "password": padded.strip()})
    assert trimmed.status_code == 401


def test_token_responses_are_not_cached(client: TestClient, db: Session) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"email": make_user(db).email, "password": DEFAULT_PASSWORD}
    )
    assert response.headers["cache-control"] == "no-store"


def test_weak_new_password_names_the_field(client: TestClient, db: Session) -> None:
    tokens = login(client, make_user(db).email)
    response = client.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "password1"},
        headers=bearer(tokens),
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["body", "new_password"]


def test_oauth2_form_login_for_the_docs_authorize_button(client: TestClient, db: Session) -> None:
    user = make_user(db)
    response = client.post(
        "/api/v1/auth/login/form", data={"username": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_disabled_account_cannot_sign_in(client: TestClient, db: Session) -> None:
    user = make_user(db)
    user.is_active = False
    db.flush()
    response = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 401


# -- refresh tokens ----------------------------------------------------------------------


def test_refresh_rotates_and_the_old_token_stops_working(
    client: TestClient, db: Session, settings: Settings
) -> None:
    user = make_user(db)
    first = login(client, user.email)
    second = refresh(client, first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert second.json()["session_id"] == first["session_id"]
    stored = db.scalars(select(RefreshToken.token_hash)).all()
    assert first["refresh_token"] not in stored  # only hashes are kept


def test_reuse_of_a_rotated_token_revokes_the_whole_family(
    client: TestClient, db: Session, app: Any, settings: Settings
) -> None:
    app.state.settings = settings.model_copy(update={"REFRESH_REUSE_GRACE_SECONDS": 0})
    user = make_user(db)
    first = login(client, user.email)
    second = refresh(client, first["refresh_token"]).json()
    time.sleep(0.01)

    stolen = refresh(client, first["refresh_token"])

    assert stolen.status_code == 401
    assert refresh(client, second["refresh_token"]).status_code == 401
    assert client.get("/api/v1/users/me", headers=bearer(second)).status_code == 401
    session = db.get(AuthSession, second["session_id"])
    db.refresh(session)
    assert session is not None
    assert session.revoked_reason == "refresh_token_reuse"


def test_two_tabs_refreshing_at_once_both_succeed(client: TestClient, db: Session) -> None:
    user = make_user(db)
    tokens = login(client, user.email)
    first_tab = refresh(client, tokens["refresh_token"])
    second_tab = refresh(client, tokens["refresh_token"])  # within the grace period
    assert first_tab.status_code == second_tab.status_code == 200
    assert refresh(client, first_tab.json()["refresh_token"]).status_code == 200
    assert refresh(client, second_tab.json()["refresh_token"]).status_code == 200


def test_unknown_refresh_token_is_refused(client: TestClient) -> None:
    response = refresh(client, "x" * 43)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "refresh_token_invalid"


def test_refresh_token_in_an_httponly_cookie(
    client: TestClient, db: Session, app: Any, settings: Settings
) -> None:
    app.state.settings = settings.model_copy(
        update={"REFRESH_COOKIE_ENABLED": True, "COOKIE_SECURE": False}
    )
    user = make_user(db)
    response = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    cookie = response.headers["set-cookie"]
    assert "arv_refresh=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/api/v1/auth" in cookie
    assert response.json()["refresh_token"] is None  # only in the cookie, out of scripts' reach
    rotated = client.post("/api/v1/auth/refresh")
    assert rotated.status_code == 200
    assert rotated.headers["cache-control"] == "no-store"
    logout = client.post("/api/v1/auth/logout")
    assert logout.status_code == 204
    assert 'arv_refresh=""' in logout.headers["set-cookie"]
    assert client.post("/api/v1/auth/refresh").status_code == 401


# -- sessions ----------------------------------------------------------------------------


def test_sessions_list_and_revoke(client: TestClient, db: Session) -> None:
    user = make_user(db)
    laptop = login(client, user.email)
    phone = login(client, user.email)
    sessions = client.get("/api/v1/auth/sessions", headers=bearer(laptop)).json()
    assert {s["id"] for s in sessions} == {laptop["session_id"], phone["session_id"]}
    assert [s["current"] for s in sessions if s["id"] == laptop["session_id"]] == [True]
    assert all(s["ip_address"] == "testclient" for s in sessions)

    revoked = client.delete(f"/api/v1/auth/sessions/{phone['session_id']}", headers=bearer(laptop))
    assert revoked.status_code == 204
    assert client.get("/api/v1/users/me", headers=bearer(phone)).status_code == 401
    assert refresh(client, phone["refresh_token"]).status_code == 401
    assert client.get("/api/v1/users/me", headers=bearer(laptop)).status_code == 200


def test_a_session_of_another_user_cannot_be_revoked(client: TestClient, db: Session) -> None:
    mine = login(client, make_user(db).email)
    theirs = login(client, make_user(db).email)
    response = client.delete(f"/api/v1/auth/sessions/{theirs['session_id']}", headers=bearer(mine))
    assert response.status_code == 404
    assert client.get("/api/v1/users/me", headers=bearer(theirs)).status_code == 200


def test_sign_out_everywhere_else(client: TestClient, db: Session) -> None:
    user = make_user(db)
    here, there = login(client, user.email), login(client, user.email)
    assert client.delete("/api/v1/auth/sessions", headers=bearer(here)).status_code == 204
    assert client.get("/api/v1/users/me", headers=bearer(here)).status_code == 200
    assert client.get("/api/v1/users/me", headers=bearer(there)).status_code == 401


def test_logout_ends_the_session(client: TestClient, db: Session) -> None:
    tokens = login(client, make_user(db).email)
    response = client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 204
    assert client.get("/api/v1/users/me", headers=bearer(tokens)).status_code == 401


# -- profile and passwords ---------------------------------------------------------------


def test_update_profile(client: TestClient, db: Session) -> None:
    tokens = login(client, make_user(db).email)
    response = client.patch(
        "/api/v1/users/me", json={"full_name": "Ivan Petrov"}, headers=bearer(tokens)
    )
    assert response.json()["full_name"] == "Ivan Petrov"
    refused = client.patch(
        "/api/v1/users/me", json={"email": "x@example.com"}, headers=bearer(tokens)
    )
    assert refused.status_code == 422


def test_change_password_signs_out_other_devices(client: TestClient, db: Session) -> None:
    user = make_user(db)
    here, there = login(client, user.email), login(client, user.email)
    wrong = client.post(
        "/api/v1/users/me/password",
        json={"current_password": "nope-nope", "new_password": STRONG},
        headers=bearer(here),
    )
    assert wrong.status_code == 401
    changed = client.post(
        "/api/v1/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": STRONG},
        headers=bearer(here),
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/users/me", headers=bearer(here)).status_code == 200
    assert client.get("/api/v1/users/me", headers=bearer(there)).status_code == 401
    login(client, user.email, STRONG)


def test_password_reset_flow(
    client: TestClient, db: Session, settings: Settings, mailbox: Mailbox
) -> None:
    user = make_user(db, verified=False)
    other_device = login(client, user.email)
    assert (
        client.post("/api/v1/auth/password/forgot", json={"email": user.email}).status_code == 202
    )
    token = mailbox.last_token(user.email)

    reset = client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": STRONG}
    )
    assert reset.status_code == 204
    assert client.get("/api/v1/users/me", headers=bearer(other_device)).status_code == 401
    tokens = login(client, user.email, STRONG)
    assert client.get("/api/v1/users/me", headers=bearer(tokens)).json()["is_verified"] is True

    again = client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": "another-passphrase"}
    )
    assert again.status_code == 422  # single use


def test_forgot_password_for_unknown_email_looks_the_same(
    client: TestClient,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    email = unique_email()
    response = client.post("/api/v1/auth/password/forgot", json={"email": email})
    assert response.status_code == 202
    assert mailbox.messages_to(email) == []


def test_expired_reset_token_is_refused(
    client: TestClient,
    db: Session,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    user = make_user(db)
    client.post("/api/v1/auth/password/forgot", json={"email": user.email})
    token = mailbox.last_token(user.email)
    for record in db.scalars(select(OneTimeToken).where(OneTimeToken.user_id == user.id)):
        record.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    response = client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": STRONG}
    )
    assert response.status_code == 422


# -- email verification ------------------------------------------------------------------


def test_verify_email_with_the_emailed_token(
    client: TestClient,
    db: Session,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    user = make_user(db, verified=False)
    tokens = login(client, user.email)
    assert (
        client.post("/api/v1/auth/verify-email/resend", headers=bearer(tokens)).status_code == 202
    )
    token = mailbox.last_token(user.email)
    verified = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 200
    assert verified.json()["is_verified"] is True
    assert client.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 422


# -- secrets stay out of logs and responses ----------------------------------------------


def test_passwords_and_tokens_never_reach_the_logs(
    client: TestClient,
    db: Session,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    mailbox: Mailbox,
) -> None:
    caplog.set_level(logging.DEBUG)
    email = unique_email()
    client.post("/api/v1/auth/register", json={"email": email, "password": STRONG})
    tokens = login(client, email, STRONG)
    rotated = refresh(client, tokens["refresh_token"]).json()
    client.post("/api/v1/auth/password/forgot", json={"email": email})
    reset_token = mailbox.last_token(email)
    client.post("/api/v1/auth/login", json={"email": email, "password": "wrong-secret-value"})

    secrets = [
        STRONG,
        "wrong-secret-value",
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["refresh_token"],
        reset_token,
        *db.scalars(select(RefreshToken.token_hash)).all(),
        *db.scalars(select(OneTimeToken.token_hash)).all(),
    ]
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for secret in secrets:
        assert secret not in logged
    reset_mail = body(mailbox.messages_to(email)[-1])
    assert reset_token in reset_mail  # it is in the email file, and only there
