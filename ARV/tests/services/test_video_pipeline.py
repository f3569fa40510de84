"""The media pipeline, run in-process on real ffmpeg and the local provider, against the
test's PostgreSQL transaction: renditions, HLS, stills, failures, retries, idempotency."""

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.storage import StorageProvider
from app.models import (
    Company,
    JobKind,
    JobStatus,
    PipelineStage,
    RenditionStatus,
    VideoJob,
    VideoStatus,
)
from app.services.context import SystemActor
from app.services.leases import recover_expired
from app.services.object_keys import job_output_prefix, video_prefix
from app.services.storage_service import measure_usage
from app.services.tenant import ScopedService
from app.services.video_outputs import purge_due
from app.services.video_pipeline import VideoPipeline
from app.services.video_plan import plan_renditions
from app.services.video_service import new_job
from app.utils.clock import utcnow
from app.utils.ffmpeg import FfmpegConfig, MediaInfo, is_standard, probe
from app.utils.media_probe import HLS_SEGMENT_SECONDS, SEGMENT_TOLERANCE_SECONDS
from tests.support.media import Clips, make_clip
from tests.support.pipeline import VideoMaker, reloaded, renditions, run

FFMPEG = FfmpegConfig()


def system_scope(db: Session, company: Company) -> ScopedService:
    return ScopedService(db, SystemActor(company.id, task="test"))


def moov_before_mdat(path: Path) -> bool:
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")


def test_standard_source_is_copied_then_the_ladder_filled(
    db: Session,
    pipeline: VideoPipeline,
    make_video: VideoMaker,
    storage: StorageProvider,
    tmp_path: Path,
    settings: Settings,
) -> None:
    clip = make_clip(tmp_path / "hd.mp4", width=1280, height=720, seconds=2, audio=True)
    job = make_video(clip)
    assert run(pipeline, job).status == "succeeded"

    video, job = reloaded(db, job)
    assert video.status == VideoStatus.READY
    assert video.source_is_standard is True
    assert video.playable_at is not None
    assert video.ready_at is not None
    assert video.playable_at <= video.ready_at
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    rows = renditions(db, video.id)
    assert set(rows) == {"720p", "360p"}
    assert rows["720p"].is_copy
    assert not rows["360p"].is_copy
    assert all(row.status == RenditionStatus.DONE for row in rows.values())
    assert (rows["360p"].width, rows["360p"].height) == (640, 360)

    local = settings.local_storage_root
    small = local / rows["360p"].mp4_key  # type: ignore[operator]
    info = probe(small, FFMPEG)
    assert (info.video_codec, info.display_width, info.display_height) == ("h264", 640, 360)
    assert info.has_audio
    assert moov_before_mdat(small)
    master = (local / video.hls_master_key).read_text()  # type: ignore[operator]
    assert "720p/index.m3u8" in master
    assert "360p/index.m3u8" in master
    outputs = job_output_prefix(video.company_id, video.id, job.id)
    assert storage.exists(f"{outputs}hls/360p/index.m3u8")
    assert storage.exists(video.poster_key or "-")
    assert video.thumbnail_keys
    assert all(storage.exists(key) for key in video.thumbnail_keys)
    assert "#xywh=" in (local / (video.storyboard_vtt_key or "-")).read_text()


def test_every_output_counts_towards_the_quota(
    session_factory: sessionmaker[Session],
    db: Session,
    pipeline: VideoPipeline,
    make_video: VideoMaker,
    clips: Clips,
    storage: StorageProvider,
    company: Company,
    settings: Settings,
) -> None:
    job = make_video(clips.landscape_h264_audio)
    assert run(pipeline, job).status == "succeeded"
    video, _ = reloaded(db, job)
    outputs = list(storage.list(video_prefix(video.company_id, video.id)))
    assert any("/hls/" in info.key and info.key.endswith(".ts") for info in outputs)
    usage = measure_usage(system_scope(db, company), company)
    assert usage.derived_bytes == sum(info.size for info in outputs)

    # A new poster replaces the old one in the count; the old file goes once its links expire.
    video.poster_at_seconds = 1.0
    poster_job = new_job(db, video, JobKind.POSTER, pipeline.settings)
    assert run(pipeline, poster_job).status == "succeeded"
    db.expire_all()
    purge_due(
        session_factory, storage, utcnow() + timedelta(seconds=settings.STORAGE_URL_TTL_SECONDS + 1)
    )
    outputs = list(storage.list(video_prefix(video.company_id, video.id)))
    assert measure_usage(system_scope(db, company), company).derived_bytes == sum(
        info.size for info in outputs
    )


def test_non_standard_source_gets_720p_first_and_is_never_upscaled(
    db: Session, pipeline: VideoPipeline, make_video: VideoMaker, clips: Clips
) -> None:
    job = make_video(clips.hevc_or_mpeg4)
    assert run(pipeline, job).status == "succeeded"
    video, _ = reloaded(db, job)
    assert video.source_is_standard is False
    rows = renditions(db, video.id)
    assert rows
    assert not any(row.is_copy for row in rows.values())
    assert max(row.short_side for row in rows.values()) <= min(video.width or 0, video.height or 0)


