"""A stand-in for Firebase Cloud Messaging (HTTP v1) and Google's OAuth2 token endpoint on
loopback, served by a real HTTP server so push code signs in and sends over the wire.

`service_account(path)` writes a service-account key (a fresh RSA key, `token_uri` at this
fake); `POST /token` accepts only a JWT bearer assertion signed with that key for the FCM
scope and answers an access token; `POST /v1/projects/{project}/messages:send` needs one of
those tokens, checks the message as FCM does and records it. Tests steer it with
`unregistered(token)`, `fail_next(count, status)`, `revoke_access_tokens()` and
`delay_next(seconds)`. Errors use Google's JSON error bodies.
"""

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import JWTError, jwt

from tests.support.loopback import JsonHandler, LoopbackServer

PROJECT_ID = "arvlite-fake"
CLIENT_EMAIL = f"push-sender@{PROJECT_ID}.iam.gserviceaccount.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# FCM's limit on a message's payload (data keys and values, notification text).
MAX_PAYLOAD_BYTES = 4096

_SEND_PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_:\-]+$")
_RESERVED_DATA_KEYS = ("from", "gcm", "message_type", "notification")
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_FCM_CODES = {429: "QUOTA_EXCEEDED", 500: "INTERNAL", 503: "UNAVAILABLE"}

Response = tuple[int, dict[str, Any]]


class _RefusedError(Exception):
    def __init__(self, status: int, response: dict[str, Any]) -> None:
        super().__init__(status)
        self.response: Response = (status, response)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class FakeFcm(LoopbackServer):
    """FCM and its token endpoint; `origin` is the API base, as FCM_API_URL is configured with."""

    project_id: str = PROJECT_ID
    client_email: str = CLIENT_EMAIL
    requests: list[RecordedRequest] = field(default_factory=list)
    # The claims of every assertion exchanged for an access token.
    token_grants: list[dict[str, Any]] = field(default_factory=list)
    # The `message` objects FCM accepted, in order.
    messages: list[dict[str, Any]] = field(default_factory=list)
    _key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    _key_id: str = field(default_factory=lambda: secrets.token_hex(20))
    _access_tokens: set[str] = field(default_factory=set)
    _unregistered: set[str] = field(default_factory=set)
    _failures: list[int] = field(default_factory=list)
    _delays: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_uri(self) -> str:
        return f"{self.origin}/token"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- control, for tests ---------------------------------------------------------------

    def service_account(self, path: Path) -> Path:
        """Write the service-account key JSON, as the Firebase console downloads it."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        info = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self._key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
        }
        path.write_text(json.dumps(info, indent=2), encoding="utf-8")
        return path

    def unregistered(self, token: str) -> None:
        """The app was uninstalled: FCM answers 404 UNREGISTERED for this token from now on."""
        with self._lock:
            self._unregistered.add(token)

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """Answer the next `count` sends with `status` (503, 500, 429...)."""
        with self._lock:
            self._failures.extend([status] * count)

    def delay_next(self, seconds: float) -> None:
        """Hold the next send this long before answering it."""
        with self._lock:
            self._delays.append(seconds)

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far is refused (401) from now on."""
        with self._lock:
            self._access_tokens.clear()

    def sent_to(self, token: str) -> list[dict[str, Any]]:
        with self._lock:
            return [message for message in self.messages if message.get("token") == token]

    # -- endpoints ------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Response:
        with self._lock:
            self.requests.append(request)
            delay = self._delays.pop(0) if request.path != "/token" and self._delays else 0.0
        if delay:
            time.sleep(delay)
        try:
            if (request.method, request.path) == ("POST", "/token"):
                return self._token(request)
            match = _SEND_PATH.match(request.path)
            if request.method == "POST" and match:
                return self._send(match.group(1), request)
            raise _RefusedError(404, _google_error(404, f"No {request.method} {request.path}"))
        except _RefusedError as refused:
            return refused.response

    def _token(self, request: RecordedRequest) -> Response:
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != JWT_BEARER_GRANT:
            raise _RefusedError(400, {"error": "unsupported_grant_type"})
        claims = self._verified_assertion(form.get("assertion", ""))
        access_token = f"ya29.fake-{secrets.token_urlsafe(32)}"
        with self._lock:
            self.token_grants.append(claims)
            self._access_tokens.add(access_token)
        return 200, {"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"}

    def _verified_assertion(self, assertion: str) -> dict[str, Any]:
        def invalid(description: str) -> _RefusedError:
            return _RefusedError(400, {"error": "invalid_grant", "error_description": description})

        public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        try:
            header = jwt.get_unverified_header(assertion)
            claims: dict[str, Any] = jwt.decode(
                assertion,
                public_pem.decode("ascii"),
                algorithms=["RS256"],
                audience=self.token_uri,
                options={"require_iat": True, "require_exp": True, "require_aud": True},
            )
        except JWTError as error:
            raise invalid(f"Invalid JWT: {error}") from error
        if header.get("kid") not in (None, self._key_id):
            raise invalid("Invalid JWT Signature.")
        if claims.get("iss") != self.client_email:
            raise invalid("Invalid issuer: unknown service account.")
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            raise invalid("Invalid OAuth scope or ID token audience provided.")
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            raise invalid("Invalid JWT: Token must be a short-lived token (60 minutes)")
        return claims

    def _send(self, project: str, request: RecordedRequest) -> Response:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            tokens = set(self._access_tokens)
        if failure is not None:
            raise _RefusedError(failure, _fcm_error(failure, _FCM_CODES.get(failure), "Failure"))
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in tokens:
            raise _RefusedError(
                401,
                _google_error(401, "Request had invalid authentication credentials."),
            )
        if project != self.project_id:
            raise _RefusedError(
                403,
                _google_error(403, f"Permission denied on resource project {project}."),
            )
        message = _checked_message(request.body)
        with self._lock:
            if message["token"] in self._unregistered:
                raise _RefusedError(
                    404, _fcm_error(404, "UNREGISTERED", "Requested entity was not found.")
                )
            self.messages.append(message)
        return 200, {"name": f"projects/{project}/messages/0:{secrets.token_hex(8)}"}


