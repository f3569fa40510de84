"""Pipeline overhead: our whole transcode step for one rendition against the bare ffmpeg
encode inside it.

A 60 s 1920x1080 25 fps H.264 clip at a phone's bitrate (not standard, so it is encoded,
never copied) is stored as an uploaded file. Its playable-first rendition (720p, the
pipeline's preset, the argv `transcode_command` builds) is made three ways, round-robin,
and each way's best run counts:

1. bare: that argv run by `subprocess.run`, nothing read from its pipes;
2. `app.utils.ffmpeg.run` of the same argv, its progress parsed (the callback does nothing);
3. the full step: `VideoPipeline.run` of a rendition job (what `VideoService.reencode`
   queues) in this process: claim, download from storage, probe, the encode with progress
   and lease renewal in PostgreSQL every second, upload, HLS remux and upload, the master
   playlist and the database updates.

Goal: 3 takes under 1.10x as long as 1.

    PYTHONPATH=ARV .venv/bin/python ARV/bench/pipeline_overhead.py [--rounds N] [--seconds S]
"""

import argparse
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.environment import prepare

BENCH = prepare("pipeline_overhead")
# The application reads its settings at import: the environment above must come first.
from sqlalchemy import select  # noqa: E402

from app.core.config import get_settings  # noqa: E402
from app.core.database import get_session_factory, session_scope  # noqa: E402
from app.core.storage import get_storage  # noqa: E402
from app.models import (  # noqa: E402
    JobKind,
    JobStatus,
    PipelineStage,
    RenditionStatus,
    Video,
    VideoJob,
    VideoRendition,
    VideoStatus,
)
from app.services.video_pipeline import FAST_PRESET, VideoPipeline  # noqa: E402
from app.services.video_plan import PlannedRendition, plan_renditions  # noqa: E402
from app.utils.clock import utcnow  # noqa: E402
from app.utils.ffmpeg import Rung, run, transcode_command  # noqa: E402
from bench.common import (  # noqa: E402
    Clip,
    Contention,
    create_company,
    ffmpeg_config,
    make_phone_like_clip,
    own_database,
    print_goal,
    print_header,
    print_table,
    seconds,
    store_file,
    timed,
)

GOAL_RATIO = 1.10
# Renditions are capped at the company's `max_resolution` default, 1080 unless changed.
CAP_SHORT_SIDE = 1080


@dataclass(frozen=True, slots=True)
class Way:
    label: str
    once: Callable[[], object]
    """Timed."""
    before: Callable[[], object] = lambda: None
    """Not timed: what each run needs first."""


def main() -> None:
    options = parse_options()
    contention = Contention.now()
    with own_database(BENCH):
        clip = make_phone_like_clip(BENCH.var_dir / "phone.mp4", options.seconds)
        rendition = plan_renditions(clip.info, CAP_SHORT_SIDE)[0]
        if rendition.rung is None:
            raise SystemExit(f"the clip would be copied, not encoded: {clip.summary}")
        ways = [
            bare_ffmpeg(clip, rendition.rung),
            wrapped_ffmpeg(clip, rendition.rung),
            full_step(clip, rendition),
        ]
        runs = measure_round_robin(ways, options.rounds)
    report(clip, rendition, options.rounds, ways, runs, contention)


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of each way (best counts)")
    parser.add_argument("--seconds", type=float, default=60, help="length of the clip")
    return parser.parse_args()


# --- the three ways ------------------------------------------------------------------


def bare_ffmpeg(clip: Clip, rung: Rung) -> Way:
    def execute(argv: list[str]) -> None:
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)

    return encoding("bare ffmpeg, same argv", clip, rung, execute)


def wrapped_ffmpeg(clip: Clip, rung: Rung) -> Way:
    def execute(argv: list[str]) -> None:
        run(argv, ffmpeg_config(), duration=clip.info.duration, on_progress=lambda _: None)

    return encoding("app.utils.ffmpeg.run, progress parsed", clip, rung, execute)


