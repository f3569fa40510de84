"""The WebAR viewer page in a real browser: Debian's headless Chromium whose camera is a
.y4m file of the printed marker on a table, against a real API process serving a content
published with a compiled MindAR target and a video through the real pipeline. With the
marker in view the page finds it and plays the video over it; with another picture in
view it finds nothing."""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from app.core.config import Settings
from app.core.database import session_scope
from app.core.permissions import Role
from app.core.storage import StorageProvider, build_storage
from app.models import (
    ARContent,
    Company,
    FileStatus,
    JobKind,
    PipelineStage,
    StoredFile,
    User,
    Video,
    VideoStatus,
    ViewerEvent,
    ViewerEventKind,
)
from app.services.storage_service import file_key
from app.services.video_pipeline import VideoPipeline
from app.services.video_service import new_job
from app.utils.mind_compiler import compile_mind_target
from tests.support.chromium import Page, fake_camera_browser
from tests.support.factories import make_content, make_marker, make_project, make_tenant
from tests.support.marker_images import detailed_jpeg, detailed_picture
from tests.support.media import ffmpeg
from tests.support.processes import free_port, project_env, running, uvicorn_command, wait_until
from tests.support.publishing import schedule

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

MARKER_SEED = 11
# Small enough to compile in about ten seconds, detailed enough to track.
MARKER_SIZE = (640, 480)
UNRELATED_SEED = 12
# The video is one colour no marker or background has, so the screenshot shows it.
VIDEO_COLOUR = (255, 0, 255)
FIND_TIMEOUT = 20.0
NOT_FOUND_WAIT = 15.0


@dataclass(frozen=True)
class Served:
    page_url: str
    content_id: uuid.UUID
    folder: Path
    api_log: Path


def _magenta_clip(path: Path) -> Path:
    """Six seconds of a flat magenta picture with a small moving box, and a tone."""
    picture = "color=c=0xFF00FF:size=640x360:rate=25:duration=6,format=yuv420p"
    box = "drawbox=x='mod(t*80,600)':y=160:w=40:h=40:color=white:t=fill"
    tone = "sine=frequency=440:sample_rate=48000:duration=6"
    ffmpeg(
        "-f", "lavfi", "-i", f"{picture},{box}", "-f", "lavfi", "-i", tone,
        "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(path),
    )  # fmt: skip
    return path


