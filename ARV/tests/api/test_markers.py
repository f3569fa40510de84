"""Markers through the API, processed in-process by `MarkerProcessor` against the test's
transaction: real uploads, real Node + mind-ar compiles, real OpenCV scoring, real local
storage and signed links.

Compiling is the slow part (seconds per image), so the module shares compiles: `compiles`
runs the real compiler once per distinct normalised image and hands the same target to
every later job of that image. A test that needs a compile gets one, cached or not, so
each test still stands alone; three distinct images are compiled in all."""

import base64
import hashlib
import io
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from app.background_tasks.names import MARKER_PROCESS, QUEUE_MEDIA
from app.core.config import Settings
from app.core.permissions import Role
from app.core.redis import get_redis
from app.core.storage import StorageProvider
from app.models import ARContent, ContentStatus, FileStatus, Project, StoredFile
from app.models.marker import Marker, MarkerStatus
from app.services.marker_processing import MarkerProcessor
from app.services.object_keys import MarkerKeys
from app.services.storage_service import file_key
from app.utils.clock import utcnow
from app.utils.mind_compiler import CompiledTarget, compile_mind_target, read_mind_target
from app.utils.subprocesses import WorkerStopping
from tests.conftest import TEST_REDIS_URL
from tests.support import marker_images as images
from tests.support.api import assert_error
from tests.support.factories import Tenant, make_content, make_project, make_tenant

SUB_SCORES = {"features", "distribution", "contrast", "ambiguity", "sharpness"}
SIZE = (640, 480)
MISSING_NODE = "/nonexistent/bin/node"


class SharedCompiles:
    """`compile_mind_target`, run for real once per (image, node) and remembered; a
    failed compile (no Node) is never remembered, so it fails every time, as it would."""

    def __init__(self) -> None:
        self.targets: dict[tuple[str, str | None], CompiledTarget] = {}

    def __call__(
        self,
        image_jpeg: bytes,
        *,
        timeout_seconds: float,
        memory_limit_mb: int,
        node_binary: str | None = None,
    ) -> CompiledTarget:
        key = (hashlib.sha256(image_jpeg).hexdigest(), node_binary)
        if key not in self.targets:
            self.targets[key] = compile_mind_target(
                image_jpeg,
                timeout_seconds=timeout_seconds,
                memory_limit_mb=memory_limit_mb,
                node_binary=node_binary,
            )
        return self.targets[key]


@pytest.fixture(scope="module")
def compiles() -> SharedCompiles:
    return SharedCompiles()


@pytest.fixture(scope="module")
def detailed() -> bytes:
    return images.detailed_jpeg(1, SIZE)


@pytest.fixture
def processor(
    session_factory: sessionmaker[Session],
    storage: StorageProvider,
    settings: Settings,
    compiles: SharedCompiles,
) -> MarkerProcessor:
    return MarkerProcessor(session_factory, storage, settings, compiler=compiles)


@pytest.fixture
def broken_processor(
    session_factory: sessionmaker[Session], storage: StorageProvider, settings: Settings
) -> MarkerProcessor:
    """A worker whose Node is missing: every compile fails."""
    broken = settings.model_copy(update={"NODE_BINARY": MISSING_NODE})
    return MarkerProcessor(session_factory, storage, broken)


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def project(db: Session, tenant: Tenant) -> Project:
    return make_project(db, tenant.company)


@pytest.fixture
def content(db: Session, project: Project) -> ARContent:
    return make_content(db, project, "Spring postcard")


# --- helpers ------------------------------------------------------------------------------


def content_url(tenant: Tenant, content: ARContent, suffix: str) -> str:
    return (
        f"/api/v1/companies/{tenant.company.id}/projects/{content.project_id}"
        f"/ar-contents/{content.id}{suffix}"
    )


