from typing import Any

import pytest
from pydantic import ValidationError

from app.core.config import DEV_SECRET_KEY, Settings

STRONG_SECRET = "x" * 48
POSTGRES_URL = "postgresql+psycopg2://arv:arv@db:5432/arv"


def make(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)


def production(**overrides: Any) -> Settings:
    values = {
        "ENV": "production",
        "SECRET_KEY": STRONG_SECRET,
        "DATABASE_URL": POSTGRES_URL,
        "CORS_ORIGINS": "https://app.example.com",
        "PASSWORD_HASH_ROUNDS": 12,
        "API_PUBLIC_URL": "https://api.example.com",
        "PUBLIC_BASE_URL": "https://app.example.com",
    }
    return make(**(values | overrides))


def test_safe_production_settings_are_accepted() -> None:
    settings = production()
    assert settings.ENV == "production"
    assert settings.CORS_ORIGINS == ["https://app.example.com"]


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"SECRET_KEY": DEV_SECRET_KEY}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DATABASE_URL": "sqlite:///prod.db"}, "DATABASE_URL must point to PostgreSQL"),
        ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
        ({"CORS_ORIGINS": "https://a.example.com,*"}, "CORS_ORIGINS"),
        ({"API_PUBLIC_URL": ""}, "API_PUBLIC_URL must be set"),
        ({"PUBLIC_BASE_URL": "  "}, "PUBLIC_BASE_URL must be set"),
    ],
)
def test_production_refuses_unsafe_values(override: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        production(**override)


def test_production_names_every_problem_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        production(SECRET_KEY=DEV_SECRET_KEY, DATABASE_URL="sqlite://", CORS_ORIGINS="*")
    message = str(caught.value)
    assert "SECRET_KEY" in message
    assert "DATABASE_URL" in message
    assert "CORS_ORIGINS" in message


def test_development_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "VAR_DIR", "ENV", "STORAGE_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    settings = make()
    assert settings.ENV == "development"
    assert settings.DATABASE_URL.startswith("sqlite:///")
    assert settings.DATABASE_URL.endswith("/ARV/var/arvlite.db")
    assert settings.REDIS_URL is None
    assert settings.local_storage_root == settings.VAR_DIR / "storage"


def test_cors_origins_accept_a_comma_separated_list() -> None:
    settings = make(CORS_ORIGINS=" https://a.example.com , https://b.example.com ,")
    assert settings.CORS_ORIGINS == ["https://a.example.com", "https://b.example.com"]


def test_blank_redis_url_means_not_configured() -> None:
    assert make(REDIS_URL="").REDIS_URL is None


def test_visibility_timeout_must_outlast_the_hard_time_limit() -> None:
    with pytest.raises(ValidationError, match="CELERY_VISIBILITY_TIMEOUT"):
        make(CELERY_TASK_TIME_LIMIT=3600, CELERY_VISIBILITY_TIMEOUT=3600)


def test_soft_time_limit_must_come_before_the_hard_one() -> None:
    with pytest.raises(ValidationError, match="CELERY_TASK_SOFT_TIME_LIMIT"):
        make(CELERY_TASK_SOFT_TIME_LIMIT=600, CELERY_TASK_TIME_LIMIT=600)


def test_one_ffmpeg_run_must_end_before_the_task_soft_limit() -> None:
    with pytest.raises(ValidationError, match="FFMPEG_TIMEOUT_SECONDS"):
        make(FFMPEG_TIMEOUT_SECONDS=3300)


def test_a_marker_job_lease_outlasts_its_compile() -> None:
    with pytest.raises(ValidationError, match="MARKER_JOB_LEASE_SECONDS"):
        make(MIND_COMPILE_TIMEOUT_SECONDS=600, MARKER_JOB_LEASE_SECONDS=600)
    assert make(MIND_COMPILE_TIMEOUT_SECONDS=540, MARKER_JOB_LEASE_SECONDS=600)


def test_s3_storage_needs_a_bucket() -> None:
    with pytest.raises(ValidationError, match="S3_BUCKET"):
        make(STORAGE_PROVIDER="s3")


def test_wrong_types_are_refused_with_the_setting_named() -> None:
    with pytest.raises(ValidationError, match="DATABASE_POOL_SIZE"):
        make(DATABASE_POOL_SIZE="many")


def test_secret_key_is_not_shown_in_repr() -> None:
    assert STRONG_SECRET not in repr(production())


def test_jwt_keys_and_active_key_must_agree() -> None:
    with pytest.raises(ValidationError, match="JWT_ACTIVE_KEY_ID must name"):
        make(JWT_ACTIVE_KEY_ID="2026-11")
    with pytest.raises(ValidationError, match="needs JWT_ACTIVE_KEY_ID"):
        make(JWT_SIGNING_KEYS='{"2026-11": "' + "k" * 40 + '"}')
    assert (
        make(
            JWT_SIGNING_KEYS='{"2026-11": "' + "k" * 40 + '"}', JWT_ACTIVE_KEY_ID="2026-11"
        ).jwt_active_key_id
        == "2026-11"
    )


def test_production_refuses_a_cheap_password_hash() -> None:
    with pytest.raises(ValidationError, match="PASSWORD_HASH_ROUNDS"):
        production(PASSWORD_HASH_ROUNDS=4)


@pytest.fixture
def no_address_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_PUBLIC_URL", "PUBLIC_BASE_URL", "HOST", "PORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_address_env")
def test_production_does_not_guess_public_urls_from_host_and_port() -> None:
    values = {"ENV": "production", "SECRET_KEY": STRONG_SECRET, "DATABASE_URL": POSTGRES_URL}
    with pytest.raises(ValidationError) as caught:
        make(**values, HOST="0.0.0.0", PORT=8000)  # noqa: S104
    assert "API_PUBLIC_URL must be set" in str(caught.value)
    assert "PUBLIC_BASE_URL must be set" in str(caught.value)


@pytest.mark.usefixtures("no_address_env")
def test_public_urls_follow_host_and_port_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = make()
    assert defaults.API_PUBLIC_URL == defaults.PUBLIC_BASE_URL == "http://127.0.0.1:8000"

    moved = make(PORT=8101)
    assert moved.API_PUBLIC_URL == moved.PUBLIC_BASE_URL == "http://127.0.0.1:8101"

    monkeypatch.setenv("PORT", "8102")
    monkeypatch.setenv("API_PUBLIC_URL", "https://api.example.com/")
    from_env = make()
    assert from_env.API_PUBLIC_URL == "https://api.example.com"
    assert from_env.PUBLIC_BASE_URL == "http://127.0.0.1:8102"


@pytest.mark.parametrize(
    ("host", "link"),
    [
        ("0.0.0.0", "http://localhost:8080"),  # noqa: S104
        ("::", "http://localhost:8080"),
        ("::1", "http://[::1]:8080"),
        ("arv.lan", "http://arv.lan:8080"),
    ],
)
@pytest.mark.usefixtures("no_address_env")
def test_links_name_a_host_clients_can_reach(host: str, link: str) -> None:
    settings = make(HOST=host, PORT=8080, PUBLIC_BASE_URL="")
    assert settings.API_PUBLIC_URL == settings.PUBLIC_BASE_URL == link
