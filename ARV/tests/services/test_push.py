"""The push providers against fake FCM and Web Push services speaking the real protocols over
loopback: what each provider sends, and how each answer maps to an outcome."""

import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from app.core.config import Settings
from app.models.notification import PushDevice, PushPlatform
from app.services.push import (
    FCM_SCOPE,
    FcmProvider,
    PushMessage,
    PushOutcome,
    WebPushProvider,
    providers,
    vapid_private_key,
)
from tests.support.fake_fcm import FakeFcm
from tests.support.fake_webpush import FakePushService, b64url_decode, vapid_keys
from tests.support.push import SUBJECT

MESSAGE = PushMessage(
    title="Vidéo ready",
    body="Spring promo is processed and published.",
    link="https://app.arvlite.example/videos/42",
    data={"type": "video_ready", "video_id": "42"},
)
FCM_TOKEN = "fcm-token-1:APA91bHPRgkF"


def android(token: str = FCM_TOKEN) -> PushDevice:
    return PushDevice(user_id=uuid.uuid4(), platform=PushPlatform.ANDROID, token=token)


def browser(subscription: dict[str, Any]) -> PushDevice:
    return PushDevice(
        user_id=uuid.uuid4(),
        platform=PushPlatform.WEB,
        token=subscription["endpoint"],
        keys=subscription["keys"],
    )


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- FCM --------------------------------------------------------------------------------------


def test_fcm_delivers_the_message(fcm: FakeFcm, fcm_settings: Settings) -> None:
    result = FcmProvider(fcm_settings).send(android(), MESSAGE)

    assert result.outcome is PushOutcome.SENT
    assert fcm.sent_to(FCM_TOKEN) == [
        {
            "token": FCM_TOKEN,
            "notification": {"title": MESSAGE.title, "body": MESSAGE.body},
            "data": {"type": "video_ready", "video_id": "42", "link": MESSAGE.link},
        }
    ]


def test_fcm_signs_in_once_and_reuses_the_token(fcm: FakeFcm, fcm_settings: Settings) -> None:
    provider = FcmProvider(fcm_settings)

    first = provider.send(android("device-a"), MESSAGE)
    second = provider.send(android("device-b"), MESSAGE)
    # Tasks build providers per message: the token is kept per service account, not provider.
    third = FcmProvider(fcm_settings).send(android("device-c"), MESSAGE)

    assert {first.outcome, second.outcome, third.outcome} == {PushOutcome.SENT}
    assert len(fcm.token_grants) == 1
    grant = fcm.token_grants[0]
    assert (grant["iss"], grant["scope"], grant["aud"]) == (
        fcm.client_email,
        FCM_SCOPE,
        fcm.token_uri,
    )
    assert grant["exp"] - grant["iat"] == 3600
    bearers = {r.headers["authorization"] for r in fcm.requests if r.path.endswith(":send")}
    assert len(bearers) == 1


def test_an_unregistered_token_is_gone(fcm: FakeFcm, fcm_settings: Settings) -> None:
    fcm.unregistered(FCM_TOKEN)

    result = FcmProvider(fcm_settings).send(android(), MESSAGE)

    assert result.outcome is PushOutcome.GONE
    assert result.reason == "fcm 404 UNREGISTERED"


def test_a_malformed_token_is_gone(fcm: FakeFcm, fcm_settings: Settings) -> None:
    result = FcmProvider(fcm_settings).send(android("not a token"), MESSAGE)

    assert result.outcome is PushOutcome.GONE
    assert result.reason == "fcm 400 INVALID_ARGUMENT"


def test_a_payload_fcm_refuses_fails_and_keeps_the_device(
    fcm: FakeFcm, fcm_settings: Settings
) -> None:
    too_big = PushMessage("Title", "Body", None, {"blob": "x" * 5000})

    result = FcmProvider(fcm_settings).send(android(), too_big)

    assert result.outcome is PushOutcome.FAILED
    assert result.reason == "fcm 400 INVALID_ARGUMENT"
    assert fcm.messages == []


def test_a_project_the_account_cannot_send_for_fails(fcm: FakeFcm, fcm_settings: Settings) -> None:
    other_project = fcm_settings.model_copy(update={"FCM_PROJECT_ID": "someone-else"})

    result = FcmProvider(other_project).send(android(), MESSAGE)

    assert result.outcome is PushOutcome.FAILED
    assert result.reason == "fcm 403 PERMISSION_DENIED"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_fcm_overload_and_outages_are_retried(
    fcm: FakeFcm, fcm_settings: Settings, status: int
) -> None:
    fcm.fail_next(1, status)
    provider = FcmProvider(fcm_settings)

    result = provider.send(android(), MESSAGE)

    assert result.outcome is PushOutcome.RETRY
    assert result.reason is not None
    assert result.reason.startswith(f"fcm {status}")
    assert provider.send(android(), MESSAGE).outcome is PushOutcome.SENT