def _checked_message(raw: bytes) -> dict[str, Any]:
    """The request's `message`, refused as FCM would if its shape is wrong."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise _RefusedError(400, _google_error(400, "Invalid JSON payload received.")) from None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, dict):
        raise _bad_field("message", "Required field 'message' is missing")
    token = message.get("token")
    if not isinstance(token, str) or not _TOKEN_CHARS.match(token):
        raise _RefusedError(
            400,
            _fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
            ),
        )
    notification = message.get("notification", {})
    if not isinstance(notification, dict) or any(
        not isinstance(notification.get(key, ""), str) for key in ("title", "body")
    ):
        raise _bad_field("message.notification", "Invalid notification")
    data = message.get("data", {})
    if not isinstance(data, dict):
        raise _bad_field("message.data", "Invalid value at 'message.data'")
    for index, (key, value) in enumerate(data.items()):
        if not isinstance(value, str):
            raise _bad_field(
                f"message.data[{index}].value",
                f"Invalid value at 'message.data[{index}].value' (TYPE_STRING), {value}",
            )
        if key in _RESERVED_DATA_KEYS or key.startswith("google"):
            raise _bad_field(f"message.data[{index}].key", f"Invalid data key: {key}")
    size = sum(len(key.encode()) + len(value.encode()) for key, value in data.items()) + sum(
        len(str(value).encode()) for value in notification.values()
    )
    if size > MAX_PAYLOAD_BYTES:
        raise _RefusedError(400, _fcm_error(400, "INVALID_ARGUMENT", "Message is too big"))
    return message


def _google_error(status: int, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }


def _fcm_error(status: int, code: str | None, message: str) -> dict[str, Any]:
    body = _google_error(status, message)
    if code:
        body["error"]["details"] = [{"@type": _FCM_ERROR, "errorCode": code}]
    return body


def _bad_field(name: str, description: str) -> _RefusedError:
    body = _google_error(400, description)
    body["error"]["details"] = [
        {"@type": _BAD_REQUEST, "fieldViolations": [{"field": name, "description": description}]}
    ]
    return _RefusedError(400, body)


def _handler_for(fake: FakeFcm) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        content_type = "application/json; charset=UTF-8"

        def answer(self) -> Response:
            return fake.handle(
                RecordedRequest(
                    method=self.command,
                    path=urlsplit(self.path).path,
                    headers=self.lowered_headers(),
                    body=self.read_body(),
                )
            )

    return Handler
