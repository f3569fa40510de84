"""A stand-in for Yandex ID on loopback: the token and user-info endpoints, served by a real
HTTP server so the whole OAuth sign-in runs over the wire.

Codes are issued by the test for the PKCE challenge it read from the login redirect
(`issue_code(challenge)`); `/token` only accepts a code with the verifier that matches
that challenge. Every request is recorded for assertions.
"""

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback import JsonHandler, LoopbackServer

CLIENT_ID = "fake-yandex-client"
CLIENT_SECRET = "fake-yandex-secret"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    target: str  # the raw request target: path and query string
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    form: dict[str, str]


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def default_profile() -> dict[str, Any]:
    return {
        "id": "1130000012345678",
        "login": "ivan.petrov",
        "default_email": "ivan.petrov@yandex.ru",
        "emails": ["ivan.petrov@yandex.ru"],
        "real_name": "Ivan Petrov",
        "display_name": "ivan.petrov",
        "psuid": "1.AAA",
    }


@dataclass
class FakeYandex(LoopbackServer):
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    # The user-info answer; `client_id` is added unless set here. None values are left out.
    profile: dict[str, Any] = field(default_factory=default_profile)
    # Answer /token with this status (400: invalid_grant, 500: a server error) instead.
    token_failure: int | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    _challenges: dict[str, str] = field(default_factory=dict)
    _tokens: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return self.origin

    def issue_code(self, code_challenge: str) -> str:
        """An authorization code, as Yandex would issue for a consent with this challenge."""
        code = secrets.token_hex(8)
        with self._lock:
            self._challenges[code] = code_challenge
        return code

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    @property
    def issued_tokens(self) -> set[str]:
        with self._lock:
            return set(self._tokens)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- endpoints: (status, JSON body) ------------------------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self.token_failure is not None:
            return self.token_failure, _token_failure_body(self.token_failure)
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return 400, {"error": "invalid_client", "error_description": "Client not found"}
        with self._lock:
            challenge = self._challenges.pop(form.get("code", ""), None)
            if challenge is None or s256(form.get("code_verifier", "")) != challenge:
                return 400, {"error": "invalid_grant", "error_description": "Code is invalid"}
            access_token = f"y0_{secrets.token_urlsafe(24)}"
            self._tokens.add(access_token)
        return 200, {"access_token": access_token, "token_type": "bearer", "expires_in": 3600}

    def info(self, query: dict[str, list[str]], authorization: str) -> tuple[int, dict[str, Any]]:
        if query.get("format") != ["json"]:
            return 400, {"error": "format=json is required"}
        if any(key in query for key in ("oauth_token", "access_token")):
            return 400, {"error": "the token belongs in the Authorization header"}
        scheme, _, token = authorization.partition(" ")
        if scheme != "OAuth" or token not in self.issued_tokens:
            return 401, {"error": "invalid token"}
        body = {"client_id": self.client_id, **self.profile}
        return 200, {key: value for key, value in body.items() if value is not None}

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(request)
        if (request.method, request.path) == ("POST", "/token"):
            return self.token(request.form)
        if (request.method, request.path) == ("GET", "/info"):
            return self.info(request.query, request.headers.get("authorization", ""))
        return 404, {"error": "not found"}


def _token_failure_body(status: int) -> dict[str, Any]:
    if status < 500:
        return {"error": "invalid_grant", "error_description": "Code has expired"}
    return {"error": "server_error"}


def _handler_for(fake: FakeYandex) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def answer(self) -> tuple[int, dict[str, Any]]:
            url = urlsplit(self.path)
            form = parse_qs(self.read_body().decode())
            return fake.handle(
                RecordedRequest(
                    method=self.command,
                    target=self.path,
                    path=url.path,
                    query=parse_qs(url.query),
                    headers=self.lowered_headers(),
                    form={key: values[0] for key, values in form.items()},
                )
            )

    return Handler
