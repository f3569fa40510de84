"""Push to devices: FCM HTTP v1 for the Android and iOS apps, Web Push (VAPID, aes128gcm)
for browsers.

A provider sends one message to one device and says what the caller should do next: keep
the device (SENT), remove it (GONE), try again later (RETRY), or give this message up
(FAILED). Providers keep no database state and are safe to share between threads; they
are cheap to build, so a task may build them for each message: FCM access tokens are cached
for the whole process, per service account, not per provider."""

import base64
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Self

import httpx
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from app.core.config import Settings
from app.core.security import signed_assertion
from app.models.notification import PushDevice, PushPlatform

logger = logging.getLogger(__name__)

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Google accepts assertions valid for at most an hour.
ASSERTION_LIFETIME_SECONDS = 3600
# Renew the access token this long before it expires, so a send never races its expiry.
TOKEN_RENEW_MARGIN_SECONDS = 300
# How long a push service keeps a message for a browser that is offline.
WEBPUSH_TTL_SECONDS = 86400


@dataclass(frozen=True, slots=True)
class PushMessage:
    title: str
    body: str
    link: str | None
    data: dict[str, str]  # small structured payload (type, ids)


class PushOutcome(StrEnum):
    SENT = "sent"
    GONE = "gone"  # the token or subscription is invalid or expired: remove the device
    RETRY = "retry"  # transient (429, 5xx, timeout, connection refused): try again later
    FAILED = "failed"  # permanent for this message, device kept (e.g. payload too big)


@dataclass(frozen=True, slots=True)
class PushResult:
    outcome: PushOutcome
    reason: str | None = None  # short, no secrets


class PushProvider(ABC):
    platforms: ClassVar[frozenset[PushPlatform]]

    @abstractmethod
    def send(self, device: PushDevice, message: PushMessage) -> PushResult: ...


# -- FCM HTTP v1 ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The parts of a Google service-account JSON key that sign in to FCM."""

    client_email: str
    private_key: str  # PEM
    private_key_id: str | None
    token_uri: str

    @property
    def cache_key(self) -> tuple[str, str, str | None]:
        return (self.token_uri, self.client_email, self.private_key_id)

    @classmethod
    def from_file(cls, path: Path) -> Self:
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            account = cls(
                client_email=str(info["client_email"]),
                private_key=str(info["private_key"]),
                private_key_id=info.get("private_key_id"),
                token_uri=str(info["token_uri"]),
            )
            key = serialization.load_pem_private_key(account.private_key.encode(), None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise TypeError("not an RSA key")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(
                f"FCM_SERVICE_ACCOUNT_FILE {path} is not a readable service-account key"
            ) from error
        return account


@dataclass(frozen=True, slots=True)
class _AccessToken:
    value: str
    renew_at: float  # time.monotonic()


class _TokenUnavailableError(Exception):
    """No access token could be had; the message says why, without secrets."""


# Access tokens by ServiceAccount.cache_key, for every FcmProvider in the process. The lock
# is held while fetching, so concurrent senders wait for one fetch instead of each making one.
_tokens: dict[tuple[str, str, str | None], _AccessToken] = {}
_tokens_lock = threading.Lock()


class FcmProvider(PushProvider):
    """FCM HTTP v1, signed in as a service account by the OAuth2 JWT bearer grant."""

    platforms = frozenset({PushPlatform.ANDROID, PushPlatform.IOS})

    def __init__(self, settings: Settings) -> None:
        if not (settings.FCM_PROJECT_ID and settings.FCM_SERVICE_ACCOUNT_FILE):
            raise ValueError("FCM needs FCM_PROJECT_ID and FCM_SERVICE_ACCOUNT_FILE")
        self._account = ServiceAccount.from_file(settings.FCM_SERVICE_ACCOUNT_FILE)
        base = settings.FCM_API_URL.rstrip("/")
        self._send_url = f"{base}/v1/projects/{settings.FCM_PROJECT_ID}/messages:send"
        self._timeout = settings.PUSH_TIMEOUT_SECONDS

    def send(self, device: PushDevice, message: PushMessage) -> PushResult:
        body = fcm_message(device.token, message)
        try:
            token = self._access_token()
            response = self._post(body, token)
            if response.status_code == httpx.codes.UNAUTHORIZED:
                # Revoked or expired early: one more try with a fresh token.
                self._forget(token)
                response = self._post(body, self._access_token())
        except _TokenUnavailableError as error:
            return PushResult(PushOutcome.RETRY, str(error))
        except httpx.HTTPError as error:
            return PushResult(PushOutcome.RETRY, f"fcm {type(error).__name__}")
        return fcm_outcome(response)

    def _post(self, body: dict[str, Any], token: str) -> httpx.Response:
        return httpx.post(
            self._send_url,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=self._timeout,
        )

    def _access_token(self) -> str:
        key = self._account.cache_key
        with _tokens_lock:
            token = _tokens.get(key)
            if token is None or time.monotonic() >= token.renew_at:
                token = _tokens[key] = self._fetch_token()
            return token.value

    def _forget(self, token: str) -> None:
        key = self._account.cache_key
        with _tokens_lock:
            cached = _tokens.get(key)
            # Another thread may have renewed it already; keep that one.
            if cached is not None and cached.value == token:
                del _tokens[key]

    def _fetch_token(self) -> _AccessToken:
        started = time.monotonic()
        try:
            response = httpx.post(
                self._account.token_uri,
                data={"grant_type": JWT_BEARER_GRANT, "assertion": self._assertion()},
                timeout=self._timeout,
            )
        except httpx.HTTPError as error:
            raise _TokenUnavailableError(f"fcm oauth {type(error).__name__}") from error
        if response.status_code != httpx.codes.OK:
            # A refused key is a configuration problem, not the message's: the caller retries
            # (and dead-letters in the end) rather than losing messages while it is fixed.
            logger.error("FCM OAuth token request refused with HTTP %s", response.status_code)
            raise _TokenUnavailableError(f"fcm oauth {response.status_code}")
        try:
            answer = response.json()
            value = str(answer["access_token"])
            lifetime = int(answer.get("expires_in", ASSERTION_LIFETIME_SECONDS))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise _TokenUnavailableError("fcm oauth answer malformed") from error
        return _AccessToken(value, started + max(lifetime - TOKEN_RENEW_MARGIN_SECONDS, 0))

    def _assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self._account.client_email,
            "scope": FCM_SCOPE,
            "aud": self._account.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        }
        return signed_assertion(claims, self._account.private_key, self._account.private_key_id)