def upload_file(client: TestClient, tenant: Tenant, data: bytes, filename: str) -> str:
    response = client.post(
        f"/api/v1/companies/{tenant.company.id}/storage/files",
        params={"filename": filename},
        content=data,
        headers={**tenant.headers[Role.EDITOR], "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    file_id: str = response.json()["id"]
    return file_id


def post_marker(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    file_id: str,
    width_mm: int | None = 150,
    role: Role = Role.EDITOR,
) -> httpx2.Response:
    body: dict[str, Any] = {"file_id": file_id}
    if width_mm is not None:
        body["width_mm"] = width_mm
    return client.post(
        content_url(tenant, content, "/marker"), json=body, headers=tenant.headers[role]
    )


def upload_marker(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    data: bytes,
    filename: str = "postcard.jpg",
) -> dict[str, Any]:
    response = post_marker(client, tenant, content, upload_file(client, tenant, data, filename))
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def marker_row(db: Session, marker_id: str) -> Marker:
    db.flush()
    db.expire_all()
    return db.get_one(Marker, uuid.UUID(marker_id))


def run(processor: MarkerProcessor, db: Session, marker_id: str) -> str:
    """One delivery of the marker's queued task."""
    task_id = marker_row(db, marker_id).task_id
    assert task_id
    return processor.run(uuid.UUID(marker_id), task_id).status


def current(client: TestClient, tenant: Tenant, content: ARContent) -> dict[str, Any]:
    response = client.get(
        content_url(tenant, content, "/marker"), headers=tenant.headers[Role.VIEWER]
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def queued_tasks() -> list[tuple[str, str, list[Any]]]:
    """(task name, task id, args) of every message waiting on the media queue in the
    broker, oldest first."""
    messages = get_redis(TEST_REDIS_URL).lrange(QUEUE_MEDIA, 0, -1)
    found = []
    for raw in reversed(messages):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], message["headers"]["id"], args))
    return found


def fetch(client: TestClient, url: str) -> httpx2.Response:
    """Follow a local signed link through the app."""
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.text
    return response


