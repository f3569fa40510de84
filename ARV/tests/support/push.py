"""Fake FCM and Web Push services on loopback, and settings that aim the real push
providers at them (FCM by service account, Web Push by a fresh VAPID key pair)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.core.config import Settings
from tests.support.fake_fcm import FakeFcm
from tests.support.fake_webpush import FakePushService, vapid_keys

SUBJECT = "mailto:push@arvlite.example"


@pytest.fixture
def fcm() -> Iterator[FakeFcm]:
    with FakeFcm() as fake:
        yield fake


@pytest.fixture
def fcm_settings(settings: Settings, fcm: FakeFcm, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "FCM_API_URL": fcm.origin,
            "FCM_PROJECT_ID": fcm.project_id,
            "FCM_SERVICE_ACCOUNT_FILE": fcm.service_account(tmp_path / "service-account.json"),
        }
    )


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    with FakePushService() as fake:
        yield fake


@pytest.fixture
def vapid() -> tuple[str, str]:
    """A VAPID key pair: (private, public)."""
    return vapid_keys()


@pytest.fixture
def webpush_settings(settings: Settings, vapid: tuple[str, str]) -> Settings:
    private_key, public_key = vapid
    return settings.model_copy(
        update={
            "WEBPUSH_VAPID_PRIVATE_KEY": SecretStr(private_key),
            "WEBPUSH_VAPID_PUBLIC_KEY": public_key,
            "WEBPUSH_SUBJECT": SUBJECT,
            # The fake push service is on loopback (devices registered through the API are
            # checked against these hosts; the providers themselves do not look).
            "WEBPUSH_ENDPOINT_HOSTS": ["127.0.0.1"],
        }
    )