def fcm_message(token: str, message: PushMessage) -> dict[str, Any]:
    data = dict(message.data)
    if message.link:
        data["link"] = message.link
    return {
        "message": {
            "token": token,
            "notification": {"title": message.title, "body": message.body},
            "data": data,
        }
    }


def fcm_outcome(response: httpx.Response) -> PushResult:
    status = response.status_code
    if status == httpx.codes.OK:
        return PushResult(PushOutcome.SENT)
    error = _google_error(response)
    code = _fcm_error_code(error) or str(error.get("status") or "")
    reason = f"fcm {status} {code}".strip()
    if _token_is_gone(status, code, error):
        return PushResult(PushOutcome.GONE, reason)
    if status in (httpx.codes.UNAUTHORIZED, httpx.codes.TOO_MANY_REQUESTS) or status >= 500:
        return PushResult(PushOutcome.RETRY, reason)
    return PushResult(PushOutcome.FAILED, reason)


def _token_is_gone(status: int, code: str, error: dict[str, Any]) -> bool:
    if code in ("UNREGISTERED", "SENDER_ID_MISMATCH"):
        return True
    if status != httpx.codes.BAD_REQUEST or code != "INVALID_ARGUMENT":
        return False
    # INVALID_ARGUMENT also covers a bad payload; only a bad token means the device is gone.
    fields = {
        violation.get("field")
        for detail in _details(error)
        for violation in detail.get("fieldViolations") or []
        if isinstance(violation, dict)
    }
    return "message.token" in fields or "registration token" in str(error.get("message")).lower()


def _google_error(response: httpx.Response) -> dict[str, Any]:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _details(error: dict[str, Any]) -> list[dict[str, Any]]:
    details = error.get("details")
    if not isinstance(details, list):
        return []
    return [detail for detail in details if isinstance(detail, dict)]


def _fcm_error_code(error: dict[str, Any]) -> str | None:
    for detail in _details(error):
        if str(detail.get("@type", "")).endswith("google.firebase.fcm.v1.FcmError"):
            return str(detail.get("errorCode") or "") or None
    return None


# -- Web Push ---------------------------------------------------------------------------------