def image_size(data: bytes, image_format: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == image_format
        return image.size


# --- a detailed image: processed, scored, compiled, linked ---------------------------------


@pytest.fixture
def ready(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    processor: MarkerProcessor,
    detailed: bytes,
) -> dict[str, Any]:
    """The content's marker, uploaded and processed: its `GET .../marker` answer."""
    marker = upload_marker(client, tenant, content, detailed)
    assert run(processor, db, marker["id"]) == "ready"
    return current(client, tenant, content)


def test_upload_answers_queued_and_sends_the_job(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session, detailed: bytes
) -> None:
    marker = upload_marker(client, tenant, content, detailed)
    assert marker["status"] == "queued"
    assert (marker["width_mm"], marker["width_m"]) == (150, 0.15)
    assert marker["ar_content_id"] == str(content.id)
    assert marker["links"] is None
    assert marker["score"] is None
    row = marker_row(db, marker["id"])
    assert row.task_id
    assert queued_tasks() == [(MARKER_PROCESS, row.task_id, [marker["id"]])]


def test_a_detailed_image_ends_ready_with_score_and_tracking_points(
    ready: dict[str, Any], content: ARContent
) -> None:
    assert ready["status"] == "ready"
    assert ready["rejection_code"] is None
    assert ready["failure_reason"] is None
    assert ready["attempts"] == 1
    assert (ready["width"], ready["height"]) == SIZE
    assert ready["score"] >= 75
    assert ready["stars"] >= 4
    assert set(ready["sub_scores"]) == SUB_SCORES
    assert all(0 <= value <= 100 for value in ready["sub_scores"].values())
    assert ready["tracking_points"] > 0
    assert ready["matching_points"] > 0
    assert ready["keypoints"] > 0
    assert ready["hints"] == []
    assert ready["duplicates"] == []
    assert set(ready["seconds"]) == {"compile", "score"}
    assert ready["processed_at"] is not None
    assert (ready["width_mm"], ready["width_m"]) == (150, 0.15)


def test_the_links_download_the_outputs(
    ready: dict[str, Any], client: TestClient, detailed: bytes
) -> None:
    links = ready["links"]
    assert set(links) == {"expires_at", "image", "preview", "heatmap", "mind_target"}

    image = fetch(client, links["image"])
    assert image.headers["content-type"] == "image/jpeg"
    assert image_size(image.content, "JPEG") == SIZE
    assert hashlib.sha256(image.content).hexdigest() == ready["sha256"]
    assert max(image_size(fetch(client, links["preview"]).content, "JPEG")) == 256
    assert image_size(fetch(client, links["heatmap"]).content, "PNG") == (512, 384)

    target = read_mind_target(fetch(client, links["mind_target"]).content)
    assert (target.width, target.height) == SIZE
    assert target.tracking_points == ready["tracking_points"]
    assert target.matching_points == ready["matching_points"]


def test_history_and_one_marker(
    ready: dict[str, Any], client: TestClient, tenant: Tenant, content: ARContent
) -> None:
    viewer = tenant.headers[Role.VIEWER]
    listed = client.get(content_url(tenant, content, "/markers"), headers=viewer).json()
    assert listed["total"] == 1
    [item] = listed["items"]
    assert (item["id"], item["status"], item["links"]) == (ready["id"], "ready", None)
    one = client.get(content_url(tenant, content, f"/markers/{ready['id']}"), headers=viewer)
    assert one.status_code == 200
    assert one.json()["links"]["mind_target"]
    missing = client.get(content_url(tenant, content, f"/markers/{uuid.uuid4()}"), headers=viewer)
    assert_error(missing, 404, "not_found")


def test_a_redelivered_task_is_skipped(
    ready: dict[str, Any], db: Session, processor: MarkerProcessor
) -> None:
    before = marker_row(db, ready["id"])
    processed_at, attempts = before.processed_at, before.attempts
    assert run(processor, db, ready["id"]) == "skipped"
    after = marker_row(db, ready["id"])
    assert (after.status, after.processed_at, after.attempts) == (
        MarkerStatus.READY,
        processed_at,
        attempts,
    )


def test_a_marker_another_worker_holds_is_skipped(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    broken_processor: MarkerProcessor,
    detailed: bytes,
) -> None:
    marker = upload_marker(client, tenant, content, detailed)
    row = marker_row(db, marker["id"])
    row.status = MarkerStatus.PROCESSING
    row.attempts = 1
    row.lease_expires_at = utcnow() + timedelta(minutes=5)
    db.flush()
    # Another delivery (a duplicate message, or the watchdog's) finds the lease held: it
    # does nothing (this worker has no Node: had it run, it would have failed).
    assert broken_processor.run(row.id, "another-task").status == "skipped"
    row = marker_row(db, marker["id"])
    assert (row.status, row.attempts, row.last_error) == (MarkerStatus.PROCESSING, 1, None)


def test_retrying_a_ready_marker_conflicts(
    ready: dict[str, Any], client: TestClient, tenant: Tenant, content: ARContent
) -> None:
    response = client.post(
        content_url(tenant, content, f"/markers/{ready['id']}/retry"),
        headers=tenant.headers[Role.EDITOR],
    )
    error = assert_error(response, 409, "marker_not_retryable")
    assert error["details"] == {"status": "ready"}


def test_a_marker_whose_message_was_lost_can_be_retried_once_it_has_waited_a_lease(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    settings: Settings,
    detailed: bytes,
) -> None:
    marker = upload_marker(client, tenant, content, detailed)
    url = content_url(tenant, content, f"/markers/{marker['id']}/retry")
    editor = tenant.headers[Role.EDITOR]
    assert_error(client.post(url, headers=editor), 409, "marker_not_retryable")
    row = marker_row(db, marker["id"])
    lost_task = row.task_id
    row.updated_at = utcnow() - timedelta(seconds=settings.MARKER_JOB_LEASE_SECONDS + 1)
    db.flush()
    retried = client.post(url, headers=editor)
    assert retried.status_code == 202, retried.text
    assert marker_row(db, marker["id"]).task_id not in (None, lost_task)


def test_the_source_file_is_in_use_and_outputs_count_in_usage(
    ready: dict[str, Any], client: TestClient, tenant: Tenant, db: Session
) -> None:
    files = f"/api/v1/companies/{tenant.company.id}/storage"
    refused = client.delete(
        f"{files}/files/{ready['file_id']}", headers=tenant.headers[Role.EDITOR]
    )
    error = assert_error(refused, 409, "file_in_use")
    assert ready["id"] in json.dumps(error["details"])

    stored_bytes = marker_row(db, ready["id"]).stored_bytes
    outputs = [
        fetch(client, ready["links"][name]).content
        for name in ("image", "preview", "heatmap", "mind_target")
    ]
    assert stored_bytes == sum(len(output) for output in outputs)
    usage = client.get(f"{files}/usage", headers=tenant.headers[Role.VIEWER]).json()
    assert usage["derived_bytes"] == stored_bytes
    assert usage["total_bytes"] == usage["used_bytes"] + stored_bytes


# --- images that cannot be markers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code", "says"),
    [
        pytest.param(images.cmyk_jpeg(1, SIZE), "cmyk", "CMYK", id="cmyk"),
        pytest.param(images.small_jpeg((400, 300)), "too_small", "400 x 300", id="too-small"),
    ],
)
def test_an_image_that_cannot_be_a_marker_is_rejected_without_compiling(
    data: bytes,
    code: str,
    says: str,
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    broken_processor: MarkerProcessor,
) -> None:
    marker = upload_marker(client, tenant, content, data)
    # This worker cannot compile: had it tried, the job would be retried, not rejected.
    assert run(broken_processor, db, marker["id"]) == "rejected"
    shown = current(client, tenant, content)
    assert (shown["status"], shown["rejection_code"]) == ("rejected", code)
    assert says in shown["failure_reason"]
    assert shown["score"] is None
    assert shown["links"] is None
    assert marker_row(db, marker["id"]).stored_bytes == 0
    # Nothing to retry: the image itself must change.
    again = client.post(
        content_url(tenant, content, f"/markers/{marker['id']}/retry"),
        headers=tenant.headers[Role.EDITOR],
    )
    assert assert_error(again, 409, "marker_not_retryable")["details"] == {"status": "rejected"}