def test_portrait_without_audio_keeps_its_orientation(
    db: Session, pipeline: VideoPipeline, make_video: VideoMaker, clips: Clips
) -> None:
    job = make_video(clips.portrait_h264_no_audio)
    assert run(pipeline, job).status == "succeeded"
    video, _ = reloaded(db, job)
    assert video.has_audio is False
    assert (video.width or 0) < (video.height or 0)
    for row in renditions(db, video.id).values():
        assert (row.width or 0) < (row.height or 0)


def test_rotated_phone_video_is_shown_upright(
    db: Session, pipeline: VideoPipeline, make_video: VideoMaker, clips: Clips, settings: Settings
) -> None:
    job = make_video(clips.rotated_phone)
    assert run(pipeline, job).status == "succeeded"
    video, _ = reloaded(db, job)
    assert video.rotation in (90, 270)
    assert (video.width or 0) < (video.height or 0)
    for row in renditions(db, video.id).values():
        output = probe(settings.local_storage_root / (row.mp4_key or ""), FFMPEG)
        assert output.display_width < output.display_height


@pytest.mark.parametrize(
    ("clip_name", "stage"),
    [("corrupt", None), ("text_as_mp4", PipelineStage.PROBE), ("hls_as_mp4", PipelineStage.PROBE)],
)
def test_bad_files_fail_once_with_a_reason(
    db: Session,
    pipeline: VideoPipeline,
    make_video: VideoMaker,
    clips: Clips,
    clip_name: str,
    stage: PipelineStage | None,
) -> None:
    job = make_video(getattr(clips, clip_name))
    assert run(pipeline, job).status == "failed"
    video, job = reloaded(db, job)
    assert video.status == VideoStatus.FAILED
    assert video.failure_reason
    assert stage is None or video.failed_stage == stage
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)


def test_plan_limits_are_enforced_at_probe(
    db: Session, pipeline: VideoPipeline, make_video: VideoMaker, company: Company, tmp_path: Path
) -> None:
    company.plan = "free"  # up to 1080p
    db.flush()
    clip = make_clip(tmp_path / "tall.mp4", width=1920, height=1200, seconds=1, audio=False)
    job = make_video(clip)
    assert run(pipeline, job).status == "failed"
    video, _ = reloaded(db, job)
    assert video.failed_stage == PipelineStage.PROBE
    assert "1080p" in (video.failure_reason or "")


def test_running_a_job_twice_yields_one_set_of_outputs(
    session_factory: sessionmaker[Session],
    db: Session,
    pipeline: VideoPipeline,
    make_video: VideoMaker,
    clips: Clips,
    storage: StorageProvider,
    settings: Settings,
) -> None:
    job = make_video(clips.landscape_h264_audio)
    assert run(pipeline, job).status == "succeeded"
    video, _ = reloaded(db, job)
    prefix = video_prefix(video.company_id, video.id)
    keys_after_first = {info.key for info in storage.list(prefix)}
    assert run(pipeline, job).status == "skipped"
    assert {info.key for info in storage.list(prefix)} == keys_after_first

    # A new job writes a new set under its own folder; the old one goes once links expire.
    again = new_job(db, video, JobKind.PROCESS, pipeline.settings)
    assert run(pipeline, again).status == "succeeded"
    new_folder = job_output_prefix(video.company_id, video.id, again.id)
    live = renditions(db, video.id)
    assert all((r.mp4_key or "").startswith(new_folder) for r in live.values())
    assert {info.key for info in storage.list(prefix)} >= keys_after_first
    assert (
        purge_due(session_factory, storage, utcnow()) == 0
    )  # links to the old set may still be in use
    later = utcnow() + timedelta(seconds=settings.STORAGE_URL_TTL_SECONDS + 1)
    assert purge_due(session_factory, storage, later) > 0
    keys_after_second = {info.key for info in storage.list(prefix)}
    assert keys_after_second == {
        key.replace(f"/out/{job.id}/", f"/out/{again.id}/")
        for key in keys_after_first
        if "/files/" not in key
    }
    assert len(live) == len({k for k in keys_after_first if k.endswith(".mp4")})


def test_transient_failures_retry_then_give_up(
    db: Session,
    session_factory: sessionmaker[Session],
    storage: StorageProvider,
    settings: Settings,
    make_video: VideoMaker,
    clips: Clips,
) -> None:
    broken = settings.model_copy(update={"FFPROBE_BINARY": "/nonexistent/ffprobe"})
    pipeline = VideoPipeline(session_factory, storage, broken)
    job = make_video(clips.landscape_h264_audio)
    first = run(pipeline, job)
    assert first.status == "retry"
    assert first.retry_in == 10
    _, row = reloaded(db, job)
    assert row.status == JobStatus.QUEUED
    assert run(pipeline, job).retry_in == 20
    assert run(pipeline, job).status == "failed"
    video, row = reloaded(db, job)
    assert (row.status, row.attempts) == (JobStatus.FAILED, settings.VIDEO_JOB_MAX_ATTEMPTS)
    assert video.status == VideoStatus.FAILED
    assert "gave up after 3 attempts" in (video.failure_reason or "")


