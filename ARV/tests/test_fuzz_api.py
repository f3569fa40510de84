"""The fuzzing gate: schemathesis generates requests for every operation of the OpenAPI
document and sends them, from two concurrent clients, to a real uvicorn on PostgreSQL and
Redis, with the optional integrations configured as production has them (Yandex sign-in
against the fake Yandex, S3 against moto, SMTP against aiosmtpd). No answer may be a server
error, every answer must match the schema the document promises, and its status must be one
the document lists for that operation.

Requests are made as the owner of a seeded company, with every path id pinned to one of
its real objects so they reach route bodies rather than 404s, then once more without
credentials. The document is read at run time: a new route is fuzzed without editing this
file, and a path parameter nobody pinned fails the test instead of being skipped.

Bounded in time (FUZZ_SECONDS, 3 minutes in all by default). The seed is fixed in CI and
random elsewhere; both passes print it with their case count. To replay a failure:
`FUZZ_SEED=<seed> .venv/bin/pytest ARV/tests/test_fuzz_api.py`.
"""

import json
import os
import random
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.permissions import Role
from app.core.security import create_access_token
from app.models import (
    ARContent,
    ARContentVersion,
    ARContentVersionVideo,
    AuthSession,
    Company,
    ContentStatus,
    Notification,
    OutboxMessage,
    OutboxStatus,
    PushDevice,
    PushPlatform,
    ScheduledVideo,
    Video,
)
from app.schemas.publishing import MarkerSnapshot, ScheduleEntrySnapshot, Snapshot
from app.utils.clock import utcnow
from tests.conftest import ADMIN_DATABASE_URL, RUN_ID, TEST_REDIS_URL
from tests.support import marker_images
from tests.support.databases import create_database, drop_database, migrate
from tests.support.factories import (
    add_member,
    make_content,
    make_marker,
    make_product,
    make_project,
    make_user,
    make_video,
)
from tests.support.fake_yandex import CLIENT_ID, CLIENT_SECRET, FakeYandex
from tests.support.processes import (
    VENV_BIN,
    free_port,
    project_env,
    running,
    uvicorn_command,
    wait_until,
)
from tests.support.s3_server import S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, s3_client
from tests.support.smtp_server import SmtpInbox, serving_smtp

pytestmark = pytest.mark.integration

CI_SEED = 20261129
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"
CLIENTS = 2
TOTAL_SECONDS = int(os.environ.get("FUZZ_SECONDS", "170"))
# Operations that would end the fuzzing owner's standing in the seeded company, after which
# every later request is a 404: they are fuzzed in the unauthenticated pass only.
SELF_DESTRUCTIVE = (
    "DELETE /api/v1/companies/{company_id}",
    "POST /api/v1/companies/{company_id}/leave",
)


def fuzz_seed() -> int:
    if "FUZZ_SEED" in os.environ:
        return int(os.environ["FUZZ_SEED"])
    if os.environ.get("CI") == "true":
        return CI_SEED
    return random.randrange(2**31)


@dataclass(frozen=True)
class Target:
    base_url: str
    owner_token: str
    pinned: dict[str, str]
    log: Path


@pytest.fixture(scope="module")
def fuzz_database(settings: Settings) -> Iterator[str]:
    """A database of the fuzzer's own (it commits whatever it generates), dropped after."""
    url = make_url(settings.DATABASE_URL).set(database=f"arv_fuzz_{RUN_ID}")
    rendered = url.render_as_string(hide_password=False)
    create_database(ADMIN_DATABASE_URL, rendered)
    engine = create_engine(rendered)
    with engine.connect() as connection:
        migrate(connection, "upgrade", "head")
    engine.dispose()
    yield rendered
    drop_database(ADMIN_DATABASE_URL, rendered)


@pytest.fixture(scope="module")
def fake_yandex() -> Iterator[FakeYandex]:
    fake = FakeYandex()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpInbox]:
    with serving_smtp() as inbox:
        yield inbox