def _camera_file(picture: Image.Image, path: Path) -> Path:
    """The camera's view (.y4m, as Chromium's fake camera needs): `picture` at 60% of the
    frame's width, centred on a grey table."""
    framed = picture.copy()
    framed.thumbnail((384, 384))
    table = Image.new("RGB", (640, 480), (96, 96, 96))
    table.paste(framed, ((640 - framed.width) // 2, (480 - framed.height) // 2))
    still = path.with_suffix(".png")
    table.save(still)
    ffmpeg("-loop", "1", "-i", str(still), "-t", "1", "-r", "10", "-pix_fmt", "yuv420p", str(path))
    return path


def _processed_video(
    engine: Engine, storage: StorageProvider, settings: Settings, company_id: uuid.UUID, clip: Path
) -> uuid.UUID:
    """A video through the real media pipeline, in-process."""
    with session_scope() as db:
        stored = StoredFile(
            company_id=company_id,
            status=FileStatus.AVAILABLE,
            filename=clip.name,
            content_type="video/mp4",
            size_bytes=clip.stat().st_size,
            storage_key=file_key(company_id, uuid.uuid4()),
        )
        storage.put_file(stored.storage_key, clip, "video/mp4")
        db.add(stored)
        db.flush()
        video = Video(
            company_id=company_id,
            file_id=stored.id,
            title="Greeting",
            status=VideoStatus.UPLOADED,
            stage=PipelineStage.QUEUED,
        )
        db.add(video)
        db.flush()
        job = new_job(db, video, JobKind.PROCESS, settings)
        job_id, task_id, video_id = job.id, job.task_id, video.id
    assert task_id
    VideoPipeline(sessionmaker(engine), storage, settings).run(job_id, task_id)
    return video_id


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False


@dataclass(frozen=True)
class Seeded:
    company_id: uuid.UUID
    users: list[uuid.UUID]
    admin: dict[str, str]
    content: ARContent


def _seed(settings: Settings, storage: StorageProvider, folder: Path) -> Seeded:
    """A tenant's draft content whose marker is the picture, its target compiled."""
    marker_jpeg = detailed_jpeg(MARKER_SEED, MARKER_SIZE)
    target = compile_mind_target(
        marker_jpeg,
        timeout_seconds=settings.MIND_COMPILE_TIMEOUT_SECONDS,
        memory_limit_mb=settings.MIND_COMPILE_MEMORY_MB,
    )
    (folder / "marker.jpg").write_bytes(marker_jpeg)
    (folder / "target.mind").write_bytes(target.data)
    with session_scope() as db:
        tenant = make_tenant(db, settings)
        content = make_content(db, make_project(db, tenant.company), "Birthday card")
        marker = make_marker(db, content, width=target.width, height=target.height)
        assert marker.image_key
        assert marker.mind_key
        storage.put_file(marker.image_key, folder / "marker.jpg", "image/jpeg")
        storage.put_file(marker.mind_key, folder / "target.mind", "application/octet-stream")
        users = [user.id for user in tenant.users.values()]
        return Seeded(tenant.company.id, users, tenant.headers[Role.ADMIN], content)


@pytest.fixture(scope="module")
def served(
    engine: Engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A content published with a compiled target of the marker picture and a processed
    video, behind a real API process."""
    folder = tmp_path_factory.mktemp("viewer")
    storage = build_storage(settings)
    seeded = _seed(settings, storage, folder)
    content = seeded.content
    try:
        clip = _magenta_clip(folder / "clip.mp4")
        video_id = _processed_video(engine, storage, settings, seeded.company_id, clip)
        with session_scope() as db:
            schedule(db, db.get_one(ARContent, content.id), db.get_one(Video, video_id))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api_log = folder / "api.log"
        with running(uvicorn_command(port), project_env(API_PUBLIC_URL=base), api_log):
            wait_until(lambda: _answers(f"{base}/health"), 30, "the API")
            contents = f"{base}/api/v1/companies/{seeded.company_id}/projects/{content.project_id}"
            publish = f"{contents}/ar-contents/{content.id}/publish"
            published = httpx2.post(publish, headers=seeded.admin)
            assert published.status_code == 201, published.text
            yield Served(f"{base}/v/{content.public_id}", content.id, folder, api_log)
    finally:
        with session_scope() as db:
            db.execute(delete(Company).where(Company.id == seeded.company_id))
            db.execute(delete(User).where(User.id.in_(seeded.users)))


def _reported(served: Served) -> dict[ViewerEventKind, int | None]:
    """The viewer events stored for the content: each kind and its time to detect."""
    with session_scope() as db:
        rows = db.execute(
            select(ViewerEvent.kind, ViewerEvent.time_to_detect_ms).where(
                ViewerEvent.ar_content_id == served.content_id
            )
        )
        return {kind: took for kind, took in rows}  # noqa: C416 (rows, not pairs)


def _viewer_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] | None = page.evaluate("window.__arvViewer ?? null")
    return state or {}


def _poll(page: Page, until: float, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The page's state once `done` holds of it, or its last state at `until`."""
    state = _viewer_state(page)
    while not done(state) and time.monotonic() < until:
        time.sleep(0.25)
        state = _viewer_state(page)
    return state


def _playing(state: dict[str, Any]) -> bool:
    return bool(state.get("markerFound")) and state.get("videoCurrentTime", 0) > 0.5


def _share_of_video_colour(screenshot: Path) -> float:
    """How much of the screen's middle (where the marker is) shows the video's colour."""
    image = Image.open(screenshot).convert("RGB")
    w, h = image.size
    middle = np.asarray(image.crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4))).astype(int)
    distance = np.abs(middle - np.array(VIDEO_COLOUR)).max(axis=2)
    return float((distance < 60).mean())


def test_the_page_finds_the_marker_and_plays_the_video_over_it(served: Served) -> None:
    camera = _camera_file(
        detailed_picture(MARKER_SEED, MARKER_SIZE), served.folder / "marker-view.y4m"
    )
    launched = time.monotonic()
    with fake_camera_browser(camera, served.folder / "found") as page:
        page.navigate(served.page_url)
        state = _poll(page, launched + FIND_TIMEOUT, _playing)
        took = time.monotonic() - launched
        screenshot = page.screenshot(served.folder / "found.png")
        log.info("viewer %s; playing %.1fs after launch; screenshot %s", state, took, screenshot)
        assert _playing(state), f"{state}\n{served.api_log.read_text()[-3000:]}"
        wait_until(lambda: len(_reported(served)) >= 3, 10, "the viewer's events")
    assert state["status"] == "tracking"
    assert 0 < state["foundAfterMs"] <= state["firstFrameAfterMs"]
    assert _share_of_video_colour(screenshot) > 0.15
    events = _reported(served)
    assert set(events) >= {ViewerEventKind.PAGE_OPEN, ViewerEventKind.VIDEO_START}
    assert 0 <= (events[ViewerEventKind.MARKER_FOUND] or -1) <= state["foundAfterMs"]


def test_an_unrelated_picture_is_not_found(served: Served) -> None:
    camera = _camera_file(
        detailed_picture(UNRELATED_SEED, MARKER_SIZE), served.folder / "other-view.y4m"
    )
    with fake_camera_browser(camera, served.folder / "other") as page:
        page.navigate(served.page_url)
        scanning = _poll(
            page, time.monotonic() + FIND_TIMEOUT, lambda s: s.get("status") == "scanning"
        )
        assert scanning.get("status") == "scanning", scanning
        state = _poll(page, time.monotonic() + NOT_FOUND_WAIT, lambda s: bool(s.get("markerFound")))
        screenshot = page.screenshot(served.folder / "not-found.png")
    assert state["markerFound"] is False, state
    assert state["videoCurrentTime"] == 0
    assert _share_of_video_colour(screenshot) < 0.01


def test_without_a_camera_the_page_plays_the_video_in_a_plain_player(served: Served) -> None:
    with fake_camera_browser(None, served.folder / "no-camera") as page:
        page.navigate(served.page_url)
        state = _poll(
            page, time.monotonic() + FIND_TIMEOUT, lambda s: s.get("status") == "fallback"
        )
        player = page.evaluate(
            "(({hidden, src, poster}) => ({hidden, src, poster}))"
            "(document.getElementById('arv-fallback'))"
        )
    assert state["status"] == "fallback", state
    assert state["markerFound"] is False
    assert player["hidden"] is False
    assert "/api/v1/storage/local/objects/" in player["src"]
    assert player["poster"]
