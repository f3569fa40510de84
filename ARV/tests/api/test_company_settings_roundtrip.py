"""A value the API accepts is a value it can answer with again: company settings at the
edge of every constraint survive create, read and update unchanged."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.schemas.common import URL_MAX_LENGTH
from tests.support.api import assert_error
from tests.support.factories import auth_headers, make_user

COMPANIES = "/api/v1/companies"
LOGO_PREFIX = "https://cdn.example.com/logos/"


def maximal_settings(max_resolution: int) -> dict[str, Any]:
    return {
        "branding": {
            "logo_url": LOGO_PREFIX + "a" * (URL_MAX_LENGTH - len(LOGO_PREFIX)),
            "primary_color": "#FFFFFF",
            "accent_color": "#abcdef",
        },
        "video_defaults": {
            "max_resolution": max_resolution,
            "hls_enabled": False,
            "loop": False,
            "muted_autoplay": False,
        },
        "legal": {
            "legal_name": "Ж" * 300,
            "inn": "7707083893",
            "kpp": "7736AB001",
            "address": "Д" * 500,
            "email": "invoices@example.com",
        },
    }


@pytest.fixture
def headers(db: Session, settings: Settings) -> dict[str, str]:
    return auth_headers(db, settings, make_user(db))


@pytest.mark.parametrize("max_resolution", [360, 480, 720, 1080])
def test_maximal_settings_round_trip(
    client: TestClient, headers: dict[str, str], max_resolution: int
) -> None:
    settings = maximal_settings(max_resolution)
    assert len(settings["branding"]["logo_url"]) == URL_MAX_LENGTH
    assert (len(settings["legal"]["legal_name"]), len(settings["legal"]["address"])) == (300, 500)
    created = client.post(
        COMPANIES, json={"name": "N" * 200, "settings": settings}, headers=headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["settings"] == settings
    url = f"{COMPANIES}/{created.json()['id']}"

    read = client.get(url, headers=headers)
    assert read.status_code == 200, read.text
    assert (read.json()["name"], read.json()["settings"]) == ("N" * 200, settings)

    updated = client.patch(url, json={"settings": settings}, headers=headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["settings"] == settings


@pytest.mark.parametrize(
    "logo_url",
    [
        # Short as typed, far longer once the host is punycode and the path percent-encoded.
        "https://" + "é" * 60 + ".ru/" + "ж" * 500,
        LOGO_PREFIX + "a" * (URL_MAX_LENGTH - len(LOGO_PREFIX) + 1),
    ],
    ids=["grows-when-normalised", "one-too-long"],
)
def test_a_logo_url_too_long_to_answer_is_refused(
    client: TestClient, headers: dict[str, str], logo_url: str
) -> None:
    body = {"name": "Acme", "settings": {"branding": {"logo_url": logo_url}}}
    error = assert_error(
        client.post(COMPANIES, json=body, headers=headers), 422, "validation_error"
    )
    assert error["details"][0]["loc"] == ["body", "settings", "branding", "logo_url"]


def created_company_url(client: TestClient, headers: dict[str, str]) -> str:
    created = client.post(COMPANIES, json={"name": "Acme"}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["settings"]["legal"] == {
        "legal_name": None,
        "inn": None,
        "kpp": None,
        "address": None,
        "email": None,
    }
    return f"{COMPANIES}/{created.json()['id']}"


def test_an_entrepreneurs_legal_details_round_trip(
    client: TestClient, headers: dict[str, str]
) -> None:
    url = created_company_url(client, headers)
    legal = {
        "legal_name": "ИП Иванов Иван Иванович",
        "inn": "500100732259",
        "kpp": None,
        "address": "Москва, ул. Ленина, д. 1",
        "email": None,
    }
    updated = client.patch(url, json={"settings": {"legal": legal}}, headers=headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["settings"]["legal"] == legal
    assert client.get(url, headers=headers).json()["settings"]["legal"] == legal


@pytest.mark.parametrize(
    ("legal", "field"),
    [
        ({"inn": "7707083894"}, "inn"),
        ({"inn": "77070838931"}, "inn"),
        ({"inn": "500100732259", "kpp": "773601001"}, "kpp"),
        ({"kpp": "773601001"}, "kpp"),
        ({"inn": "7707083893", "kpp": "7736ab001"}, "kpp"),
        ({"legal_name": "Ж" * 301}, "legal_name"),
        ({"address": "Д" * 501}, "address"),
        ({"bank": "Сбербанк"}, "bank"),
    ],
    ids=[
        "inn-check-digit",
        "inn-11-digits",
        "kpp-with-an-entrepreneurs-inn",
        "kpp-without-inn",
        "kpp-lowercase",
        "name-too-long",
        "address-too-long",
        "unknown-field",
    ],
)
def test_wrong_legal_details_are_refused(
    client: TestClient, headers: dict[str, str], legal: dict[str, str], field: str
) -> None:
    url = created_company_url(client, headers)
    error = assert_error(
        client.patch(url, json={"settings": {"legal": legal}}, headers=headers),
        422,
        "validation_error",
    )
    assert [detail["loc"] for detail in error["details"]] == [["body", "settings", "legal", field]]