class WebPushProvider(PushProvider):
    """Web Push (RFC 8030) with aes128gcm payloads (RFC 8291) and VAPID (RFC 8292).

    WEBPUSH_VAPID_PRIVATE_KEY is the P-256 private key either as its raw 32 bytes in
    unpadded base64url (what `web-push generate-vapid-keys` prints as the private key) or
    as PEM (PKCS#8 or SEC1 "EC PRIVATE KEY"). WEBPUSH_VAPID_PUBLIC_KEY is the matching
    public key as the 65-byte uncompressed point in base64url, the `applicationServerKey`
    browsers subscribe with; it is checked against the private key here, because a
    mismatch makes every push service refuse every message."""

    platforms = frozenset({PushPlatform.WEB})

    def __init__(self, settings: Settings) -> None:
        private_key = settings.WEBPUSH_VAPID_PRIVATE_KEY
        subject = settings.WEBPUSH_SUBJECT
        if private_key is None or not subject or not settings.WEBPUSH_VAPID_PUBLIC_KEY:
            raise ValueError(
                "Web Push needs WEBPUSH_VAPID_PRIVATE_KEY, WEBPUSH_VAPID_PUBLIC_KEY and "
                "WEBPUSH_SUBJECT"
            )
        if not subject.startswith(("mailto:", "https://")):
            raise ValueError("WEBPUSH_SUBJECT must be a mailto: or https: URL")
        key = vapid_private_key(private_key.get_secret_value())
        if vapid_public_key(key) != settings.WEBPUSH_VAPID_PUBLIC_KEY.strip().rstrip("="):
            raise ValueError("WEBPUSH_VAPID_PUBLIC_KEY does not match WEBPUSH_VAPID_PRIVATE_KEY")
        self._vapid = Vapid(private_key=key)
        self._subject = subject
        self._timeout = settings.PUSH_TIMEOUT_SECONDS

    def send(self, device: PushDevice, message: PushMessage) -> PushResult:
        keys = device.keys or {}
        if not (keys.get("p256dh") and keys.get("auth")):
            return PushResult(PushOutcome.GONE, "webpush subscription has no keys")
        payload = {
            "title": message.title,
            "body": message.body,
            "link": message.link,
            "data": message.data,
        }
        try:
            webpush(
                subscription_info={
                    "endpoint": device.token,
                    "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]},
                },
                data=json.dumps(payload, separators=(",", ":")),
                vapid_private_key=self._vapid,
                # A new dict each time: webpush() writes `aud` and `exp` into it.
                vapid_claims={"sub": self._subject},
                content_encoding="aes128gcm",
                ttl=WEBPUSH_TTL_SECONDS,
                timeout=self._timeout,
            )
        except WebPushException as error:
            return webpush_outcome(error.response)
        except requests.RequestException as error:
            return PushResult(PushOutcome.RETRY, f"webpush {type(error).__name__}")
        except ValueError:
            # The subscription's p256dh is not a P-256 point (or not base64url).
            return PushResult(PushOutcome.GONE, "webpush subscription keys invalid")
        return PushResult(PushOutcome.SENT)


def webpush_outcome(response: requests.Response | None) -> PushResult:
    if response is None:
        # pywebpush refused the subscription itself (a missing or malformed key).
        return PushResult(PushOutcome.GONE, "webpush subscription invalid")
    status = response.status_code
    reason = f"webpush {status}"
    if status in (404, 410):
        return PushResult(PushOutcome.GONE, reason)
    if status == 429 or status >= 500:
        return PushResult(PushOutcome.RETRY, reason)
    return PushResult(PushOutcome.FAILED, reason)


def vapid_private_key(value: str) -> ec.EllipticCurvePrivateKey:
    """WEBPUSH_VAPID_PRIVATE_KEY as a key: PEM, or the raw private number in base64url."""
    text = value.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            if len(raw) != 32:
                raise ValueError("not 32 bytes")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError as error:
        # The message leaves the key out: it is a secret.
        raise ValueError("WEBPUSH_VAPID_PRIVATE_KEY is not a readable P-256 key") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("WEBPUSH_VAPID_PRIVATE_KEY must be a P-256 (prime256v1) key")
    return key


def vapid_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The application server key browsers subscribe with: unpadded base64url."""
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode("ascii")


# -- configuration ----------------------------------------------------------------------------


def providers(settings: Settings) -> list[PushProvider]:
    """The providers this installation has configured (none when neither is set).

    A provider configured halfway raises ValueError: pushes silently going nowhere would
    be found much later than a worker that refuses to start."""
    configured: list[PushProvider] = []
    if settings.FCM_PROJECT_ID or settings.FCM_SERVICE_ACCOUNT_FILE:
        configured.append(FcmProvider(settings))
    if (
        settings.WEBPUSH_VAPID_PRIVATE_KEY
        or settings.WEBPUSH_VAPID_PUBLIC_KEY
        or settings.WEBPUSH_SUBJECT
    ):
        configured.append(WebPushProvider(settings))
    return configured
