"""A stand-in for a browser's push service (RFC 8030) on loopback, served by a real HTTP
server, and the browser's side of each subscription, so Web Push code encrypts, signs and
sends over the wire.

`subscribe()` does what a browser does on `PushManager.subscribe()`: a fresh P-256 key pair
and 16-byte auth secret, and an endpoint at this service. `POST /push/{id}` checks the
VAPID `Authorization: vapid t=..., k=...` header (an ES256 JWT whose `aud` is this origin,
RFC 8292), the TTL header and the `aes128gcm` encoding, then decrypts the body with the
subscription's private key (RFC 8291) and records the JSON it holds. Tests steer it with
`expire(endpoint)` (410 from then on), `fail_next(count, status)`; an endpoint it never
issued answers 404.
"""

import base64
import json
import os
import re
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import http_ece
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import JWTError, jwt

from tests.support.loopback import LoopbackHandler, LoopbackServer

# RFC 8030 section 7.2: push services must accept at least 4096 bytes of payload.
MAX_PAYLOAD_BYTES = 4096
# RFC 8292 section 2: a VAPID token may not be valid for more than 24 hours.
MAX_VAPID_LIFETIME_SECONDS = 24 * 3600

_PUSH_PATH = re.compile(r"^/push/([A-Za-z0-9_\-]+)$")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair as `web-push generate-vapid-keys` prints it: the private key's
    raw 32 bytes and the public key's uncompressed point, both unpadded base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big")), b64url(
        public_point(key)
    )


@dataclass
class Subscription:
    """One browser's subscription: what only the browser knows, and what arrived."""

    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    application_server_key: str | None
    expired: bool = False
    received: list[Any] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """The `PushSubscription.toJSON()` a browser hands the application."""
        return {
            "endpoint": self.endpoint,
            "keys": {
                "p256dh": b64url(public_point(self.private_key)),
                "auth": b64url(self.auth_secret),
            },
        }


@dataclass(frozen=True)
class Delivery:
    """A push the service accepted: its headers, verified VAPID claims and the payload."""

    subscription_id: str
    headers: dict[str, str]  # names lower-cased
    vapid_claims: dict[str, Any]
    vapid_key: str
    payload: Any


class _RefusedError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class FakePushService(LoopbackServer):
    deliveries: list[Delivery] = field(default_factory=list)
    _subscriptions: dict[str, Subscription] = field(default_factory=dict)
    _failures: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- control, for tests ---------------------------------------------------------------

    def subscribe(self, application_server_key: str | None = None) -> dict[str, Any]:
        """A browser subscribes; with `application_server_key` (the VAPID public key, as
        browsers require), pushes signed by any other key are refused with 403."""
        subscription_id = secrets.token_urlsafe(16)
        subscription = Subscription(
            id=subscription_id,
            endpoint=f"{self.origin}/push/{subscription_id}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
            application_server_key=application_server_key,
        )
        with self._lock:
            self._subscriptions[subscription_id] = subscription
        return subscription.info()

    def received(self, endpoint: str) -> list[Any]:
        """The decrypted payloads delivered to this subscription, in order."""
        with self._lock:
            return list(self._subscription(endpoint).received)

    def expire(self, endpoint: str) -> None:
        """The user unsubscribed (or the browser let it lapse): 410 Gone from now on."""
        with self._lock:
            self._subscription(endpoint).expired = True

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """Answer the next `count` pushes with `status` (429, 500, 503, 413...)."""
        with self._lock:
            self._failures.extend([status] * count)

    def _subscription(self, endpoint: str) -> Subscription:
        return self._subscriptions[urlsplit(endpoint).path.rsplit("/", 1)[-1]]

    # -- the endpoint ---------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        try:
            match = _PUSH_PATH.match(path)
            if method != "POST" or not match:
                raise _RefusedError(404, "no such endpoint")
            return self._push(match.group(1), headers, body)
        except _RefusedError as refused:
            return refused.status

    def _push(self, subscription_id: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            subscription = self._subscriptions.get(subscription_id)
            if subscription is None:
                raise _RefusedError(404, "no such subscription")
            if subscription.expired:
                raise _RefusedError(410, "subscription expired")
            if self._failures:
                raise _RefusedError(self._failures.pop(0), "failing on request")
        claims, key = self._verified_vapid(headers.get("authorization", ""))
        if subscription.application_server_key not in (None, key):
            raise _RefusedError(403, "VAPID key differs from the subscription's")
        if not headers.get("ttl", "").isdigit():
            raise _RefusedError(400, "TTL header missing")
        if headers.get("content-encoding") != "aes128gcm":
            raise _RefusedError(415, "Content-Encoding must be aes128gcm")
        if len(body) > MAX_PAYLOAD_BYTES:
            raise _RefusedError(413, "payload too large")
        payload = self._decrypted(subscription, body)
        with self._lock:
            subscription.received.append(payload)
            self.deliveries.append(Delivery(subscription_id, headers, claims, key, payload))
        return 201

    def _verified_vapid(self, authorization: str) -> tuple[dict[str, Any], str]:
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise _RefusedError(401, "VAPID authorization required")
        fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        token, key = fields.get("t", ""), fields.get("k", "")
        try:
            point = b64url_decode(key)
            if len(point) != 65 or point[0] != 4:
                raise ValueError("not an uncompressed P-256 point")
            jwk = {"kty": "EC", "crv": "P-256", "x": b64url(point[1:33]), "y": b64url(point[33:])}
            claims: dict[str, Any] = jwt.decode(
                token,
                jwk,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require_exp": True, "require_aud": True},
            )
        except (JWTError, ValueError) as error:
            raise _RefusedError(401, f"VAPID token invalid: {error}") from error
        if int(claims["exp"]) > time.time() + MAX_VAPID_LIFETIME_SECONDS:
            raise _RefusedError(401, "VAPID token valid for more than 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
            raise _RefusedError(401, "VAPID sub must be a mailto: or https: URL")
        return claims, key

    def _decrypted(self, subscription: Subscription, body: bytes) -> Any:
        try:
            plain = http_ece.decrypt(
                body,
                private_key=subscription.private_key,
                auth_secret=subscription.auth_secret,
                version="aes128gcm",
            )
            return json.loads(plain)
        except (http_ece.ECEException, InvalidTag, ValueError, struct.error) as error:
            raise _RefusedError(400, f"cannot decrypt: {error!r}") from error


def _handler_for(fake: FakePushService) -> type[BaseHTTPRequestHandler]:
    class Handler(LoopbackHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's handler name
            status = fake.handle(
                self.command, urlsplit(self.path).path, self.lowered_headers(), self.read_body()
            )
            self.send_response(status)
            if status == 201:
                self.send_header("Location", f"{fake.origin}/message/{secrets.token_urlsafe(8)}")
            if status == 429:
                self.send_header("Retry-After", "60")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