@pytest.fixture(scope="module")
def target(
    fuzz_database: str,
    settings: Settings,
    s3_endpoint: str,
    fake_yandex: FakeYandex,
    smtp_server: SmtpInbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Target]:
    bucket = f"fuzz-{uuid.uuid4().hex}"
    s3_client(s3_endpoint).create_bucket(Bucket=bucket)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = project_env(
        DATABASE_URL=fuzz_database,
        REDIS_URL=TEST_REDIS_URL,
        API_PUBLIC_URL=base_url,
        STORAGE_PROVIDER="s3",
        S3_ENDPOINT_URL=s3_endpoint,
        S3_BUCKET=bucket,
        S3_ACCESS_KEY_ID=S3_ACCESS_KEY_ID,
        S3_SECRET_ACCESS_KEY=S3_SECRET_ACCESS_KEY,
        YANDEX_CLIENT_ID=CLIENT_ID,
        YANDEX_CLIENT_SECRET=CLIENT_SECRET,
        YANDEX_REDIRECT_URI=f"{base_url}/api/v1/auth/yandex/callback",
        YANDEX_AUTHORIZE_URL=f"{fake_yandex.base_url}/authorize",
        YANDEX_TOKEN_URL=f"{fake_yandex.base_url}/token",
        YANDEX_USERINFO_URL=f"{fake_yandex.base_url}/info",
        SMTP_HOST=smtp_server.host,
        SMTP_PORT=str(smtp_server.port),
        SMTP_SECURITY="none",
        # Limits would answer most generated sign-ins 429 before any route code runs.
        AUTH_RATE_LIMIT_PER_IP="1000000",
        VIEWER_RATE_LIMIT_PER_IP="1000000",
    )
    log = tmp_path_factory.mktemp("fuzz") / "api.log"
    with running(uvicorn_command(port), env, log):
        wait_until(lambda: _answers(f"{base_url}/health"), 30, "the API")
        engine = create_engine(fuzz_database)
        with sessionmaker(bind=engine, expire_on_commit=False)() as db:
            owner_token, pinned = _seed(db, settings)
            db.commit()
        engine.dispose()
        pinned |= _seed_through_api(base_url, owner_token, pinned, s3_endpoint, bucket)
        yield Target(base_url, owner_token, pinned, log)


def test_fuzz_as_the_owner_of_a_company(target: Target, tmp_path: Path) -> None:
    document = httpx2.get(f"{target.base_url}/openapi.json", timeout=10).json()
    unpinned = _path_parameters(document) - target.pinned.keys()
    assert not unpinned, f"path parameters nobody pins (add them to the seed): {unpinned}"
    operations = _operations(document)
    assert set(SELF_DESTRUCTIVE) <= operations, "an excluded operation no longer exists"
    excluded = [arg for name in SELF_DESTRUCTIVE for arg in ("--exclude-name", name)]
    _fuzz(
        target,
        tmp_path,
        "owner",
        seconds=TOTAL_SECONDS * 3 // 4,
        extra=["-H", f"Authorization: Bearer {target.owner_token}", *excluded],
    )


