"""Time to playable: from the commit that creates a video (its upload already complete) to
the video's status reading `playable` in PostgreSQL, with a real Celery worker.

A company on the `pro` plan; each 60 s 1920x1080 25 fps clip is stored as an available
file first. A real worker process (`-Q media,default`, concurrency 1, pointed at this
bench's database, Redis and VAR_DIR) is started and proven ready with a `system.ping`
round trip. Then, per clip, one transaction commits the video and its job (as
`VideoService.create` does; the task is sent when the commit succeeds) and the status is
polled every 50 ms until `playable`, then until `ready` (for context).

Goals: a standard H.264/AAC clip with a camera's 2 s keyframes (copied as is) playable in
under 3 s; a clip that must be encoded (HEVC, or MPEG-4 Part 2 without libx265) playable in
under 1.0x its duration. The same H.264 clip with x264's default 10 s keyframes is reported
too: its top rung is encoded so that its HLS segments are 4 s, like every other rung's.

    PYTHONPATH=ARV .venv/bin/python ARV/bench/time_to_playable.py [--seconds S]
"""

import argparse
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from celery.exceptions import TimeoutError as CeleryTimeoutError

from bench.environment import prepare

BENCH = prepare("time_to_playable")
# The application reads its settings at import: the environment above must come first.
from app.background_tasks.celery_app import celery_app  # noqa: E402
from app.background_tasks.names import QUEUE_DEFAULT, QUEUE_MEDIA, SYSTEM_PING  # noqa: E402
from app.core.config import get_settings  # noqa: E402
from app.core.database import session_scope  # noqa: E402
from app.models import JobKind, PipelineStage, Video, VideoStatus  # noqa: E402
from app.services.video_service import new_job  # noqa: E402
from bench.common import (  # noqa: E402
    Clip,
    Contention,
    create_company,
    make_1080p_clip,
    own_database,
    print_goal,
    print_header,
    print_table,
    seconds,
    store_file,
    wait_for,
)
from tests.support.media import has_encoder  # noqa: E402
from tests.support.processes import celery_worker_command, project_env, running  # noqa: E402

POLL_SECONDS = 0.05
WORKER_START_TIMEOUT = 120.0
PROCESSING_TIMEOUT = 900.0
STANDARD_GOAL_SECONDS = 3.0
ENCODED_GOAL_RATIO = 1.0


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    clip: Clip


@dataclass(frozen=True, slots=True)
class Timing:
    case: Case
    playable: float
    ready: float

    @property
    def duration(self) -> float:
        return self.case.clip.info.duration


def main() -> None:
    options = parse_options()
    contention = Contention.now()
    with own_database(BENCH):
        cases = make_cases(options.seconds)
        company_id = create_company(plan="pro")
        with celery_worker(BENCH.var_dir / "worker.log") as log:
            timings = [measure(case, company_id, log) for case in cases]
    report(timings, contention)


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of each clip")
    return parser.parse_args()


def make_cases(clip_seconds: float) -> list[Case]:
    """A standard clip with a camera's 2 s keyframes (copied), the same with x264's default
    10 s keyframes (its top rung is encoded: its HLS segments could not be 4 s), then one
    that must be encoded (as tests/support/media.py picks)."""
    folder = BENCH.var_dir / "clips"
    folder.mkdir()
    encoded_name, vcodec = (
        ("HEVC/AAC", "libx265") if has_encoder("libx265") else ("MPEG-4 Part 2/AAC", "mpeg4")
    )
    return [
        Case(
            "standard H.264/AAC, 2 s GOP",
            make_1080p_clip(folder / "standard.mp4", clip_seconds, gop=50),
        ),
        Case(
            "H.264/AAC, 10 s GOP",
            make_1080p_clip(folder / "long_gop.mp4", clip_seconds),
        ),
        Case(encoded_name, make_1080p_clip(folder / "encoded.mp4", clip_seconds, vcodec=vcodec)),
    ]


@contextmanager
def celery_worker(log: Path) -> Iterator[Path]:
    """A real worker on the media and default queues, answering pings before it is used."""
    command = celery_worker_command(QUEUE_MEDIA, QUEUE_DEFAULT)
    with running(command, project_env(), log):
        try:
            celery_app.send_task(SYSTEM_PING, queue=QUEUE_DEFAULT).get(timeout=WORKER_START_TIMEOUT)
        except CeleryTimeoutError as error:
            raise RuntimeError(f"the worker did not answer; its log:\n{log.read_text()}") from error
        yield log


def measure(case: Case, company_id: uuid.UUID, log: Path) -> Timing:
    file_id = store_file(company_id, case.clip.path)  # the upload is complete before the clock
    video_id, committed_at = commit_video(company_id, file_id, case.name)

    def reached(*statuses: VideoStatus) -> bool:
        return current_status(video_id, log) in statuses

    wait_for(
        lambda: reached(VideoStatus.PLAYABLE, VideoStatus.READY),
        PROCESSING_TIMEOUT,
        POLL_SECONDS,
        f"{case.name} to become playable",
    )
    playable = time.monotonic() - committed_at
    wait_for(
        lambda: reached(VideoStatus.READY), PROCESSING_TIMEOUT, POLL_SECONDS, f"{case.name} ready"
    )
    return Timing(case, playable, time.monotonic() - committed_at)


def commit_video(company_id: uuid.UUID, file_id: uuid.UUID, title: str) -> tuple[uuid.UUID, float]:
    """The rows `VideoService.create` writes; the clock starts as the commit begins (the
    task is sent once it succeeds, so sending counts too)."""
    with session_scope() as db:
        video = Video(
            company_id=company_id,
            file_id=file_id,
            title=title,
            status=VideoStatus.UPLOADED,
            stage=PipelineStage.QUEUED,
        )
        db.add(video)
        db.flush()
        new_job(db, video, JobKind.PROCESS, get_settings())
        committed_at = time.monotonic()
    return video.id, committed_at


def current_status(video_id: uuid.UUID, log: Path) -> VideoStatus:
    with session_scope() as db:
        video = db.get_one(Video, video_id)
        if video.status == VideoStatus.FAILED:
            raise RuntimeError(
                f"processing failed at {video.failed_stage}: {video.failure_reason}; "
                f"worker log:\n{log.read_text()}"
            )
        return video.status


def report(timings: list[Timing], contention: Contention) -> None:
    standard, _long_gop, encoded = timings
    print_header(
        "time to playable: from the commit of a new video to status `playable`",
        [f"{timing.case.name}: {timing.case.clip.summary}" for timing in timings]
        + ["a real Celery worker (-Q media,default, concurrency 1); status polled every 50 ms"],
        contention,
    )
    print_table(
        ["clip", "playable s", "x duration", "ready s", "x duration"],
        [
            [
                timing.case.name,
                seconds(timing.playable),
                f"{timing.playable / timing.duration:.2f}",
                seconds(timing.ready),
                f"{timing.ready / timing.duration:.2f}",
            ]
            for timing in timings
        ],
    )
    print_goal(
        f"{standard.case.name} playable: {seconds(standard.playable)} s",
        f"under {STANDARD_GOAL_SECONDS:g} s",
        standard.playable < STANDARD_GOAL_SECONDS,
    )
    ratio = encoded.playable / encoded.duration
    print_goal(
        f"{encoded.case.name} playable: {ratio:.2f}x duration",
        f"under {ENCODED_GOAL_RATIO:.1f}x duration",
        ratio < ENCODED_GOAL_RATIO,
    )


if __name__ == "__main__":
    main()