def encoding(label: str, clip: Clip, rung: Rung, execute: Callable[[list[str]], object]) -> Way:
    """The pipeline's encode of `rung` (same argv, same preset) into a folder of its own."""
    output = Path(tempfile.mkdtemp(dir=BENCH.var_dir)) / f"{rung.name}.mp4"
    argv = transcode_command(clip.path, output, clip.info, rung, ffmpeg_config(), FAST_PRESET)

    def once() -> None:
        execute(argv)
        output.unlink()

    return Way(label, once)


def full_step(clip: Clip, rendition: PlannedRendition) -> Way:
    pipeline = VideoPipeline(get_session_factory(), get_storage(), get_settings())
    video_id = create_video(create_company(plan="pro"), clip, rendition)
    jobs: list[tuple[uuid.UUID, str]] = []

    def before() -> None:
        jobs.append(queue_rendition_job(video_id, rendition.name))

    def once() -> None:
        outcome = pipeline.run(*jobs[-1])
        if outcome.status != "succeeded":
            raise RuntimeError(f"the rendition job did not succeed: {outcome}")

    return Way("VideoPipeline.run, rendition job", once, before)


def create_video(company_id: uuid.UUID, clip: Clip, rendition: PlannedRendition) -> uuid.UUID:
    file_id = store_file(company_id, clip.path)
    with session_scope() as db:
        video = Video(
            company_id=company_id,
            file_id=file_id,
            title="pipeline overhead",
            status=VideoStatus.UPLOADED,
            stage=PipelineStage.QUEUED,
        )
        db.add(video)
        db.flush()
        db.add(
            VideoRendition(
                company_id=company_id,
                video_id=video.id,
                name=rendition.name,
                short_side=rendition.short_side,
                is_copy=False,
                status=RenditionStatus.WAITING,
            )
        )
    return video.id


def queue_rendition_job(video_id: uuid.UUID, rendition: str) -> tuple[uuid.UUID, str]:
    """What `VideoService.reencode` commits (the rendition waiting, a job for it), without
    sending the task: this process runs the pipeline itself."""
    task_id = str(uuid.uuid4())
    with session_scope() as db:
        row = db.scalars(
            select(VideoRendition).where(
                VideoRendition.video_id == video_id, VideoRendition.name == rendition
            )
        ).one()
        row.status = RenditionStatus.WAITING
        row.percent = 0.0
        job = VideoJob(
            company_id=row.company_id,
            video_id=video_id,
            kind=JobKind.RENDITION,
            target=rendition,
            status=JobStatus.QUEUED,
            max_attempts=get_settings().VIDEO_JOB_MAX_ATTEMPTS,
            queued_at=utcnow(),
            task_id=task_id,
        )
        db.add(job)
    return job.id, task_id


# --- measuring and reporting ---------------------------------------------------------


def measure_round_robin(ways: list[Way], rounds: int) -> list[list[float]]:
    """Each way once per round, in turn, so that a slow spell hits all of them alike."""
    runs: list[list[float]] = [[] for _ in ways]
    for _ in range(rounds):
        for way, times in zip(ways, runs, strict=True):
            way.before()
            times.append(timed(way.once))
    return runs


def report(
    clip: Clip,
    rendition: PlannedRendition,
    rounds: int,
    ways: list[Way],
    runs: list[list[float]],
    contention: Contention,
) -> None:
    print_header(
        f"pipeline overhead: the {rendition.name} rendition of a {clip.summary}",
        [f"preset {FAST_PRESET}; each way run {rounds}x round-robin, the best run counts"],
        contention,
    )
    best = [min(times) for times in runs]
    print_table(
        ["way", "best s", "runs s"],
        [
            [way.label, seconds(fastest), " ".join(seconds(t) for t in times)]
            for way, fastest, times in zip(ways, best, runs, strict=True)
        ],
    )
    if rounds > 1:
        spread = max(max(times) / min(times) - 1 for times in runs)
        print(f"   run-to-run noise: one way's runs differ by up to {spread:.1%}")
    bare, wrapped, full = best
    print(f"   app.utils.ffmpeg.run / bare: {wrapped / bare:.3f}x (context)")
    print_goal(
        f"full step / bare: {full / bare:.3f}x",
        f"under {GOAL_RATIO:.2f}x",
        full / bare < GOAL_RATIO,
    )


if __name__ == "__main__":
    main()