def test_a_revoked_access_token_is_renewed_and_the_send_goes_through(
    fcm: FakeFcm, fcm_settings: Settings
) -> None:
    provider = FcmProvider(fcm_settings)
    assert provider.send(android(), MESSAGE).outcome is PushOutcome.SENT
    fcm.revoke_access_tokens()

    result = provider.send(android(), MESSAGE)

    assert result.outcome is PushOutcome.SENT
    assert len(fcm.token_grants) == 2
    assert len(fcm.sent_to(FCM_TOKEN)) == 2


def test_a_401_after_renewal_is_retried_later(fcm: FakeFcm, fcm_settings: Settings) -> None:
    fcm.fail_next(2, 401)

    result = FcmProvider(fcm_settings).send(android(), MESSAGE)

    assert result.outcome is PushOutcome.RETRY
    assert result.reason == "fcm 401 UNAUTHENTICATED"
    assert len(fcm.token_grants) == 2


def test_fcm_down_is_retried(fcm_settings: Settings) -> None:
    down = fcm_settings.model_copy(update={"FCM_API_URL": closed_port_url()})

    result = FcmProvider(down).send(android(), MESSAGE)

    assert result.outcome is PushOutcome.RETRY
    assert result.reason == "fcm ConnectError"


def test_the_token_endpoint_down_is_retried(fcm: FakeFcm, fcm_settings: Settings) -> None:
    fcm.stop()

    result = FcmProvider(fcm_settings).send(android(), MESSAGE)

    assert result.outcome is PushOutcome.RETRY
    assert result.reason == "fcm oauth ConnectError"


def test_a_slow_fcm_times_out_and_is_retried(fcm: FakeFcm, fcm_settings: Settings) -> None:
    fcm.delay_next(2.0)
    impatient = fcm_settings.model_copy(update={"PUSH_TIMEOUT_SECONDS": 0.3})

    result = FcmProvider(impatient).send(android(), MESSAGE)

    assert result.outcome is PushOutcome.RETRY
    assert result.reason == "fcm ReadTimeout"


# -- Web Push ---------------------------------------------------------------------------------


def test_a_browser_receives_exactly_what_was_sent(
    push_service: FakePushService, webpush_settings: Settings, vapid: tuple[str, str]
) -> None:
    subscription = push_service.subscribe(application_server_key=vapid[1])

    result = WebPushProvider(webpush_settings).send(browser(subscription), MESSAGE)

    assert result.outcome is PushOutcome.SENT
    assert push_service.received(subscription["endpoint"]) == [
        {
            "title": MESSAGE.title,
            "body": MESSAGE.body,
            "link": MESSAGE.link,
            "data": MESSAGE.data,
        }
    ]
    (delivery,) = push_service.deliveries
    assert delivery.vapid_key == vapid[1]
    assert delivery.vapid_claims["aud"] == push_service.origin
    assert delivery.vapid_claims["sub"] == SUBJECT
    assert delivery.headers["ttl"] == "86400"
    assert delivery.headers["content-encoding"] == "aes128gcm"


def test_a_pem_vapid_key_works_too(
    push_service: FakePushService, webpush_settings: Settings, vapid: tuple[str, str]
) -> None:
    pem = (
        vapid_private_key(vapid[0])
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )
    pem_settings = webpush_settings.model_copy(update={"WEBPUSH_VAPID_PRIVATE_KEY": SecretStr(pem)})
    subscription = push_service.subscribe(application_server_key=vapid[1])

    result = WebPushProvider(pem_settings).send(browser(subscription), MESSAGE)

    assert result.outcome is PushOutcome.SENT
    assert len(push_service.received(subscription["endpoint"])) == 1


def test_an_expired_subscription_is_gone(
    push_service: FakePushService, webpush_settings: Settings
) -> None:
    subscription = push_service.subscribe()
    push_service.expire(subscription["endpoint"])

    result = WebPushProvider(webpush_settings).send(browser(subscription), MESSAGE)

    assert result.outcome is PushOutcome.GONE
    assert result.reason == "webpush 410"