def test_fuzz_without_credentials(target: Target, tmp_path: Path) -> None:
    _fuzz(target, tmp_path, "anonymous", seconds=TOTAL_SECONDS // 4, extra=[])


def _fuzz(target: Target, folder: Path, name: str, *, seconds: int, extra: list[str]) -> None:
    seed = fuzz_seed()
    config = folder / "schemathesis.toml"
    config.write_text(_config(target.pinned))
    report = folder / "report.json"
    command = [
        str(VENV_BIN / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{target.base_url}/openapi.json",
        "--checks",
        CHECKS,
        "--workers",
        str(CLIENTS),
        "--seed",
        str(seed),
        "--max-time",
        str(max(seconds, 1)),
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
        *extra,
    ]
    started = time.monotonic()
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=900, cwd=folder
    )
    elapsed = time.monotonic() - started
    outcome = _outcome(report)
    print(f"\nfuzz[{name}]: seed {seed}, {outcome.cases} cases in {elapsed:.0f} s")  # noqa: T201
    if outcome.engine_errors:
        print(f"fuzz[{name}]: the fuzzer itself crashed {outcome.engine_errors} time(s)")  # noqa: T201
    assert result.returncode == 0 or outcome.only_engine_errors, (
        f"schemathesis found failures (seed {seed}; replay with FUZZ_SEED={seed}).\n"
        f"{result.stdout[-20000:]}\n{result.stderr[-3000:]}\n"
        f"API log tail:\n{target.log.read_text()[-5000:]}"
    )
    assert outcome.cases > 0


def _config(pinned: dict[str, str]) -> str:
    lines = ["[parameters]"]
    lines += [f'"path.{name}" = {json.dumps(value)}' for name, value in sorted(pinned.items())]
    return "\n".join(lines) + "\n"


def _path_parameters(document: dict[str, Any]) -> set[str]:
    return {
        parameter["name"]
        for item in document["paths"].values()
        for operation in item.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
    }


def _operations(document: dict[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    cases: int
    failures: int
    engine_errors: int
    other_errors: int

    @property
    def only_engine_errors(self) -> bool:
        """Schemathesis crashed inside itself (a "Runtime Error" while generating data, such
        as CPython's "AST constructor recursion depth mismatch"), which says nothing about
        the API: every check that ran passed, and no request failed to get an answer."""
        return self.failures == 0 and self.other_errors == 0 and self.engine_errors > 0


def _outcome(report: Path) -> Outcome:
    if not report.exists():
        return Outcome(0, 0, 0, 1)
    data = json.loads(report.read_text())
    errors = {error["title"]: error["count"] for error in data["errors"]}
    engine = errors.pop("Runtime Error", 0)
    return Outcome(
        cases=int(data["test_cases"]["generated"]),
        failures=len(data["failures"]),
        engine_errors=engine,
        other_errors=sum(errors.values()),
    )


def _seed(db: Session, settings: Settings) -> tuple[str, dict[str, str]]:
    """The owner, their company on the plan with every feature, a member (whom project
    grants name), a second session of the owner's, a video with its file, a project, a
    dead outbox message, a product on sale, a notification and a push device. A published
    content (version 1 on the air) keeps the project from being deleted by a generated
    request, so later requests still reach its routes: only its public id is pinned, for
    the viewer routes, never its id."""
    owner = make_user(db)
    company = Company(name="Fuzz Postcards", slug=f"fuzz-{uuid.uuid4().hex[:8]}", settings={})
    company.plan = "business"
    db.add(company)
    db.flush()
    add_member(db, company, owner, Role.OWNER)
    member = make_user(db)
    add_member(db, company, member, Role.EDITOR)
    now = utcnow()
    signed_in = AuthSession(user_id=owner.id, expires_at=now + timedelta(days=1))
    other_device = AuthSession(user_id=owner.id, expires_at=now + timedelta(days=1))
    db.add_all([signed_in, other_device])
    db.flush()
    video = make_video(db, company)
    project = make_project(db, company, name="Fuzz project")
    kept = make_content(db, project, "Keeps the project", status=ContentStatus.PUBLISHED)
    _publish(db, kept, video)
    dead_letter = OutboxMessage(
        channel="email",
        kind="verification",
        recipient=owner.email,
        payload={},
        status=OutboxStatus.DEAD,
        max_attempts=1,
    )
    db.add(dead_letter)
    on_sale = make_product(db)
    told = Notification(
        user_id=owner.id,
        event_id=uuid.uuid4(),
        type="order.paid",
        title="Order paid",
        body="Thank you.",
        payload={},
        sequence=1,
    )
    phone = PushDevice(user_id=owner.id, platform=PushPlatform.ANDROID, token="fuzz-fcm-token")
    db.add_all([told, phone])
    db.flush()
    token, _ = create_access_token(settings, owner.id, signed_in.id, now)
    return token, {
        "company_id": str(company.id),
        "user_id": str(member.id),
        "session_id": str(other_device.id),
        "video_id": str(video.id),
        "file_id": str(video.file_id),
        "project_id": str(project.id),
        "rendition": "720p",
        "message_id": str(dead_letter.id),
        "public_id": kept.public_id,
        "product_id": str(on_sale.id),
        "plan_code": "pro",
        "notification_id": str(told.id),
        "device_id": str(phone.id),
    }


def _publish(db: Session, content: ARContent, video: Video) -> None:
    """Version 1 of `content` on the air, as a publish freezes it: a ready marker (its
    picture at `_published_picture_key`) and `video` playing for ever."""
    marker = make_marker(db, content, image_key=_published_picture_key(str(content.company_id)))
    entry = ScheduledVideo(
        company_id=content.company_id, ar_content_id=content.id, video_id=video.id
    )
    db.add(entry)
    db.flush()
    snapshot = Snapshot(
        title=content.title,
        description=content.description,
        scene=content.scene,
        marker=MarkerSnapshot.model_validate(marker),
        schedule=[ScheduleEntrySnapshot.model_validate(entry)],
    )
    version = ARContentVersion(
        company_id=content.company_id,
        project_id=content.project_id,
        ar_content_id=content.id,
        number=1,
        marker_id=marker.id,
        snapshot=snapshot.model_dump(mode="json"),
    )
    db.add(version)
    db.flush()
    db.add(
        ARContentVersionVideo(
            company_id=content.company_id, version_id=version.id, video_id=video.id
        )
    )
    content.published_version = version.number
    db.flush()


def _published_picture_key(company_id: str) -> str:
    """Where the published content's marker picture is (its print sheet reads it)."""
    return f"companies/{company_id}/markers/fuzz/image.jpg"


def _seed_through_api(
    base_url: str, token: str, pinned: dict[str, str], s3_endpoint: str, bucket: str
) -> dict[str, str]:
    """What is made most simply the way a client makes it: an invitation, a project
    template, an order, an AR content in the project with a schedule entry and a marker (its image
    uploaded, then made the marker; no worker runs, so it stays queued), a playlist in
    storage for the media route, and the published content's marker picture."""
    company = f"{base_url}/api/v1/companies/{pinned['company_id']}"
    headers = {"Authorization": f"Bearer {token}"}

    def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx2.post(url, json=body, headers=headers, timeout=30)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    invitation = post(f"{company}/invitations", {"email": "guest@example.com"})
    template = post(f"{company}/project-templates", {"name": "Print"})
    contents = f"{company}/projects/{pinned['project_id']}/ar-contents"
    content = post(contents, {"title": "Postcard"})
    entry = post(f"{contents}/{content['id']}/schedule", {"video_id": pinned["video_id"]})
    image = httpx2.post(
        f"{company}/storage/files",
        params={"filename": "marker.jpg"},
        content=marker_images.detailed_jpeg(1, (640, 480)),
        headers={**headers, "Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert image.status_code == 201, image.text
    marker = httpx2.post(
        f"{contents}/{content['id']}/marker",
        json={"file_id": image.json()["id"], "width_mm": 150},
        headers=headers,
        timeout=30,
    )
    assert marker.status_code == 202, marker.text
    order = post(f"{company}/orders", {"items": [{"product_id": pinned["product_id"]}]})
    key = f"companies/{pinned['company_id']}/videos/{pinned['video_id']}/hls/master.m3u8"
    s3 = s3_client(s3_endpoint)
    s3.put_object(Bucket=bucket, Key=key, Body=b"#EXTM3U\n#EXT-X-VERSION:3\n360p/index.m3u8\n")
    s3.put_object(
        Bucket=bucket,
        Key=_published_picture_key(pinned["company_id"]),
        Body=marker_images.detailed_jpeg(2, (640, 480)),
    )
    return {
        "invitation_id": invitation["id"],
        "template_id": template["id"],
        "content_id": content["id"],
        "entry_id": entry["id"],
        "marker_id": marker.json()["id"],
        "order_id": order["id"],
        # For the version routes: no version exists, so they answer 404.
        "number": "1",
        "key": key,
    }


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False