def test_a_flat_image_scores_low_with_too_little_detail(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    processor: MarkerProcessor,
) -> None:
    marker = upload_marker(client, tenant, content, images.flat_colour_jpeg(SIZE))
    assert run(processor, db, marker["id"]) == "ready"
    shown = current(client, tenant, content)
    assert shown["score"] < 20
    assert shown["stars"] == 0
    assert shown["tracking_points"] == 0
    codes = [hint["code"] for hint in shown["hints"]]
    assert "too_little_detail" in codes
    assert "no_tracking_points" in codes


# --- duplicates ---------------------------------------------------------------------------


def test_a_rotated_scaled_copy_of_another_contents_marker_is_a_duplicate(
    client: TestClient,
    tenant: Tenant,
    project: Project,
    content: ARContent,
    db: Session,
    processor: MarkerProcessor,
    detailed: bytes,
) -> None:
    first = upload_marker(client, tenant, content, detailed)
    assert run(processor, db, first["id"]) == "ready"
    other = make_content(db, project, "Autumn postcard")
    copy = images.rotated_scaled_jpeg(detailed, degrees=15, scale=0.8)
    second = upload_marker(client, tenant, other, copy, "copy.jpg")
    assert run(processor, db, second["id"]) == "ready"

    shown = current(client, tenant, other)
    [duplicate] = shown["duplicates"]
    assert duplicate["marker_id"] == first["id"]
    assert duplicate["content_id"] == str(content.id)
    assert duplicate["content_title"] == "Spring postcard"
    assert duplicate["inliers"] >= 25
    [hint] = [hint for hint in shown["hints"] if hint["code"] == "looks_like_another_marker"]
    assert "Spring postcard" in hint["message"]
    # The first was processed alone: it names no duplicate.
    assert current(client, tenant, content)["duplicates"] == []