def test_watchdog_requeues_expired_leases_and_fails_exhausted_jobs(
    db: Session, pipeline: VideoPipeline, make_video: VideoMaker, clips: Clips
) -> None:
    stuck = make_video(clips.landscape_h264_audio)
    stuck.status = JobStatus.RUNNING
    stuck.attempts = 1
    stuck.lease_expires_at = utcnow()
    spent = make_video(clips.portrait_h264_no_audio)
    spent.status = JobStatus.RUNNING
    spent.attempts = spent.max_attempts
    spent.lease_expires_at = utcnow()
    db.flush()
    old_task = stuck.task_id

    recovery = recover_expired(db, VideoJob, utcnow())
    assert [job_id for job_id, _ in recovery.requeued] == [stuck.id]
    assert recovery.exhausted == [spent.id]
    assert stuck.status == JobStatus.QUEUED
    assert stuck.task_id != old_task
    db.flush()
    assert pipeline.give_up(spent.id)
    video, job = reloaded(db, spent)
    assert job.status == JobStatus.FAILED
    assert "gave up after 3 attempts" in (video.failure_reason or "")


def test_a_redelivered_task_may_reclaim_its_own_running_job(
    db: Session, pipeline: VideoPipeline, make_video: VideoMaker, clips: Clips
) -> None:
    job = make_video(clips.landscape_h264_audio)
    job.status = JobStatus.RUNNING
    job.attempts = 1
    job.lease_expires_at = utcnow().replace(year=2100)
    db.flush()
    assert run(pipeline, job).status == "succeeded"  # same task id: the worker was lost
    other = make_video(clips.portrait_h264_no_audio)
    other.status = JobStatus.RUNNING
    other.attempts = 1
    other.lease_expires_at = utcnow().replace(year=2100)
    db.flush()
    assert pipeline.run(other.id, "another-task").status == "skipped"


def planned(info: MediaInfo, cap_short_side: int = 1080, **options: bool) -> list[str]:
    return [
        f"{p.name} {'copy' if p.is_copy else 'encode'}"
        for p in plan_renditions(info, cap_short_side, **options)
    ]


@pytest.fixture(scope="module")
def gop_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[int, MediaInfo]:
    """Standard 720p H.264/AAC sources with a keyframe every 2 s and every 8 s (25 fps)."""
    folder = tmp_path_factory.mktemp("gops")
    clips = {
        seconds: make_clip(
            folder / f"gop{seconds}.mp4", width=1280, height=720, seconds=9, gop=25 * seconds
        )
        for seconds in (2, 8)
    }
    return {seconds: probe(clip, FFMPEG) for seconds, clip in clips.items()}


def test_a_standard_source_with_short_gops_is_copied(gop_sources: dict[int, MediaInfo]) -> None:
    source = gop_sources[2]
    assert is_standard(source)
    assert planned(source) == ["720p copy", "360p encode"]


def test_a_standard_source_with_long_gops_is_encoded_720p_first(
    gop_sources: dict[int, MediaInfo],
) -> None:
    source = gop_sources[8]
    assert is_standard(source)
    assert planned(source) == ["720p encode", "360p encode"]
    full_hd = replace(source, width=1920, height=1080)
    assert is_standard(full_hd)
    assert planned(full_hd) == ["720p encode", "360p encode", "1080p encode"]
    assert planned(full_hd, cap_short_side=720) == ["720p encode", "360p encode"]


def test_without_hls_long_gops_are_still_copied(gop_sources: dict[int, MediaInfo]) -> None:
    assert planned(gop_sources[8], hls=False) == ["720p copy", "360p encode"]


def test_a_long_gop_source_gets_segments_of_the_advertised_length(
    db: Session,
    pipeline: VideoPipeline,
    make_video: VideoMaker,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """x264's default GOP at 25 fps is 10 s: copied, its HLS segments would last 10 s."""
    clip = make_clip(tmp_path / "long_gop.mp4", width=320, height=240, seconds=13)
    job = make_video(clip)
    assert run(pipeline, job).status == "succeeded"

    video, _ = reloaded(db, job)
    assert video.source_is_standard is True
    assert video.probe is not None
    assert video.probe["keyframe_interval"] == pytest.approx(10.0, abs=0.001)
    (rendition,) = renditions(db, video.id).values()
    assert not rendition.is_copy
    playlist = (settings.local_storage_root / (rendition.hls_playlist_key or "-")).read_text()
    assert f"#EXT-X-TARGETDURATION:{HLS_SEGMENT_SECONDS}" in playlist.splitlines()
    durations = [
        float(line.removeprefix("#EXTINF:").split(",")[0])
        for line in playlist.splitlines()
        if line.startswith("#EXTINF:")
    ]
    *full, last = durations
    assert len(full) == 3
    assert all(
        seconds == pytest.approx(HLS_SEGMENT_SECONDS, abs=SEGMENT_TOLERANCE_SECONDS)
        for seconds in full
    )
    assert last == pytest.approx(1.0, abs=SEGMENT_TOLERANCE_SECONDS)
