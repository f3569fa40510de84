"""What the benchmark scripts share: their own database, test data, clips, timing and the
printed report. Import this only after `bench.environment.prepare` (it imports `app`)."""

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from app.core.config import get_settings
from app.core.database import get_engine, session_scope
from app.core.storage import get_storage
from app.models import Company, FileStatus, StoredFile
from app.services.object_keys import file_key
from app.utils.ffmpeg import FfmpegConfig, MediaInfo, is_standard, keyframes_fit_segments, probe
from bench.environment import BenchEnvironment
from tests.support.databases import create_database, drop_database, migrate
from tests.support.media import make_clip

MIB = 1024 * 1024

# --- state ---------------------------------------------------------------------------


@contextmanager
def own_database(environment: BenchEnvironment) -> Iterator[Engine]:
    """Create and migrate the bench's database; drop it and the VAR_DIR afterwards."""
    engine = get_engine()
    try:
        create_database(environment.admin_url, environment.database_url)
        with engine.connect() as connection:
            migrate(connection, "upgrade", "head")
        yield engine
    finally:
        engine.dispose()
        drop_database(environment.admin_url, environment.database_url)
        environment.remove_var_dir()


def create_company(plan: str = "pro") -> uuid.UUID:
    with session_scope() as db:
        company = Company(
            name="Bench Postcards", slug=f"bench-{uuid.uuid4().hex[:10]}", plan=plan, settings={}
        )
        db.add(company)
    return company.id


def store_file(company_id: uuid.UUID, path: Path, content_type: str = "video/mp4") -> uuid.UUID:
    """An uploaded, available file: its bytes in storage, its row committed."""
    key = file_key(company_id, uuid.uuid4())
    get_storage().put_file(key, path, content_type)
    with session_scope() as db:
        stored = StoredFile(
            company_id=company_id,
            status=FileStatus.AVAILABLE,
            filename=path.name,
            content_type=content_type,
            size_bytes=path.stat().st_size,
            storage_key=key,
        )
        db.add(stored)
    return stored.id


# --- clips ---------------------------------------------------------------------------


def ffmpeg_config() -> FfmpegConfig:
    settings = get_settings()
    return FfmpegConfig(settings.FFMPEG_BINARY, settings.FFPROBE_BINARY)


@dataclass(frozen=True, slots=True)
class Clip:
    path: Path
    info: MediaInfo

    @property
    def summary(self) -> str:
        info = self.info
        megabits = (info.video_bit_rate or info.bit_rate or 0) / 1e6
        if not is_standard(info):
            standard = "not standard: re-encoded"
        elif keyframes_fit_segments(info):
            standard = "standard: copied"
        else:
            standard = "standard, but its keyframes miss the 4 s segments: re-encoded"
        return (
            f"{info.duration:.0f} s {info.display_width}x{info.display_height} {info.fps:g} fps "
            f"{info.video_codec}/{info.audio_codec or 'no audio'} at {megabits:.1f} Mbit/s "
            f"({standard})"
        )


def described(path: Path) -> Clip:
    return Clip(path, probe(path, ffmpeg_config()))


def make_1080p_clip(
    path: Path, seconds: float, vcodec: str = "libx264", gop: int | None = None
) -> Clip:
    """A moving 1920x1080 25 fps test picture with AAC sound (see tests/support/media.py);
    `gop` frames between keyframes (None: the encoder's default, 10 s for x264)."""
    clip = make_clip(path, width=1920, height=1080, seconds=seconds, vcodec=vcodec, gop=gop)
    return described(clip)


def make_phone_like_clip(path: Path, seconds: float, video_mbps: int = 16) -> Clip:
    """H.264 High 1080p25 with AAC, as a phone records it: at a bitrate (default 16 Mbit/s)
    above what the pipeline copies as is, so every rendition is a real encode. The grain
    keeps the encoder from reaching the bitrate with an empty picture."""
    picture = f"testsrc2=size=1920x1080:rate=25:duration={seconds},noise=alls=8:allf=t"
    tone = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    rate = f"{video_mbps}M"
    subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", picture, "-f", "lavfi", "-i", tone),
            *("-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"),
            *("-pix_fmt", "yuv420p", "-b:v", rate, "-maxrate", rate, "-bufsize", rate),
            *("-c:a", "aac", str(path)),
        ],
        check=True,
    )
    return described(path)


# --- measuring -----------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    """Wall-clock seconds `action` takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def wait_for(condition: Callable[[], bool], timeout: float, every: float, what: str) -> float:
    """Poll `condition` every `every` seconds; returns the seconds it took to hold."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - started


# --- reporting -----------------------------------------------------------------------


def print_header(title: str, details: Sequence[str], contention: "Contention") -> None:
    print(f"\n== {title}")
    for line in [*details, contention.note()]:
        print(f"   {line}")


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns as wide as their widest cell; the first left-aligned, the rest right."""
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[column]) for row in table) for column in range(len(header))]
    for row in table:
        cells = [
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print(("   " + "  ".join(cells)).rstrip())


def print_goal(measured: str, goal: str, met: bool) -> None:
    print(f"   {measured:<44} goal: {goal:<28} {'PASS' if met else 'MISS'}")


@dataclass(frozen=True, slots=True)
class Contention:
    """What else competed for the CPU: a CI run, and the load before the bench started (so
    that its own ffmpeg runs do not count; an earlier bench's tail still may)."""

    load_at_start: float
    ci_at_start: bool

    @classmethod
    def now(cls) -> "Contention":
        return cls(os.getloadavg()[0], ci_running())

    def note(self) -> str:
        ci = self.ci_at_start or ci_running()
        others = "a CI run was going on: figures include contention" if ci else "no CI run"
        return (
            f"machine: {os.cpu_count()} cores, 1-minute load average {self.load_at_start:.2f} "
            f"at the start; {others}"
        )


def ci_running() -> bool:
    found = subprocess.run(["pgrep", "-f", r"\.ci/run"], capture_output=True, check=False)
    return found.returncode == 0


def seconds(value: float) -> str:
    return f"{value:.2f}"