def test_a_look_alike_in_a_project_the_reader_cannot_see_is_counted_not_named(
    client: TestClient,
    tenant: Tenant,
    project: Project,
    content: ARContent,
    db: Session,
    processor: MarkerProcessor,
    detailed: bytes,
) -> None:
    secret = make_project(db, tenant.company, name="Secret")
    hidden = make_content(db, secret, "Unreleased poster")
    first = upload_marker(client, tenant, hidden, detailed)
    assert run(processor, db, first["id"]) == "ready"
    secret.restricted = True
    db.flush()
    copy = images.rotated_scaled_jpeg(detailed, degrees=15, scale=0.8)
    second = upload_marker(client, tenant, content, copy, "copy.jpg")
    assert run(processor, db, second["id"]) == "ready"

    url = content_url(tenant, content, "/marker")
    as_editor = client.get(url, headers=tenant.headers[Role.EDITOR]).json()
    assert (as_editor["duplicates"], as_editor["hidden_duplicates"]) == ([], 1)
    assert "Unreleased poster" not in str(as_editor)
    assert str(hidden.id) not in str(as_editor)
    [hint] = [h for h in as_editor["hints"] if h["code"] == "looks_like_another_marker"]
    assert "cannot see" in hint["message"]
    as_owner = client.get(url, headers=tenant.headers[Role.OWNER]).json()
    assert [found["content_title"] for found in as_owner["duplicates"]] == ["Unreleased poster"]
    assert as_owner["hidden_duplicates"] == 0


def test_deleted_contents_and_projects_hold_no_duplicates(
    client: TestClient,
    tenant: Tenant,
    project: Project,
    content: ARContent,
    db: Session,
    processor: MarkerProcessor,
    detailed: bytes,
) -> None:
    old_project = make_project(db, tenant.company, name="Last year")
    in_old_project = make_content(db, old_project, "Old postcard")
    for original in (content, in_old_project):
        marker = upload_marker(client, tenant, original, detailed)
        assert run(processor, db, marker["id"]) == "ready"
    owner = tenant.headers[Role.OWNER]
    projects = f"/api/v1/companies/{tenant.company.id}/projects"
    assert client.delete(content_url(tenant, content, ""), headers=owner).status_code == 204
    assert client.delete(f"{projects}/{old_project.id}", headers=owner).status_code == 204

    other = make_content(db, project, "Autumn postcard")
    copy = images.rotated_scaled_jpeg(detailed, degrees=15, scale=0.8)
    marker = upload_marker(client, tenant, other, copy, "copy.jpg")
    assert run(processor, db, marker["id"]) == "ready"
    shown = current(client, tenant, other)
    assert shown["duplicates"] == []
    assert "looks_like_another_marker" not in [hint["code"] for hint in shown["hints"]]


# --- the printed width ------------------------------------------------------------------------


def test_the_width_is_required_without_a_project_default(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session, detailed: bytes
) -> None:
    file_id = upload_file(client, tenant, detailed, "postcard.jpg")
    refused = post_marker(client, tenant, content, file_id, width_mm=None)
    assert_error(refused, 422, "marker_width_required")
    assert db.query(Marker).filter_by(ar_content_id=content.id).count() == 0

    project_url = f"/api/v1/companies/{tenant.company.id}/projects/{content.project_id}"
    changed = client.patch(
        project_url, json={"default_marker_width_mm": 210}, headers=tenant.headers[Role.OWNER]
    )
    assert changed.status_code == 200, changed.text
    defaulted = post_marker(client, tenant, content, file_id, width_mm=None)
    assert defaulted.status_code == 202, defaulted.text
    assert (defaulted.json()["width_mm"], defaulted.json()["width_m"]) == (210, 0.21)
    given = post_marker(client, tenant, content, file_id, width_mm=95)
    assert (given.json()["width_mm"], given.json()["width_m"]) == (95, 0.095)
    # Each upload is a marker; the newest is the current one.
    assert current(client, tenant, content)["id"] == given.json()["id"]
    history = client.get(
        content_url(tenant, content, "/markers"),
        params={"limit": 1},
        headers=tenant.headers[Role.VIEWER],
    ).json()
    assert (history["total"], history["limit"]) == (2, 1)
    assert [item["id"] for item in history["items"]] == [given.json()["id"]]


