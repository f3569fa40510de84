"""A green-screen video keyed into a stacked-alpha rendition by the real pipeline (in-process,
real ffmpeg, local storage): the colour on top, the alpha matte as luma below, transparent
where the green was. Keyed through the API on a video that plays, which keeps playing;
unkeyed, the rendition goes off the air and its files to the purge list."""

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.permissions import Role
from app.core.storage import StorageProvider
from app.models import (
    Company,
    RenditionKind,
    RenditionStatus,
    Video,
    VideoJob,
    VideoOutputPurge,
    VideoStatus,
)
from app.schemas.chroma_key import ChromaKey
from app.services.context import SystemActor
from app.services.object_keys import video_prefix
from app.services.storage_service import measure_usage
from app.services.tenant import ScopedService
from app.services.video_pipeline import VideoPipeline
from app.services.video_plan import plan_renditions
from app.utils.ffmpeg import FfmpegConfig, probe
from tests.support.factories import Tenant, make_tenant
from tests.support.media import FFMPEG, GREEN_SCREEN_SUBJECT, make_green_screen_clip
from tests.support.pipeline import VideoMaker, reloaded, renditions, run

WIDTH, HEIGHT = 320, 240
LEFT, TOP, SIDE = GREEN_SCREEN_SUBJECT
# Sampled in the first frame: a corner of the white square, the red square's centre, and
# green far from where the subject ever goes.
WHITE_AT = (LEFT + 8, TOP + 8)
RED_AT = (LEFT + SIDE // 2, TOP + SIDE // 2)
GREEN_AT = [(8, 8), (WIDTH - 8, HEIGHT - 8), (WIDTH // 2, 16)]


@pytest.fixture(scope="module")
def green_screen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("green_screen")
    return make_green_screen_clip(folder / "green_screen.mp4", width=WIDTH, height=HEIGHT)


@pytest.fixture
def tenant(db: Session, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


@pytest.fixture
def company(db: Session, tenant: Tenant) -> Company:
    """The pipeline's videos belong to the tenant, on a plan with HLS."""
    tenant.company.plan = "pro"
    db.flush()
    return tenant.company


def first_frame(mp4: Path, pix_fmt: str, channels: int) -> list[bytes]:
    """The first decoded frame as rows of pixels, `channels` bytes each."""
    raw = subprocess.run(
        [
            *(FFMPEG, "-nostdin", "-loglevel", "error", "-i", str(mp4)),
            *("-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    row = len(raw) // (2 * HEIGHT)
    assert row == WIDTH * channels, "the frame is not 320 wide and twice 240 tall"
    return [raw[start : start + row] for start in range(0, len(raw), row)]


def luma(rows: list[bytes], x: int, y: int) -> int:
    return rows[y][x]


def rgb(rows: list[bytes], x: int, y: int) -> tuple[int, ...]:
    return tuple(rows[y][3 * x : 3 * x + 3])


def test_a_chroma_key_plans_the_alpha_rendition_last_and_out_of_hls(green_screen: Path) -> None:
    info = probe(green_screen, FfmpegConfig())
    ladder = plan_renditions(info, 1080)
    keyed = plan_renditions(info, 1080, chroma_key=ChromaKey())
    assert keyed[:-1] == ladder
    assert all(rendition.in_hls for rendition in ladder)
    alpha = keyed[-1]
    assert (alpha.name, alpha.kind, alpha.in_hls) == ("alpha", RenditionKind.STACKED_ALPHA, False)


def test_a_keyed_video_gets_its_colour_over_its_alpha_matte(
    db: Session,
    pipeline: VideoPipeline,
    make_video: VideoMaker,
    green_screen: Path,
    storage: StorageProvider,
    company: Company,
    settings: Settings,
    tmp_path: Path,
) -> None:
    job = make_video(green_screen)
    db.get_one(Video, job.video_id).chroma_key = ChromaKey()
    db.flush()
    assert run(pipeline, job).status == "succeeded"

    video, _ = reloaded(db, job)
    assert video.status == VideoStatus.READY
    live = renditions(db, video.id)
    alpha = live.pop("alpha")
    assert (alpha.kind, alpha.status) == (RenditionKind.STACKED_ALPHA, RenditionStatus.DONE)
    assert (alpha.width, alpha.height) == (WIDTH, 2 * HEIGHT)
    assert alpha.hls_playlist_key is None
    assert {row.kind for row in live.values()} == {RenditionKind.LADDER}
    with storage.open_read(video.hls_master_key or "-") as playlist:
        master = playlist.read().decode()
    assert "alpha" not in master
    assert master.count("#EXT-X-STREAM-INF") == len(live)

    mp4 = tmp_path / "alpha.mp4"
    storage.download_file(alpha.mp4_key or "-", mp4)
    info = probe(mp4, FfmpegConfig(), keyframes=False)
    assert (info.video_codec, info.pix_fmt, info.width, info.height) == (
        "h264",
        "yuv420p",
        WIDTH,
        2 * HEIGHT,
    )
    assert info.has_audio
    assert 0 <= mp4.read_bytes().find(b"moov") < mp4.read_bytes().find(b"mdat"), "not faststart"

    matte = first_frame(mp4, "gray", 1)
    for x, y in GREEN_AT:
        assert luma(matte, x, HEIGHT + y) <= 16, f"green at {x},{y} is not transparent"
    for x, y in (WHITE_AT, RED_AT):
        assert luma(matte, x, HEIGHT + y) >= 239, f"the subject at {x},{y} is not opaque"
    colour = first_frame(mp4, "rgb24", 3)
    white, red = rgb(colour, *WHITE_AT), rgb(colour, *RED_AT)
    assert min(white) >= 225, white
    assert red[0] >= 225, red
    assert max(red[1:]) <= 30, red

    scope = ScopedService(db, SystemActor(company.id, task="test"))
    stored = list(storage.list(video_prefix(company.id, video.id)))
    assert measure_usage(scope, company).derived_bytes == sum(item.size for item in stored)


def test_keying_a_playing_video_keeps_it_on_the_air_until_unkeyed(
    db: Session,
    client: TestClient,
    tenant: Tenant,
    pipeline: VideoPipeline,
    make_video: VideoMaker,
    green_screen: Path,
    settings: Settings,
    tmp_path: Path,
) -> None:
    job = make_video(green_screen)
    assert run(pipeline, job).status == "succeeded"
    video, _ = reloaded(db, job)
    ladder = {name: row.mp4_key for name, row in renditions(db, video.id).items()}
    url = f"/api/v1/companies/{tenant.company.id}/videos/{video.id}/chroma-key"
    editor = tenant.headers[Role.EDITOR]

    keyed = client.put(url, json={"color": "#00ff00", "similarity": 0.1}, headers=editor)
    assert keyed.status_code == 200, keyed.text
    body = keyed.json()
    assert body["status"] == "ready"
    assert (body["job"]["kind"], body["job"]["target"]) == ("rendition", "alpha")
    assert [r["name"] for r in body["renditions"]] == list(ladder)

    assert run(pipeline, db.get_one(VideoJob, uuid.UUID(body["job"]["id"]))).status == ("succeeded")
    video, _ = reloaded(db, job)
    assert video.status == VideoStatus.READY
    live = renditions(db, video.id)
    assert {name: row.mp4_key for name, row in live.items() if name != "alpha"} == ladder
    links = media_links(client, tenant, video)
    assert set(links["renditions"]) == set(ladder)
    linked = tmp_path / "linked.mp4"
    linked.write_bytes(client.get(links["stacked_alpha"]).content)
    assert probe(linked, FfmpegConfig(), keyframes=False).height == 2 * HEIGHT

    alpha_key = live["alpha"].mp4_key
    unkeyed = client.delete(url, headers=editor)
    assert unkeyed.status_code == 200, unkeyed.text
    assert unkeyed.json()["chroma_key"] is None
    assert [r["name"] for r in unkeyed.json()["renditions"]] == list(ladder)
    assert media_links(client, tenant, video)["stacked_alpha"] is None
    purges = db.scalars(select(VideoOutputPurge.key).where(VideoOutputPurge.video_id == video.id))
    assert alpha_key in set(purges)


def media_links(client: TestClient, tenant: Tenant, video: Video) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/companies/{tenant.company.id}/videos/{video.id}/media-links",
        headers=tenant.headers[Role.VIEWER],
    )
    assert response.status_code == 200, response.text
    links: dict[str, Any] = response.json()
    return links
