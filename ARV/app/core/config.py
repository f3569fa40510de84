"""Application settings, read once from the environment and `.env`.

Every setting is typed and documented in the README's configuration table. Defaults make
`make run` work on a fresh machine (SQLite, local storage, a filesystem Celery broker);
`ENV=production` refuses the defaults that would be unsafe there.
"""

import json
from enum import StrEnum
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ARV_DIR = Path(__file__).resolve().parents[2]
DEFAULT_VAR_DIR = ARV_DIR / "var"
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-in-production"  # noqa: S105
MIN_PRODUCTION_SECRET_LENGTH = 32
MIN_PRODUCTION_HASH_ROUNDS = 12


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"  # plain connection upgraded with STARTTLS (submission, port 587)
    SSL = "ssl"  # TLS from the first byte (port 465)
    NONE = "none"  # no encryption: a relay on the same host or private network only


DEFAULT_SMTP_PORTS = {SmtpSecurity.STARTTLS: 587, SmtpSecurity.SSL: 465, SmtpSecurity.NONE: 25}


# What a marker job does besides compiling (checking, scoring, storing) fits in this.
MARKER_LEASE_MARGIN_SECONDS = 60


# https://yookassa.ru/developers/using-api/webhooks: where notifications come from.
YOOKASSA_NETWORKS = (
    "185.71.76.0/27",
    "185.71.77.0/27",
    "77.75.153.0/25",
    "77.75.156.11/32",
    "77.75.156.35/32",
    "77.75.154.128/25",
    "2a02:5180::/32",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    ENV: Literal["development", "test", "production"] = "development"
    APP_NAME: str = "ARVlite"
    SECRET_KEY: SecretStr = SecretStr(DEV_SECRET_KEY)
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    VAR_DIR: Path = DEFAULT_VAR_DIR
    DATABASE_URL: str = ""
    DATABASE_POOL_SIZE: int = Field(default=10, ge=1, le=200)
    DATABASE_MAX_OVERFLOW: int = Field(default=20, ge=0, le=200)
    REDIS_URL: str | None = None

    CORS_ORIGINS: Annotated[list[str], NoDecode] = ["http://localhost:3000"]
    GZIP_MINIMUM_SIZE: int = Field(default=1024, ge=0)

    STORAGE_PROVIDER: Literal["local", "s3"] = "local"
    STORAGE_LOCAL_ROOT: Path | None = None
    S3_ENDPOINT_URL: str | None = None
    # The S3 host browsers reach, when it differs from the API's (http://localhost:9000
    # while the API talks to http://minio:9000); links handed out are signed for it.
    S3_PUBLIC_ENDPOINT_URL: str | None = None
    S3_REGION: str = "us-east-1"
    S3_BUCKET: str | None = None
    S3_ACCESS_KEY_ID: str | None = None
    S3_SECRET_ACCESS_KEY: SecretStr | None = None

    # Download links: HMAC-signed app URLs for local storage, presigned GETs on S3.
    STORAGE_URL_TTL_SECONDS: int = Field(default=3600, ge=60, le=7 * 86400)
    # Largest file accepted by any upload path; plans may allow less.
    UPLOAD_MAX_BYTES: int = Field(default=20 * 1024**3, ge=1)
    # Direct (browser-to-storage) multipart uploads. S3 wants parts of at least 5 MiB.
    DIRECT_UPLOAD_PART_BYTES: int = Field(default=16 * 1024**2, ge=5 * 1024**2, le=5 * 1024**3)
    # A part URL must outlive one part's transfer on a slow line; clients may ask again.
    DIRECT_UPLOAD_URL_TTL_SECONDS: int = Field(default=6 * 3600, ge=300, le=7 * 86400)
    # An upload not completed this long after it started is aborted and its bytes purged.
    DIRECT_UPLOAD_EXPIRY_HOURS: int = Field(default=72, ge=1, le=30 * 24)

    FFMPEG_BINARY: str = "ffmpeg"
    FFPROBE_BINARY: str = "ffprobe"
    # One ffmpeg run may not exceed this; keep it under CELERY_TASK_SOFT_TIME_LIMIT.
    FFMPEG_TIMEOUT_SECONDS: int = Field(default=1800, ge=10)
    # A processing job's lease; a running job renews it while ffmpeg reports progress, and
    # the watchdog re-queues a job whose lease ran out (its worker died).
    VIDEO_JOB_LEASE_SECONDS: int = Field(default=300, ge=10, le=3600)
    VIDEO_JOB_MAX_ATTEMPTS: int = Field(default=3, ge=1, le=10)

    # Markers: one job per upload (check, score, compile the MindAR target with Node).
    NODE_BINARY: str = "node"
    MIND_COMPILE_TIMEOUT_SECONDS: int = Field(default=180, ge=10, le=1800)
    MIND_COMPILE_MEMORY_MB: int = Field(default=1536, ge=512, le=16384)
    # Longer than the compile's timeout (checked below): a live job never loses its lease
    # mid-compile.
    MARKER_JOB_LEASE_SECONDS: int = Field(default=600, ge=30, le=3600)
    MARKER_JOB_MAX_ATTEMPTS: int = Field(default=3, ge=1, le=10)

    # Raw playback events are kept this long, then only their daily figures. Longer than
    # the 7 days within which an app may still report an event.
    ANALYTICS_EVENT_RETENTION_DAYS: int = Field(default=35, ge=8, le=3650)
    # Viewer apps are anonymous, and many phones may share one address (a venue's Wi-Fi,
    # carrier NAT): the limit is per IP and generous.
    VIEWER_RATE_LIMIT_PER_IP: int = Field(default=600, ge=1)
    VIEWER_RATE_LIMIT_WINDOW_SECONDS: int = Field(default=60, ge=1)
    # The viewer manifest's `app_link`: a deep link into a native viewer app, with
    # `{public_id}` where the content's public id goes. Empty: no app, `app_link` is null.
    VIEWER_APP_LINK_TEMPLATE: str = ""

    # Where `make run` binds the API (uvicorn reads the same variables in scripts/run.sh).
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)
    # Base of the links in emails. Unset (or blank): the API's own address, from HOST/PORT.
    PUBLIC_BASE_URL: str = ""
    # The API as clients reach it: local-storage download and upload links point here.
    # Unset (or blank): http://HOST:PORT. Production refuses to start without both URLs.
    API_PUBLIC_URL: str = ""

    JWT_ISSUER: str = "arvlite"
    JWT_AUDIENCE: str = "arvlite-api"
    # Signing keys by key id, as JSON ({"2026-11": "..."}); empty means one key derived from
    # SECRET_KEY. New tokens use JWT_ACTIVE_KEY_ID; every listed key still verifies, so a
    # key can rotate without logging anyone out.
    JWT_SIGNING_KEYS: Annotated[dict[str, SecretStr], NoDecode] = {}
    JWT_ACTIVE_KEY_ID: str | None = None
    # bcrypt cost: 2**rounds iterations. Tests lower it; production refuses less than 12.
    PASSWORD_HASH_ROUNDS: int = Field(default=12, ge=4, le=16)
    ACCESS_TOKEN_TTL_SECONDS: int = Field(default=900, ge=60, le=86400)
    REFRESH_TOKEN_TTL_DAYS: int = Field(default=30, ge=1, le=365)
    REFRESH_REUSE_GRACE_SECONDS: int = Field(default=10, ge=0, le=120)
    REFRESH_COOKIE_ENABLED: bool = False
    COOKIE_SECURE: bool = True
    EMAIL_VERIFICATION_TTL_HOURS: int = Field(default=48, ge=1)
    PASSWORD_RESET_TTL_MINUTES: int = Field(default=60, ge=5)
    INVITATION_TTL_DAYS: int = Field(default=7, ge=1, le=90)

    # Outgoing email. Without SMTP_HOST, messages are written under VAR_DIR/mail instead.
    SMTP_HOST: str | None = None
    # Unset: 587 for starttls, 465 for ssl, 25 for none.
    SMTP_PORT: int | None = Field(default=None, ge=1, le=65535)
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: SecretStr | None = None
    SMTP_SECURITY: SmtpSecurity = SmtpSecurity.STARTTLS
    MAIL_FROM: str = "ARVlite <no-reply@arvlite.local>"
    # The outbox (emails and, later, other notifications): a message that cannot be
    # delivered is retried with exponential backoff and jitter from OUTBOX_RETRY_BASE_SECONDS,
    # and dead-lettered after OUTBOX_MAX_ATTEMPTS attempts or a permanent refusal.
    OUTBOX_MAX_ATTEMPTS: int = Field(default=8, ge=1, le=50)
    OUTBOX_RETRY_BASE_SECONDS: float = Field(default=30.0, ge=0.1, le=3600)
    OUTBOX_RETRY_MAX_SECONDS: float = Field(default=3600.0, ge=1, le=86400)
    # How long one delivery attempt may hold a message before it counts as lost.
    OUTBOX_LEASE_SECONDS: int = Field(default=300, ge=60, le=3600)
    # A message still waiting this long after it was due lost its task: the sweep re-sends it.
    OUTBOX_SWEEP_AFTER_SECONDS: int = Field(default=120, ge=1, le=86400)

    YANDEX_CLIENT_ID: str | None = None
    YANDEX_CLIENT_SECRET: SecretStr | None = None
    YANDEX_REDIRECT_URI: str | None = None
    YANDEX_AUTHORIZE_URL: str = "https://oauth.yandex.ru/authorize"
    YANDEX_TOKEN_URL: str = "https://oauth.yandex.ru/token"  # noqa: S105 - a URL
    YANDEX_USERINFO_URL: str = "https://login.yandex.ru/info"
    OAUTH_FRONTEND_REDIRECT_URL: str | None = None
    OAUTH_STATE_TTL_SECONDS: int = Field(default=600, ge=60, le=3600)

    # Payments through YooKassa (API v3): off until the shop id and secret key are set.
    YOOKASSA_API_URL: str = "https://api.yookassa.ru/v3"
    YOOKASSA_SHOP_ID: str | None = None
    YOOKASSA_SECRET_KEY: SecretStr | None = None
    # Where the payer returns after paying, unless the request names a page.
    YOOKASSA_RETURN_URL: str | None = None
    # The only addresses notifications are accepted from: the ranges YooKassa publishes.
    YOOKASSA_WEBHOOK_NETWORKS: Annotated[list[IPv4Network | IPv6Network], NoDecode] = [
        ip_network(network) for network in YOOKASSA_NETWORKS
    ]
    YOOKASSA_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=60)
    # A payment still pending this long is read back from YooKassa by beat (a notification
    # may have been lost).
    PAYMENT_POLL_AFTER_MINUTES: int = Field(default=10, ge=1, le=1440)
    # Notifications: read ones are purged after this long; a reconnecting socket is sent at
    # most this many missed ones (older gaps are told to reload).
    NOTIFICATION_READ_RETENTION_DAYS: int = Field(default=90, ge=1, le=3650)
    NOTIFICATION_REPLAY_MAX: int = Field(default=500, ge=1, le=10_000)
    # Live sockets: the first message must sign in within WS_AUTH_TIMEOUT_SECONDS; the
    # server pings every WS_HEARTBEAT_SECONDS and closes a socket silent for
    # WS_IDLE_TIMEOUT_SECONDS; a client more than WS_SEND_QUEUE_SIZE messages behind is
    # dropped.
    WS_AUTH_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=120)
    WS_HEARTBEAT_SECONDS: float = Field(default=25.0, gt=0, le=600)
    WS_IDLE_TIMEOUT_SECONDS: float = Field(default=60.0, gt=0, le=3600)
    WS_SEND_QUEUE_SIZE: int = Field(default=256, ge=1, le=100_000)
    # Push: FCM HTTP v1 (off until the project and its service account are set) and Web
    # Push (off until the VAPID keys are set).
    FCM_API_URL: str = "https://fcm.googleapis.com"
    FCM_PROJECT_ID: str | None = None
    FCM_SERVICE_ACCOUNT_FILE: Path | None = None
    WEBPUSH_VAPID_PRIVATE_KEY: SecretStr | None = None
    WEBPUSH_VAPID_PUBLIC_KEY: str | None = None
    WEBPUSH_SUBJECT: str | None = None
    PUSH_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=60)
    PUSH_MAX_DEVICES_PER_USER: int = Field(default=10, ge=1, le=100)
    # The push services a browser subscription may name (the workers post to it): a host,
    # or `*.` and a domain. HTTPS only, but for a loopback host.
    WEBPUSH_ENDPOINT_HOSTS: Annotated[list[str], NoDecode] = [
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "web.push.apple.com",
        "*.notify.windows.com",
    ]

    # A renewal order for a plan is created this many days before its paid period ends.
    RENEWAL_NOTICE_DAYS: int = Field(default=7, ge=1, le=60)

    # The seller on invoices: the platform's legal details, and how to pay by bank transfer.
    SELLER_LEGAL_NAME: str = "ARVlite"
    SELLER_INN: str | None = None
    SELLER_KPP: str | None = None
    SELLER_ADDRESS: str | None = None
    SELLER_BANK_DETAILS: str | None = None
    # How long the download link in an "invoice ready" email works.
    INVOICE_LINK_TTL_HOURS: int = Field(default=72, ge=1, le=168)
    INVOICE_MAX_ATTEMPTS: int = Field(default=5, ge=1, le=20)
    # Invoices are dated, and numbered by year, in the seller's time zone.
    INVOICE_TIME_ZONE: str = "Europe/Moscow"

    AUTH_RATE_LIMIT_PER_IP: int = Field(default=20, ge=1)
    AUTH_RATE_LIMIT_WINDOW_SECONDS: int = Field(default=60, ge=1)
    LOGIN_MAX_FAILURES: int = Field(default=5, ge=1)
    LOGIN_FAILURE_WINDOW_SECONDS: int = Field(default=900, ge=1)
    LOGIN_LOCKOUT_SECONDS: int = Field(default=900, ge=1)

    CELERY_TASK_SOFT_TIME_LIMIT: int = Field(default=3300, ge=1)
    CELERY_TASK_TIME_LIMIT: int = Field(default=3600, ge=1)
    CELERY_VISIBILITY_TIMEOUT: int = Field(default=7200, ge=1)

    @field_validator("CORS_ORIGINS", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("INVOICE_TIME_ZONE")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError) as error:
            raise ValueError(f"{value!r} is not an IANA time zone") from error
        return value

    @field_validator("WEBPUSH_ENDPOINT_HOSTS", mode="before")
    @classmethod
    def _comma_separated_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip().lower() for host in value.split(",") if host.strip()]
        return value

    @field_validator("YOOKASSA_WEBHOOK_NETWORKS", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [network.strip() for network in value.split(",") if network.strip()]
        return value

    @field_validator("JWT_SIGNING_KEYS", mode="before")
    @classmethod
    def _parse_signing_keys(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError('must be JSON such as {"2026-11": "<secret>"}') from error

    @field_validator(
        "REDIS_URL",
        "S3_ENDPOINT_URL",
        "S3_PUBLIC_ENDPOINT_URL",
        "S3_BUCKET",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SELLER_INN",
        "SELLER_KPP",
        "SELLER_ADDRESS",
        "SELLER_BANK_DETAILS",
        "FCM_PROJECT_ID",
        "FCM_SERVICE_ACCOUNT_FILE",
        "WEBPUSH_VAPID_PRIVATE_KEY",
        "WEBPUSH_VAPID_PUBLIC_KEY",
        "WEBPUSH_SUBJECT",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _default_to_sqlite(self) -> Self:
        if not self.DATABASE_URL:
            self.DATABASE_URL = f"sqlite:///{self.VAR_DIR / 'arvlite.db'}"
        return self

    @field_validator("VIEWER_APP_LINK_TEMPLATE")
    @classmethod
    def _one_public_id_field(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        try:
            value.format(public_id="x")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError("may hold no field but {public_id}") from error
        if "{public_id}" not in value:
            raise ValueError("must hold {public_id}, where the content's public id goes")
        return value

    @field_validator("API_PUBLIC_URL", "PUBLIC_BASE_URL")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")  # links are built as f"{base}/path"

    @model_validator(mode="after")
    def _derive_public_urls(self) -> Self:
        # Production must name both (see _refuse_unsafe_production): a guess there would
        # send links to an address clients cannot reach.
        if self.ENV != "production":
            own_address = f"http://{_link_host(self.HOST)}:{self.PORT}"
            self.API_PUBLIC_URL = self.API_PUBLIC_URL or own_address
            self.PUBLIC_BASE_URL = self.PUBLIC_BASE_URL or own_address
        return self

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if self.CELERY_TASK_SOFT_TIME_LIMIT >= self.CELERY_TASK_TIME_LIMIT:
            raise ValueError("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT")
        if self.CELERY_VISIBILITY_TIMEOUT <= self.CELERY_TASK_TIME_LIMIT:
            raise ValueError(
                "CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT, otherwise Redis "
                "redelivers long tasks to a second worker while the first is still running"
            )
        if self.JWT_ACTIVE_KEY_ID and self.JWT_ACTIVE_KEY_ID not in self.JWT_SIGNING_KEYS:
            raise ValueError("JWT_ACTIVE_KEY_ID must name one of JWT_SIGNING_KEYS")
        if self.JWT_SIGNING_KEYS and not self.JWT_ACTIVE_KEY_ID:
            raise ValueError("JWT_SIGNING_KEYS needs JWT_ACTIVE_KEY_ID to pick the signing key")
        if self.FFMPEG_TIMEOUT_SECONDS >= self.CELERY_TASK_SOFT_TIME_LIMIT:
            raise ValueError("FFMPEG_TIMEOUT_SECONDS must be below CELERY_TASK_SOFT_TIME_LIMIT")
        if self.MIND_COMPILE_TIMEOUT_SECONDS + MARKER_LEASE_MARGIN_SECONDS > (
            self.MARKER_JOB_LEASE_SECONDS
        ):
            raise ValueError(
                f"MARKER_JOB_LEASE_SECONDS must exceed MIND_COMPILE_TIMEOUT_SECONDS by at least "
                f"{MARKER_LEASE_MARGIN_SECONDS}: a marker job must not lose its lease mid-compile"
            )
        if self.STORAGE_PROVIDER == "s3" and not self.S3_BUCKET:
            raise ValueError("STORAGE_PROVIDER=s3 needs S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.ENV != "production":
            return self
        problems = []
        secret = self.SECRET_KEY.get_secret_value()
        if secret == DEV_SECRET_KEY or len(secret) < MIN_PRODUCTION_SECRET_LENGTH:
            problems.append(
                f"SECRET_KEY must be set to a random value of at least "
                f"{MIN_PRODUCTION_SECRET_LENGTH} characters"
            )
        if self.PASSWORD_HASH_ROUNDS < MIN_PRODUCTION_HASH_ROUNDS:
            problems.append(f"PASSWORD_HASH_ROUNDS must be at least {MIN_PRODUCTION_HASH_ROUNDS}")
        if not self.DATABASE_URL.startswith("postgresql"):
            problems.append("DATABASE_URL must point to PostgreSQL")
        if "*" in self.CORS_ORIGINS:
            problems.append("CORS_ORIGINS must list origins explicitly, not '*'")
        problems.extend(
            f"{name} must be set to the address clients reach"
            for name in ("API_PUBLIC_URL", "PUBLIC_BASE_URL")
            if not getattr(self, name)
        )
        if problems:
            raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self

    @property
    def jwt_keys(self) -> dict[str, str]:
        if not self.JWT_SIGNING_KEYS:
            return {"default": self.SECRET_KEY.get_secret_value()}
        return {kid: key.get_secret_value() for kid, key in self.JWT_SIGNING_KEYS.items()}

    @property
    def jwt_active_key_id(self) -> str:
        return self.JWT_ACTIVE_KEY_ID or next(iter(self.jwt_keys))

    @property
    def yandex_enabled(self) -> bool:
        return bool(
            self.YANDEX_CLIENT_ID and self.YANDEX_CLIENT_SECRET and self.YANDEX_REDIRECT_URI
        )

    @property
    def yookassa_enabled(self) -> bool:
        return bool(self.YOOKASSA_SHOP_ID and self.YOOKASSA_SECRET_KEY)

    @property
    def mail_dir(self) -> Path:
        return self.VAR_DIR / "mail"

    @property
    def smtp_port(self) -> int:
        return self.SMTP_PORT or DEFAULT_SMTP_PORTS[self.SMTP_SECURITY]

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")

    @property
    def local_storage_root(self) -> Path:
        return self.STORAGE_LOCAL_ROOT or self.VAR_DIR / "storage"

    @property
    def media_work_dir(self) -> Path:
        """Scratch space for workers' intermediate files; cleaned after every job."""
        return self.VAR_DIR / "work"


def _link_host(bind_host: str) -> str:
    """The host name for links to a server bound to `bind_host`: a wildcard bind is
    reached as localhost, an IPv6 literal needs brackets."""
    if bind_host in {"", "0.0.0.0", "::"}:  # noqa: S104 - compared, not bound
        return "localhost"
    if ":" in bind_host and not bind_host.startswith("["):
        return f"[{bind_host}]"
    return bind_host


@lru_cache
def get_settings() -> Settings:
    return Settings()