@pytest.mark.parametrize("width_mm", [19, 5001, 0, -150])
def test_a_width_out_of_range_is_refused(
    width_mm: int, client: TestClient, tenant: Tenant, content: ARContent, detailed: bytes
) -> None:
    file_id = upload_file(client, tenant, detailed, "postcard.jpg")
    error = assert_error(
        post_marker(client, tenant, content, file_id, width_mm=width_mm), 422, "validation_error"
    )
    assert "width_mm" in json.dumps(error["details"])


# --- what cannot be made a marker ---------------------------------------------------------


def stored_file(db: Session, tenant: Tenant, status: FileStatus, content_type: str) -> StoredFile:
    stored = StoredFile(
        company_id=tenant.company.id,
        status=status,
        filename="postcard.jpg",
        content_type=content_type,
        size_bytes=1000,
        storage_key=file_key(tenant.company.id, uuid.uuid4()),
    )
    db.add(stored)
    db.flush()
    return stored


MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(5000)


def test_a_file_that_is_not_an_image_is_refused(
    client: TestClient, tenant: Tenant, content: ARContent
) -> None:
    file_id = upload_file(client, tenant, MP4, "clip.mp4")
    error = assert_error(post_marker(client, tenant, content, file_id), 415, "not_an_image")
    assert error["details"] == {"content_type": "video/mp4"}


def test_a_file_still_uploading_conflicts(
    client: TestClient, tenant: Tenant, content: ARContent, db: Session
) -> None:
    uploading = stored_file(db, tenant, FileStatus.UPLOADING, "image/jpeg")
    response = post_marker(client, tenant, content, str(uploading.id))
    assert_error(response, 409, "upload_incomplete")


def test_another_companys_file_is_not_found(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    settings: Settings,
    detailed: bytes,
) -> None:
    other = make_tenant(db, settings, name="Other Postcards")
    theirs = upload_file(client, other, detailed, "theirs.jpg")
    error = assert_error(post_marker(client, tenant, content, theirs), 404, "not_found")
    assert error["details"]["entity"] == "File"


def test_an_archived_content_or_project_is_read_only(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    detailed: bytes,
) -> None:
    file_id = upload_file(client, tenant, detailed, "postcard.jpg")
    marker = post_marker(client, tenant, content, file_id).json()
    retry_url = content_url(tenant, content, f"/markers/{marker['id']}/retry")
    editor = tenant.headers[Role.EDITOR]

    content.status = ContentStatus.ARCHIVED
    db.flush()
    assert_error(post_marker(client, tenant, content, file_id), 409, "content_archived")
    assert_error(client.post(retry_url, headers=editor), 409, "content_archived")

    content.status = ContentStatus.DRAFT
    db.flush()
    project_url = f"/api/v1/companies/{tenant.company.id}/projects/{content.project_id}"
    archived = client.post(f"{project_url}/archive", headers=tenant.headers[Role.OWNER])
    assert archived.status_code == 200, archived.text
    assert_error(post_marker(client, tenant, content, file_id), 409, "project_archived")
    assert_error(client.post(retry_url, headers=editor), 409, "project_archived")
    # Still readable.
    assert current(client, tenant, content)["id"] == marker["id"]


def test_a_viewer_reads_but_cannot_upload_or_retry(
    client: TestClient, tenant: Tenant, content: ARContent, detailed: bytes
) -> None:
    file_id = upload_file(client, tenant, detailed, "postcard.jpg")
    refused = post_marker(client, tenant, content, file_id, role=Role.VIEWER)
    assert assert_error(refused, 403, "permission_denied")["details"]["required"] == (
        "content.write"
    )
    marker = post_marker(client, tenant, content, file_id).json()
    assert current(client, tenant, content)["id"] == marker["id"]
    retry = client.post(
        content_url(tenant, content, f"/markers/{marker['id']}/retry"),
        headers=tenant.headers[Role.VIEWER],
    )
    assert_error(retry, 403, "permission_denied")


def test_no_marker_yet_is_not_found(client: TestClient, tenant: Tenant, content: ARContent) -> None:
    response = client.get(
        content_url(tenant, content, "/marker"), headers=tenant.headers[Role.VIEWER]
    )
    assert_error(response, 404, "not_found")


