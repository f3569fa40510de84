"""Access JWTs: claims, expiry, tampering, algorithms and key rotation."""

import base64
import json
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from jose import jwt
from pydantic import SecretStr
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.security import InvalidTokenError, create_access_token, decode_access_token
from app.utils.clock import utcnow
from tests.support.factories import auth_headers, make_user


def issue(settings: Settings, **shift: float) -> str:
    token, _ = create_access_token(
        settings, uuid.uuid4(), uuid.uuid4(), utcnow() + timedelta(**shift)
    )
    return token


def test_claims_round_trip(settings: Settings) -> None:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    token, expires_at = create_access_token(settings, user_id, session_id, utcnow())
    claims = decode_access_token(settings, token)
    assert (claims.user_id, claims.session_id) == (user_id, session_id)
    assert claims.expires_at == expires_at.replace(microsecond=0)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "kid": "default", "typ": "JWT"}
    payload = jwt.get_unverified_claims(token)
    assert {"sub", "sid", "exp", "iat", "jti", "iss", "aud", "type"} <= set(payload)


def test_expired_token_is_refused(settings: Settings) -> None:
    token = issue(settings, seconds=-(settings.ACCESS_TOKEN_TTL_SECONDS + 60))
    with pytest.raises(InvalidTokenError):
        decode_access_token(settings, token)


def test_small_clock_skew_is_tolerated(settings: Settings) -> None:
    token = issue(settings, seconds=-(settings.ACCESS_TOKEN_TTL_SECONDS + 5))
    decode_access_token(settings, token)


def test_tampered_payload_is_refused(settings: Settings) -> None:
    header, payload, signature = issue(settings).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(uuid.uuid4())
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidTokenError):
        decode_access_token(settings, f"{header}.{forged}.{signature}")


def test_unsigned_and_foreign_tokens_are_refused(settings: Settings) -> None:
    claims = jwt.get_unverified_claims(issue(settings))
    unsigned = jwt.encode(claims, "", algorithm="HS256", headers={"kid": "default"})
    other_key = jwt.encode(claims, "another-key", algorithm="HS256", headers={"kid": "default"})
    for token in (unsigned, other_key, "not.a.jwt", ""):
        with pytest.raises(InvalidTokenError):
            decode_access_token(settings, token)


def test_wrong_audience_issuer_or_type_is_refused(settings: Settings) -> None:
    for field, value in (("aud", "someone-else"), ("iss", "someone-else"), ("type", "refresh")):
        claims = jwt.get_unverified_claims(issue(settings)) | {field: value}
        token = jwt.encode(
            claims, settings.jwt_keys["default"], algorithm="HS256", headers={"kid": "default"}
        )
        with pytest.raises(InvalidTokenError):
            decode_access_token(settings, token)


def test_missing_claims_are_refused(settings: Settings) -> None:
    claims = jwt.get_unverified_claims(issue(settings))
    del claims["jti"]
    token = jwt.encode(
        claims, settings.jwt_keys["default"], algorithm="HS256", headers={"kid": "default"}
    )
    with pytest.raises(InvalidTokenError):
        decode_access_token(settings, token)


def test_keys_rotate_without_logging_anyone_out(settings: Settings) -> None:
    old = settings.model_copy(
        update={
            "JWT_SIGNING_KEYS": {"2026-10": SecretStr("o" * 40)},
            "JWT_ACTIVE_KEY_ID": "2026-10",
        }
    )
    rotated = settings.model_copy(
        update={
            "JWT_SIGNING_KEYS": {"2026-10": SecretStr("o" * 40), "2026-11": SecretStr("n" * 40)},
            "JWT_ACTIVE_KEY_ID": "2026-11",
        }
    )
    retired = settings.model_copy(
        update={
            "JWT_SIGNING_KEYS": {"2026-11": SecretStr("n" * 40)},
            "JWT_ACTIVE_KEY_ID": "2026-11",
        }
    )
    old_token = issue(old)
    decode_access_token(rotated, old_token)  # still accepted after rotation
    assert jwt.get_unverified_header(issue(rotated))["kid"] == "2026-11"
    with pytest.raises(InvalidTokenError):
        decode_access_token(retired, old_token)


def test_api_refuses_missing_expired_and_tampered_tokens(
    client: TestClient, db: Session, settings: Settings
) -> None:
    user = make_user(db)
    good = auth_headers(db, settings, user)
    assert client.get("/api/v1/users/me", headers=good).status_code == 200
    assert client.get("/api/v1/users/me").status_code == 401
    tampered = {"Authorization": good["Authorization"][:-2] + "xx"}
    response = client.get("/api/v1/users/me", headers=tampered)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"
