"""Inputs no honest client sends, refused in the error envelope instead of reaching the
database or a comparison that cannot take them: NUL characters and lone surrogates in any
part of a request, and non-ASCII or malformed secrets (OAuth states, link signatures)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.security import hmac_sign, hmac_verify, secrets_equal
from app.core.storage.local import LocalStorage
from app.main import create_app
from tests.conftest import ClientFactory
from tests.support.api import assert_error
from tests.support.factories import Tenant, make_tenant
from tests.support.fake_yandex import CLIENT_ID, CLIENT_SECRET, FakeYandex

ME = "/api/v1/users/me"


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


def unstorable(response: httpx2.Response, loc: list[Any]) -> None:
    error = assert_error(response, 422, "validation_error")
    problem = error["details"][0]
    assert problem["type"] == "unstorable_text"
    assert problem["loc"] == loc


# -- NUL and lone surrogates, one rule for every part of a request -------------------------


def test_a_nul_in_a_body_is_refused(client: TestClient, tenant: Tenant) -> None:
    owner = tenant.headers[next(iter(tenant.headers))]
    response = client.patch(ME, json={"full_name": "Ivan\x00Petrov"}, headers=owner)
    unstorable(response, ["body"])
    assert "full_name" in response.json()["error"]["details"][0]["message"]


def test_a_nul_deep_in_a_nested_body_is_refused(client: TestClient, tenant: Tenant) -> None:
    owner = tenant.headers[next(iter(tenant.headers))]
    body = {"name": "Acme", "settings": {"branding": {"logo_url": "https://a.example/\x00"}}}
    response = client.post("/api/v1/companies", json=body, headers=owner)
    unstorable(response, ["body"])
    assert "settings.branding.logo_url" in response.json()["error"]["details"][0]["message"]


def test_a_lone_surrogate_in_a_body_is_refused(client: TestClient, tenant: Tenant) -> None:
    owner = tenant.headers[next(iter(tenant.headers))]
    raw = b'{"full_name": "Ivan \\ud800"}'  # valid JSON, but no character at all
    response = client.patch(ME, content=raw, headers={**owner, "Content-Type": "application/json"})
    unstorable(response, ["body"])
    assert "surrogate" in response.json()["error"]["details"][0]["message"]


def test_a_nul_in_a_form_is_refused(client: TestClient) -> None:
    form = {"username": "a\x00@example.com", "password": "whatever-password"}
    unstorable(client.post("/api/v1/auth/login/form", data=form), ["body"])


def test_a_nul_in_a_query_is_refused(client: TestClient, tenant: Tenant) -> None:
    owner = tenant.headers[next(iter(tenant.headers))]
    url = f"/api/v1/companies/{tenant.company.id}/audit-logs?entity_type=vid%00eo"
    unstorable(client.get(url, headers=owner), ["query", "entity_type"])


def test_a_nul_in_a_path_is_refused(client: TestClient) -> None:
    unstorable(client.get("/api/v1/media/companies/a%00b/master.m3u8"), ["path"])


def test_a_nul_in_a_header_is_refused(client: TestClient) -> None:
    # httpx refuses to send such a header, so the request goes to the app as ASGI.
    app = client.app
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": ME,
        "raw_path": ME.encode(),
        "query_string": b"",
        "headers": [(b"authorization", b"Bearer a\x00b")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    client.portal.call(app, scope, receive, send)  # type: ignore[union-attr]
    assert sent[0]["status"] == 422
    body = b"".join(message.get("body", b"") for message in sent[1:])
    problem = httpx2.Response(422, content=body).json()["error"]["details"][0]
    assert problem == {
        "loc": ["header", "authorization"],
        "message": "The value contains a NUL character.",
        "type": "unstorable_text",
    }


# -- secrets compared in constant time ---------------------------------------------------


@pytest.mark.parametrize(
    "presented",
    ["é" * 64, "a" * 65, "", "\x00" * 64, "\ud800" * 64],
    ids=["non-ascii", "too-long", "empty", "nul", "surrogate"],
)
def test_a_malformed_signature_is_simply_wrong(presented: str) -> None:
    key = b"k" * 32
    assert not hmac_verify(key, b"message", presented)
    assert not secrets_equal(hmac_sign(key, b"message"), presented)
    assert hmac_verify(key, b"message", hmac_sign(key, b"message"))


@pytest.fixture
def local_client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    local = settings.model_copy(
        update={
            "STORAGE_PROVIDER": "local",
            "STORAGE_LOCAL_ROOT": tmp_path / "storage",
            "API_PUBLIC_URL": "http://testserver",
        }
    )
    with TestClient(create_app(local), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("param", "value"),
    [("signature", "é" * 64), ("signature", "ф"), ("expires", "²"), ("expires", "٣٣٣")],
    ids=["signature-non-ascii", "signature-short-non-ascii", "superscript", "arabic-digits"],
)
def test_a_storage_link_with_a_non_ascii_part_is_invalid(
    local_client: TestClient, param: str, value: str
) -> None:
    storage: LocalStorage = local_client.app.state.storage  # type: ignore[attr-defined]
    writer = storage.open_writer("companies/a/files/1/original", "video/mp4")
    writer.write(b"data")
    writer.commit()
    url = httpx2.URL(storage.download_url("companies/a/files/1/original", 60))
    assert_error(local_client.get(url.copy_set_param(param, value)), 403, "link_invalid")


@pytest.mark.parametrize(
    ("param", "value"),
    [("signature", "é" * 64), ("expires", "²")],
    ids=["signature-non-ascii", "superscript"],
)
def test_a_media_link_with_a_non_ascii_part_is_invalid(
    client: TestClient, param: str, value: str
) -> None:
    query = {"expires": "9999999999", "signature": "0" * 64, param: value}
    response = client.get("/api/v1/media/companies/a/videos/b/master.m3u8", params=query)
    assert_error(response, 403, "link_invalid")


# -- the Yandex callback's state ---------------------------------------------------------


@pytest.fixture
def yandex_client(settings: Settings, client_for: ClientFactory) -> Iterator[TestClient]:
    fake = FakeYandex()
    fake.start()
    configured = settings.model_copy(
        update={
            "YANDEX_CLIENT_ID": CLIENT_ID,
            "YANDEX_CLIENT_SECRET": SecretStr(CLIENT_SECRET),
            "YANDEX_REDIRECT_URI": "http://testserver/api/v1/auth/yandex/callback",
            "YANDEX_AUTHORIZE_URL": f"{fake.base_url}/authorize",
            "YANDEX_TOKEN_URL": f"{fake.base_url}/token",
            "YANDEX_USERINFO_URL": f"{fake.base_url}/info",
            "COOKIE_SECURE": False,
        }
    )
    yield client_for(configured)
    fake.stop()


@pytest.mark.parametrize(
    ("code", "state"),
    [("%C2%93%C2%99%0F%C3%B5%F2%A3%AC%B4W%E8%8F%AF", "a%16%F1%BE%AD%9Bh"), ("abc", "%C3%A9" * 43)],
    ids=["as-reported", "non-ascii-state"],
)
def test_a_non_ascii_state_is_a_bad_sign_in_link(
    yandex_client: TestClient, code: str, state: str
) -> None:
    login = yandex_client.get("/api/v1/auth/yandex/login")
    issued = parse_qs(urlsplit(login.headers["location"]).query)["state"][0]
    assert yandex_client.cookies.get("arv_oauth_state") == issued
    response = yandex_client.get(f"/api/v1/auth/yandex/callback?code={code}&state={state}")
    assert_error(response, 400, "oauth_state_invalid")


def test_a_non_ascii_state_cookie_is_another_browser(yandex_client: TestClient) -> None:
    login = yandex_client.get("/api/v1/auth/yandex/login")
    state = parse_qs(urlsplit(login.headers["location"]).query)["state"][0]
    yandex_client.cookies.clear()
    cookie = b"arv_oauth_state=" + "é".encode() * (len(state) // 2)  # as many bytes
    response = yandex_client.get(
        f"/api/v1/auth/yandex/callback?code=abc&state={state}", headers={"Cookie": cookie}
    )
    error = assert_error(response, 400, "oauth_state_invalid")
    assert "another browser" in error["message"]