# --- failures, retry and the watchdog -----------------------------------------------------


def test_a_marker_that_keeps_failing_ends_failed_and_a_retry_makes_it_ready(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    settings: Settings,
    processor: MarkerProcessor,
    broken_processor: MarkerProcessor,
    detailed: bytes,
) -> None:
    marker = upload_marker(client, tenant, content, detailed)
    task_id = marker_row(db, marker["id"]).task_id
    assert task_id
    outcomes = [
        broken_processor.run(uuid.UUID(marker["id"]), task_id)
        for _ in range(settings.MARKER_JOB_MAX_ATTEMPTS)
    ]
    assert [outcome.status for outcome in outcomes] == ["retry", "retry", "failed"]
    assert [outcome.retry_in for outcome in outcomes[:2]] == [10, 20]

    failed = current(client, tenant, content)
    assert failed["status"] == "failed"
    assert failed["attempts"] == settings.MARKER_JOB_MAX_ATTEMPTS
    assert "gave up after 3 attempts" in failed["failure_reason"]
    # The kind of failure, not the worker's own words (those go to the log).
    assert failed["failure_reason"].endswith("last error: the tracker compiler failed")
    assert "Node" not in failed["failure_reason"]
    assert failed["links"] is None
    # Out of attempts: a further delivery does nothing.
    assert broken_processor.run(uuid.UUID(marker["id"]), task_id).status == "skipped"

    get_redis(TEST_REDIS_URL).flushdb()
    retried = client.post(
        content_url(tenant, content, f"/markers/{marker['id']}/retry"),
        headers=tenant.headers[Role.EDITOR],
    )
    assert retried.status_code == 202, retried.text
    body = retried.json()
    assert (body["status"], body["attempts"], body["failure_reason"]) == ("queued", 0, None)
    new_task = marker_row(db, marker["id"]).task_id
    assert new_task not in (None, task_id)
    assert queued_tasks() == [(MARKER_PROCESS, new_task, [marker["id"]])]

    assert run(processor, db, marker["id"]) == "ready"
    shown = current(client, tenant, content)
    assert (shown["status"], shown["attempts"], shown["failure_reason"]) == ("ready", 1, None)
    assert shown["links"]["mind_target"]


def test_a_storage_failure_while_storing_the_outputs_is_retried(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    settings: Settings,
    processor: MarkerProcessor,
    detailed: bytes,
) -> None:
    marker = upload_marker(client, tenant, content, detailed)
    # A file where the marker's output folder goes: storing any output fails.
    keys = MarkerKeys(tenant.company.id, uuid.UUID(marker["id"]))
    blocker = settings.local_storage_root / keys.prefix.rstrip("/")
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"in the way")
    try:
        assert run(processor, db, marker["id"]) == "retry"
    finally:
        blocker.unlink()
    row = marker_row(db, marker["id"])
    assert (row.status, row.attempts) == (MarkerStatus.QUEUED, 1)
    assert row.last_error

    assert run(processor, db, marker["id"]) == "ready"
    shown = current(client, tenant, content)
    assert (shown["status"], shown["attempts"]) == ("ready", 2)
    fetch(client, shown["links"]["mind_target"])


class CompileThen:
    """The shared compiles, with `meanwhile` run during the first: a slow compile."""

    def __init__(self, compiles: SharedCompiles, meanwhile: Callable[[], None]) -> None:
        self.compiles = compiles
        self.meanwhile: Callable[[], None] | None = meanwhile

    def __call__(
        self,
        image_jpeg: bytes,
        *,
        timeout_seconds: float,
        memory_limit_mb: int,
        node_binary: str | None = None,
    ) -> CompiledTarget:
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            meanwhile()
        return self.compiles(
            image_jpeg,
            timeout_seconds=timeout_seconds,
            memory_limit_mb=memory_limit_mb,
            node_binary=node_binary,
        )


