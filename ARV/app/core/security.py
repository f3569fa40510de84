"""Password hashing, access JWTs, opaque tokens and HMAC signatures. All credential code
lives here so the libraries behind it (passlib, python-jose) can be swapped in one place."""

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from jose import JWTError, jwt
from passlib.context import CryptContext

from app.core.config import Settings, get_settings

JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
CLOCK_LEEWAY_SECONDS = 30
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_BYTES = 72  # bcrypt ignores everything past 72 bytes
# token_urlsafe(64) gives 86 characters of [A-Za-z0-9_-], inside RFC 7636's 43 to 128.
PKCE_VERIFIER_BYTES = 64


@lru_cache
def _password_context(rounds: int) -> CryptContext:
    return CryptContext(schemes=["bcrypt"], deprecated="auto", bcrypt__rounds=rounds)


def _passwords() -> CryptContext:
    return _password_context(get_settings().PASSWORD_HASH_ROUNDS)


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    token_id: str
    expires_at: datetime


def hash_password(password: str) -> str:
    return _passwords().hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    if hashed is None:
        # Still spend the hashing time, so timing does not reveal password-less accounts.
        _passwords().dummy_verify()
        return False
    return _passwords().verify(password, hashed)


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Opaque tokens carry 256 random bits, so a fast hash is enough to make a stolen
    # database useless for signing in; a slow password hash would add nothing.
    return hashlib.sha256(token.encode()).hexdigest()


def new_pkce_verifier() -> str:
    return secrets.token_urlsafe(PKCE_VERIFIER_BYTES)


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def create_access_token(
    settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> tuple[str, datetime]:
    expires_at = now + timedelta(seconds=settings.ACCESS_TOKEN_TTL_SECONDS)
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "type": ACCESS_TOKEN_TYPE,
    }
    kid = settings.jwt_active_key_id
    token = jwt.encode(
        claims, settings.jwt_keys[kid], algorithm=JWT_ALGORITHM, headers={"kid": kid}
    )
    return token, expires_at


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        key = settings.jwt_keys[jwt.get_unverified_header(token)["kid"]]
        claims = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            options={
                "require_sub": True,
                "require_exp": True,
                "require_iat": True,
                "require_jti": True,
                "require_iss": True,
                "require_aud": True,
                "leeway": CLOCK_LEEWAY_SECONDS,
            },
        )
        if claims.get("type") != ACCESS_TOKEN_TYPE:
            raise InvalidTokenError("not an access token")
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            session_id=uuid.UUID(claims["sid"]),
            token_id=claims["jti"],
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (JWTError, KeyError, ValueError, TypeError) as error:
        raise InvalidTokenError(str(error)) from error


def _derive_key(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose only, derived from SECRET_KEY, so that a signature made for
    one use (a storage link) can never pass for another."""
    secret = settings.SECRET_KEY.get_secret_value().encode()
    return hmac.new(secret, f"arvlite/{purpose}/v1".encode(), hashlib.sha256).digest()


def storage_link_key(settings: Settings) -> bytes:
    return _derive_key(settings, "storage-link")


def media_document_key(settings: Settings) -> bytes:
    """Signs links to playlists and tracks the API rewrites (`/api/v1/media/...`)."""
    return _derive_key(settings, "media-document")


class InvalidLinkError(Exception):
    """A signed link whose signature is missing or does not match what it claims to allow."""


class ExpiredLinkError(InvalidLinkError):
    """A genuine signed link, used after its expiry."""


def verify_link_signature(key: bytes, message: bytes, signature: str, expires: int) -> None:
    """Check a signed link: the signature first, so an altered expiry reads as forged."""
    if not hmac_verify(key, message, signature):
        raise InvalidLinkError("The link's signature does not match; ask for a new link.")
    if expires < time.time():
        raise ExpiredLinkError("This link has expired; ask for a new one.")


def device_hash(settings: Settings, device_id: str) -> str:
    """A viewer app's install id as analytics keep it: stable enough to count unique
    devices, useless for recognising the device anywhere else."""
    return hmac_sign(_derive_key(settings, "device-id"), device_id.encode())[:32]


def hmac_sign(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 of `message`, hex."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def hmac_verify(key: bytes, message: bytes, signature: str) -> bool:
    """Constant-time: how long a refusal takes reveals nothing about the right signature."""
    return secrets_equal(hmac_sign(key, message), signature)


def secrets_equal(expected: str, presented: str) -> bool:
    """Constant-time comparison of a secret we issued (ASCII) with one a client presented,
    which may be any text: anything but ASCII of the same length is simply unequal, never
    an error (`compare_digest` raises on non-ASCII `str`)."""
    if len(presented) != len(expected) or not presented.isascii():
        return False
    return hmac.compare_digest(expected.encode("ascii"), presented.encode("ascii"))


def unsubscribe_key(settings: Settings) -> bytes:
    """Signs one-click unsubscribe links in emails (they work without signing in)."""
    return _derive_key(settings, "unsubscribe")


def signed_assertion(claims: dict[str, Any], private_key_pem: str, key_id: str | None) -> str:
    """An RS256 JWT signed with a service account's key (the OAuth 2.0 JWT bearer grant
    that Google's token endpoint takes)."""
    headers = {"kid": key_id} if key_id else None
    signed: str = jwt.encode(claims, private_key_pem, algorithm="RS256", headers=headers)
    return signed