def test_an_unknown_subscription_is_gone(
    push_service: FakePushService, webpush_settings: Settings
) -> None:
    subscription = push_service.subscribe()
    unknown = {**subscription, "endpoint": f"{push_service.origin}/push/never-issued"}

    result = WebPushProvider(webpush_settings).send(browser(unknown), MESSAGE)

    assert result.outcome is PushOutcome.GONE
    assert result.reason == "webpush 404"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_web_push_overload_and_outages_are_retried(
    push_service: FakePushService, webpush_settings: Settings, status: int
) -> None:
    subscription = push_service.subscribe()
    push_service.fail_next(1, status)

    result = WebPushProvider(webpush_settings).send(browser(subscription), MESSAGE)

    assert result.outcome is PushOutcome.RETRY
    assert result.reason == f"webpush {status}"


def test_a_refused_payload_fails_and_keeps_the_subscription(
    push_service: FakePushService, webpush_settings: Settings
) -> None:
    subscription = push_service.subscribe()
    push_service.fail_next(1, 413)

    result = WebPushProvider(webpush_settings).send(browser(subscription), MESSAGE)

    assert result.outcome is PushOutcome.FAILED
    assert result.reason == "webpush 413"


def test_a_subscription_made_for_another_vapid_key_fails(
    push_service: FakePushService, webpush_settings: Settings
) -> None:
    subscription = push_service.subscribe(application_server_key=vapid_keys()[1])

    result = WebPushProvider(webpush_settings).send(browser(subscription), MESSAGE)

    assert result.outcome is PushOutcome.FAILED
    assert result.reason == "webpush 403"


def test_a_push_service_that_is_down_is_retried(webpush_settings: Settings) -> None:
    with FakePushService() as service:
        subscription = service.subscribe()
    gone_away = {**subscription, "endpoint": f"{closed_port_url()}/push/abc"}

    result = WebPushProvider(webpush_settings).send(browser(gone_away), MESSAGE)

    assert result.outcome is PushOutcome.RETRY
    assert result.reason == "webpush ConnectionError"


def test_subscription_keys_that_are_not_a_p256_point_are_gone(
    push_service: FakePushService, webpush_settings: Settings
) -> None:
    subscription = push_service.subscribe()
    broken = {**subscription, "keys": {**subscription["keys"], "p256dh": "AAAA"}}

    result = WebPushProvider(webpush_settings).send(browser(broken), MESSAGE)

    assert result.outcome is PushOutcome.GONE
    assert push_service.deliveries == []


def test_a_public_key_that_does_not_match_is_refused(webpush_settings: Settings) -> None:
    mismatched = webpush_settings.model_copy(update={"WEBPUSH_VAPID_PUBLIC_KEY": vapid_keys()[1]})

    with pytest.raises(ValueError, match="does not match"):
        WebPushProvider(mismatched)


def test_the_generated_public_key_is_the_private_keys_point(vapid: tuple[str, str]) -> None:
    point = b64url_decode(vapid[1])
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    assert public == vapid_private_key(vapid[0]).public_key()


# -- configuration ----------------------------------------------------------------------------


def test_no_providers_when_nothing_is_configured(settings: Settings) -> None:
    assert providers(settings) == []


def test_both_providers_when_both_are_configured(
    fcm_settings: Settings, webpush_settings: Settings
) -> None:
    both = fcm_settings.model_copy(
        update={
            name: getattr(webpush_settings, name)
            for name in ("WEBPUSH_VAPID_PRIVATE_KEY", "WEBPUSH_VAPID_PUBLIC_KEY", "WEBPUSH_SUBJECT")
        }
    )

    configured = providers(both)

    assert [type(provider) for provider in configured] == [FcmProvider, WebPushProvider]
    assert frozenset().union(*(provider.platforms for provider in configured)) == set(PushPlatform)


@pytest.mark.parametrize(
    "update",
    [{"FCM_PROJECT_ID": "arvlite"}, {"WEBPUSH_SUBJECT": SUBJECT}],
    ids=["fcm without a service account", "web push without keys"],
)
def test_a_provider_configured_halfway_is_refused(
    settings: Settings, update: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="needs"):
        providers(settings.model_copy(update=update))


def test_a_service_account_file_without_a_usable_key_is_refused(
    fcm_settings: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"client_email": "a@b", "token_uri": "http://x", "private_key": "no"}')

    with pytest.raises(ValueError, match="not a readable service-account key"):
        FcmProvider(fcm_settings.model_copy(update={"FCM_SERVICE_ACCOUNT_FILE": broken}))