def test_a_worker_that_lost_its_lease_leaves_the_new_holders_outputs(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    session_factory: sessionmaker[Session],
    storage: StorageProvider,
    settings: Settings,
    compiles: SharedCompiles,
    processor: MarkerProcessor,
    detailed: bytes,
) -> None:
    marker = upload_marker(client, tenant, content, detailed)

    def lease_runs_out_and_another_worker_finishes() -> None:
        row = marker_row(db, marker["id"])
        row.lease_expires_at = utcnow() - timedelta(seconds=1)
        db.flush()
        assert processor.recover_lost(utcnow()) == {"requeued": 1, "failed": 0}
        assert run(processor, db, marker["id"]) == "ready"

    slow = MarkerProcessor(
        session_factory,
        storage,
        settings,
        compiler=CompileThen(compiles, lease_runs_out_and_another_worker_finishes),
    )
    first_task = marker_row(db, marker["id"]).task_id
    assert first_task
    assert slow.run(uuid.UUID(marker["id"]), first_task).status == "lost"

    shown = current(client, tenant, content)
    assert (shown["status"], shown["attempts"]) == ("ready", 2)
    for name in ("image", "preview", "heatmap"):
        fetch(client, shown["links"][name])
    target = read_mind_target(fetch(client, shown["links"]["mind_target"]).content)
    assert target.tracking_points == shown["tracking_points"]


def test_the_watchdog_requeues_a_lost_marker_and_fails_an_exhausted_one(
    client: TestClient,
    tenant: Tenant,
    project: Project,
    content: ARContent,
    db: Session,
    processor: MarkerProcessor,
    detailed: bytes,
) -> None:
    lost = upload_marker(client, tenant, content, detailed)
    other = make_content(db, project, "Autumn postcard")
    spent = upload_marker(client, tenant, other, detailed)
    for marker_id, attempts in ((lost["id"], 1), (spent["id"], 3)):
        row = marker_row(db, marker_id)
        row.status = MarkerStatus.PROCESSING
        row.attempts = attempts
        row.last_error = "compiling took longer than 180 s" if attempts == 3 else None
        row.lease_expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    old_task = marker_row(db, lost["id"]).task_id
    get_redis(TEST_REDIS_URL).flushdb()

    assert processor.recover_lost(utcnow()) == {"requeued": 1, "failed": 1}

    requeued = marker_row(db, lost["id"])
    assert requeued.status is MarkerStatus.QUEUED
    assert requeued.task_id not in (None, old_task)
    assert queued_tasks() == [(MARKER_PROCESS, requeued.task_id, [lost["id"]])]
    failed = current(client, tenant, other)
    assert failed["status"] == "failed"
    assert failed["failure_reason"] == (
        "gave up after 3 attempts; last error: compiling took longer than 180 s"
    )
    # The re-sent task runs the marker to the end.
    assert run(processor, db, lost["id"]) == "ready"
    assert current(client, tenant, content)["attempts"] == 2


def test_a_worker_told_to_stop_hands_the_marker_back_for_the_next_delivery(
    client: TestClient,
    tenant: Tenant,
    content: ARContent,
    db: Session,
    session_factory: sessionmaker[Session],
    storage: StorageProvider,
    settings: Settings,
    processor: MarkerProcessor,
    detailed: bytes,
) -> None:
    def stopped_mid_compile(image_jpeg: bytes, **_: object) -> CompiledTarget:
        raise WorkerStopping("SIGTERM")

    marker = upload_marker(client, tenant, content, detailed)
    task_id = marker_row(db, marker["id"]).task_id
    assert task_id
    stopping = MarkerProcessor(session_factory, storage, settings, compiler=stopped_mid_compile)
    with pytest.raises(WorkerStopping):
        stopping.run(uuid.UUID(marker["id"]), task_id)
    row = marker_row(db, marker["id"])
    db.refresh(row)
    # The attempt is refunded and the lease ended: the redelivered message takes it at once.
    assert (row.status, row.attempts, row.last_error) == (
        MarkerStatus.PROCESSING,
        0,
        "interrupted: the worker was stopped",
    )
    assert processor.run(uuid.UUID(marker["id"]), task_id).status == "ready"
