"""ffmpeg and ffprobe for real, on small generated clips."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.schemas.chroma_key import ChromaKey
from app.utils.ffmpeg import (
    KEYFRAME_SECONDS,
    FfmpegCancelled,
    FfmpegConfig,
    FfmpegTimeout,
    HlsVariant,
    MediaError,
    MediaInfo,
    Progress,
    extract_frame,
    first_non_black_time,
    hls_command,
    is_standard,
    keyframes_fit_segments,
    ladder_for,
    master_playlist,
    measure_hls_variant,
    probe,
    probe_command,
    remux_command,
    run,
    stacked_alpha_command,
    stacked_alpha_rung,
    storyboard,
    thumbnails,
    transcode_command,
)
from app.utils.media_probe import (
    ALLOWED_DEMUXERS,
    HLS_SEGMENT_SECONDS,
    SEGMENT_TOLERANCE_SECONDS,
    Rung,
)
from app.utils.sniff import sniff_content_type
from app.utils.subprocesses import WorkerStopping
from tests.support.media import (
    Clips,
    ffmpeg,
    has_encoder,
    make_clip,
    make_hls_playlist_pointing_at,
    make_text_file,
)
from tests.support.processes import child_pids, is_running, project_env, wait_until

CONFIG = FfmpegConfig()


# --- helpers reading results independently of the code under test ----------------------


def ffprobe_entries(path: Path, *args: str) -> str:
    return subprocess.run(
        ["ffprobe", "-v", "error", *args, "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def picture_size(path: Path) -> tuple[int, int]:
    width, height = ffprobe_entries(path, "-show_entries", "stream=width,height").split(",")
    return int(width), int(height)


def keyframe_times(path: Path) -> list[float]:
    packets = ffprobe_entries(
        path, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags"
    )
    return [float(line.split(",")[0]) for line in packets.splitlines() if "K" in line]


def top_level_boxes(path: Path) -> list[str]:
    """The ISO BMFF boxes of an MP4 in file order."""
    kinds = []
    with path.open("rb") as file:
        while header := file.read(8):
            size, kind = int.from_bytes(header[:4], "big"), header[4:].decode("latin-1")
            if size == 1:
                size = int.from_bytes(file.read(8), "big") - 8
            kinds.append(kind)
            if size == 0:
                break
            file.seek(size - 8, os.SEEK_CUR)
    return kinds


def assert_faststart(path: Path) -> None:
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat"), boxes


def gray_frame(path: Path, *filters: str, autorotate: bool = True) -> bytes:
    """The first picture as 8-bit gray pixels, after `filters`."""
    return subprocess.run(
        [
            "ffmpeg", "-v", "error", *([] if autorotate else ["-noautorotate"]),
            "-i", str(path), "-frames:v", "1",
            *(["-vf", ",".join(filters)] if filters else []),
            "-f", "rawvideo", "-pix_fmt", "gray", "-",
        ],
        capture_output=True,
        check=True,
    ).stdout  # fmt: skip


def mean_difference(first: bytes, second: bytes) -> float:
    assert len(first) == len(second)
    return sum(abs(a - b) for a, b in zip(first, second, strict=True)) / len(first)


def ffmpeg_children() -> list[int]:
    """Live or zombie ffmpeg processes started by this test process."""
    parent = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended while being listed
        name = text[text.index("(") + 1 : text.rindex(")")]
        _state, parent_pid, *_ = text[text.rindex(")") + 2 :].split()
        if parent_pid == parent and name == "ffmpeg":
            found.append(int(stat.parent.name))
    return found


def realtime_source(seconds: float) -> list[str]:
    """An ffmpeg run lasting `seconds` of wall time whatever the machine's speed: `-re`
    paces a synthetic source at playback speed."""
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-nostats",
        "-progress", "pipe:1", "-re", "-f", "lavfi",
        "-i", f"testsrc2=size=64x64:rate=25:duration={seconds}", "-f", "null", "-",
    ]  # fmt: skip


# --- probing ---------------------------------------------------------------------------


def test_probe_describes_a_landscape_clip(clips: Clips) -> None:
    info = probe(clips.landscape_h264_audio, CONFIG)
    assert info.format_name == "mov,mp4,m4a,3gp,3g2,mj2"
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert (info.video_codec, info.pix_fmt, info.bit_depth) == ("h264", "yuv420p", 8)
    assert (info.width, info.height, info.rotation) == (320, 240, 0)
    assert (info.display_width, info.display_height, info.short_side) == (320, 240, 240)
    assert info.fps == 25.0
    assert info.video_bit_rate
    assert info.bit_rate
    assert info.size == clips.landscape_h264_audio.stat().st_size
    assert (info.has_audio, info.audio_codec, info.audio_channels) == (True, "aac", 1)


def test_probe_describes_a_portrait_clip_without_audio(clips: Clips) -> None:
    info = probe(clips.portrait_h264_no_audio, CONFIG)
    assert (info.display_width, info.display_height, info.short_side) == (240, 426, 240)
    assert not info.has_audio
    assert info.audio_codec is None


def test_probe_turns_a_phone_clip_upright(clips: Clips) -> None:
    info = probe(clips.rotated_phone, CONFIG)
    assert (info.width, info.height) == (320, 240)
    assert info.rotation == 90
    assert (info.display_width, info.display_height) == (240, 320)


@pytest.mark.parametrize(
    ("clip", "reason"),
    [
        ("corrupt", "damaged or unreadable video: moov atom not found"),
        ("text_as_mp4", "not a video file"),
        ("hls_as_mp4", "not a video file"),
    ],
)
def test_probe_refuses_what_is_not_a_video(clips: Clips, clip: str, reason: str) -> None:
    with pytest.raises(MediaError) as refused:
        probe(getattr(clips, clip), CONFIG)
    assert refused.value.reason == reason
    assert refused.value.permanent


def test_probe_names_a_container_it_refuses(tmp_path: Path) -> None:
    # A bare MPEG-1 video stream looks like video/mpeg but is no container we accept.
    elementary = tmp_path / "stream.m1v"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:duration=0.2", str(elementary))
    disguised = elementary.rename(tmp_path / "stream.mp4")
    with pytest.raises(MediaError, match="unsupported container 'mpegvideo'"):
        probe(disguised, CONFIG)


def test_the_format_whitelist_stops_a_playlist_that_unguarded_ffprobe_follows(
    clips: Clips,
) -> None:
    unguarded = [a for a in probe_command(clips.hls_as_mp4, CONFIG) if a != "-format_whitelist"]
    unguarded.remove(",".join(ALLOWED_DEMUXERS))
    followed = subprocess.run(unguarded, capture_output=True, text=True, timeout=30)
    assert '"codec_name": "h264"' in followed.stdout  # the clip the playlist points at

    guarded = subprocess.run(
        probe_command(clips.hls_as_mp4, CONFIG), capture_output=True, text=True, timeout=30
    )
    assert guarded.returncode != 0
    assert "h264" not in guarded.stdout
    assert "[hls @" in guarded.stderr
    assert "Format not on whitelist" in guarded.stderr


@pytest.mark.parametrize("guarded", [True, False])
def test_a_guarded_probe_never_opens_the_file_a_playlist_names(
    tmp_path: Path, guarded: bool
) -> None:
    # The playlist names a FIFO: opening it for writing blocks until a reader opens it, so
    # the writer thread below finishes early if and only if ffprobe opened the file.
    fifo = tmp_path / "segment.ts"
    os.mkfifo(fifo)
    playlist = make_hls_playlist_pointing_at(tmp_path / "upload.mp4", fifo)
    opened = threading.Event()

    def wait_for_a_reader() -> None:
        with fifo.open("wb"):
            opened.set()

    writer = threading.Thread(target=wait_for_a_reader, daemon=True)
    writer.start()
    argv = probe_command(playlist, CONFIG)
    if not guarded:
        argv = [a for a in argv if a not in ("-format_whitelist", ",".join(ALLOWED_DEMUXERS))]
    subprocess.run(argv, capture_output=True, timeout=30)
    assert opened.wait(timeout=0.5 if guarded else 5) is not guarded
    if guarded:  # release the writer, proving it would have noticed a reader
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        writer.join(timeout=5)
        os.close(reader)
        assert opened.is_set()


def test_a_concat_list_is_refused_by_the_whitelist(tmp_path: Path, clips: Clips) -> None:
    listing = make_text_file(
        tmp_path / "upload.mp4", f"ffconcat version 1.0\nfile '{clips.landscape_h264_audio}'\n"
    )
    outcome = subprocess.run(probe_command(listing, CONFIG), capture_output=True, text=True)
    assert outcome.returncode != 0
    assert "[concat @" in outcome.stderr
    assert "Format not on whitelist" in outcome.stderr


# --- the stream-copy decision on real files -------------------------------------------


def test_plain_h264_clips_are_standard(clips: Clips) -> None:
    for clip in (clips.landscape_h264_audio, clips.portrait_h264_no_audio, clips.tiny):
        assert is_standard(probe(clip, CONFIG)), clip.name


@pytest.fixture(scope="module")
def unusual_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("unusual")
    made = {
        "high_10": make_clip(
            folder / "10bit.mp4", width=160, height=90, seconds=1, pix_fmt="yuv420p10le"
        ),
        "high_444": make_clip(
            folder / "444.mp4", width=160, height=90, seconds=1, pix_fmt="yuv444p"
        ),
        "mpeg4": make_clip(folder / "mpeg4.avi", width=160, height=90, seconds=1, vcodec="mpeg4"),
    }
    if has_encoder("libx265"):
        made["hevc"] = make_clip(
            folder / "hevc.mp4", width=160, height=90, seconds=1, vcodec="libx265"
        )
    return made


def test_unusual_encodings_are_not_standard(clips: Clips, unusual_clips: dict[str, Path]) -> None:
    for clip in (clips.hevc_or_mpeg4, clips.rotated_phone, *unusual_clips.values()):
        assert not is_standard(probe(clip, CONFIG)), clip.name
    assert probe(unusual_clips["high_10"], CONFIG).bit_depth == 10
    assert probe(unusual_clips["high_444"], CONFIG).pix_fmt == "yuv444p"


def test_the_ladder_of_real_clips(clips: Clips) -> None:
    tiny = probe(clips.tiny, CONFIG)
    assert ladder_for(tiny) == [Rung("90p", 90, 100, 96)]
    portrait = probe(clips.portrait_h264_no_audio, CONFIG)
    assert [rung.short_side for rung in ladder_for(portrait)] == [240]


# --- commands --------------------------------------------------------------------------


def _commands(clips: Clips, tmp_path: Path) -> list[list[str]]:
    info = probe(clips.landscape_h264_audio, CONFIG)
    src = clips.landscape_h264_audio
    return [
        remux_command(src, tmp_path / "copy.mp4", info, CONFIG),
        transcode_command(src, tmp_path / "out.mp4", info, ladder_for(info)[0], CONFIG),
        stacked_alpha_command(
            src, tmp_path / "alpha.mp4", info, stacked_alpha_rung(info, 720), ChromaKey(), CONFIG
        ),
        hls_command(src, tmp_path, CONFIG),
        probe_command(src, CONFIG),
    ]


def test_every_command_fences_its_input(clips: Clips, tmp_path: Path) -> None:
    for argv in _commands(clips, tmp_path):
        source = argv[argv.index("-i") + 1] if "-i" in argv else argv[-1]
        options = argv[: argv.index(source)]
        assert options[options.index("-protocol_whitelist") + 1] == "file"
        allowed = set(options[options.index("-format_whitelist") + 1].split(","))
        assert {"mov", "mpegts", "matroska"} <= allowed
        assert not {"hls", "concat", "image2", "tty", "lavfi"} & allowed
        assert Path(source).is_absolute()


def test_transcode_makes_an_h264_mp4_that_starts_fast(clips: Clips, tmp_path: Path) -> None:
    info = probe(clips.landscape_h264_audio, CONFIG)
    output = tmp_path / "240p.mp4"
    reports: list[Progress] = []
    argv = transcode_command(clips.landscape_h264_audio, output, info, ladder_for(info)[0], CONFIG)
    run(argv, CONFIG, duration=info.duration, on_progress=reports.append)

    result = probe(output, CONFIG)
    assert (result.video_codec, result.profile, result.pix_fmt) == ("h264", "High", "yuv420p")
    assert (result.display_width, result.display_height, result.rotation) == (320, 240, 0)
    assert (result.audio_codec, result.audio_channels) == ("aac", 2)
    assert result.duration == pytest.approx(info.duration, abs=0.1)
    assert_faststart(output)
    assert keyframe_times(output) == [0.0, 2.0]
    assert reports[-1].percent == 100.0


def test_transcode_turns_a_phone_clip_upright(clips: Clips, tmp_path: Path) -> None:
    info = probe(clips.rotated_phone, CONFIG)
    output = tmp_path / "upright.mp4"
    run(transcode_command(clips.rotated_phone, output, info, ladder_for(info)[0], CONFIG), CONFIG)

    result = probe(output, CONFIG)
    assert (result.width, result.height, result.rotation) == (240, 320, 0)
    # Turned clockwise, as the phone's display matrix asks, not counterclockwise.
    produced = gray_frame(output)
    clockwise = gray_frame(clips.rotated_phone, "transpose=clock", autorotate=False)
    counterclockwise = gray_frame(clips.rotated_phone, "transpose=cclock", autorotate=False)
    assert mean_difference(produced, clockwise) < 10
    assert mean_difference(produced, counterclockwise) > 30


def stacked_alpha_graph(clips: Clips, tmp_path: Path, color: str) -> str:
    info = probe(clips.landscape_h264_audio, CONFIG)
    key = ChromaKey(color=color, similarity=0.2, blend=0.1)
    rung = stacked_alpha_rung(info, 720)
    argv = stacked_alpha_command(
        clips.landscape_h264_audio, tmp_path / "alpha.mp4", info, rung, key, CONFIG
    )
    return argv[argv.index("-filter_complex") + 1]


def test_stacked_alpha_keys_the_colour_then_stacks_colour_over_matte(
    clips: Clips, tmp_path: Path
) -> None:
    graph = stacked_alpha_graph(clips, tmp_path, "#00ff00")
    assert "scale=320:240" in graph
    assert "chromakey=blend=0.1:color=0x00FF00:similarity=0.2" in graph
    assert graph.index("despill=type=green") < graph.index("vstack")
    assert graph.index("alphaextract") < graph.index("vstack")


@pytest.mark.parametrize(
    ("color", "despill"),
    [("#0000FF", "despill=type=blue"), ("#20C040", "despill=type=green"), ("#FF00FF", None)],
)
def test_stacked_alpha_suppresses_the_spill_of_green_and_blue_screens_only(
    clips: Clips, tmp_path: Path, color: str, despill: str | None
) -> None:
    graph = stacked_alpha_graph(clips, tmp_path, color)
    if despill is None:
        assert "despill" not in graph
    else:
        assert despill in graph


def test_remux_copies_the_streams_and_keeps_the_rotation(clips: Clips, tmp_path: Path) -> None:
    info = probe(clips.rotated_phone, CONFIG)
    output = tmp_path / "copy.mp4"
    run(remux_command(clips.rotated_phone, output, info, CONFIG), CONFIG)

    result = probe(output, CONFIG)
    assert (result.video_codec, result.profile, result.rotation) == ("h264", info.profile, 90)
    assert (result.display_width, result.display_height) == (240, 320)
    assert result.audio_codec == "aac"
    assert_faststart(output)


def test_remux_drops_subtitles_and_the_location_tag(clips: Clips, tmp_path: Path) -> None:
    subtitles = make_text_file(tmp_path / "subs.srt", "1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    source = tmp_path / "with-extras.mkv"
    ffmpeg(
        "-i", str(clips.landscape_h264_audio), "-i", str(subtitles),
        "-map", "0", "-map", "1", "-c", "copy", "-c:s", "srt",
        "-metadata", "location=+55.7558+037.6173/", str(source),
    )  # fmt: skip
    assert "subtitle" in ffprobe_entries(source, "-show_entries", "stream=codec_type")
    output = tmp_path / "copy.mp4"
    run(remux_command(source, output, probe(source, CONFIG), CONFIG), CONFIG)

    assert ffprobe_entries(output, "-show_entries", "stream=codec_type").split() == [
        "video",
        "audio",
    ]
    assert "55.7558" not in ffprobe_entries(output, "-show_entries", "format_tags")


@dataclass(frozen=True)
class Rendition:
    mp4: Path
    info: MediaInfo
    hls_dir: Path


@pytest.fixture(scope="module")
def rendition(tmp_path_factory: pytest.TempPathFactory) -> Rendition:
    """A 9 s transcoded rendition cut into HLS segments."""
    folder = tmp_path_factory.mktemp("rendition")
    source = make_clip(folder / "source.mp4", width=192, height=108, seconds=9, gop=250)
    source_info = probe(source, CONFIG)
    mp4 = folder / "108p.mp4"
    run(transcode_command(source, mp4, source_info, ladder_for(source_info)[0], CONFIG), CONFIG)
    hls_dir = folder / "hls"
    hls_dir.mkdir()
    run(hls_command(mp4, hls_dir, CONFIG), CONFIG)
    return Rendition(mp4, probe(mp4, CONFIG), hls_dir)


def test_hls_cuts_a_vod_playlist_of_four_second_segments(rendition: Rendition) -> None:
    playlist = (rendition.hls_dir / "index.m3u8").read_text()
    lines = playlist.splitlines()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    assert "#EXT-X-TARGETDURATION:4" in lines
    assert lines[-1] == "#EXT-X-ENDLIST"
    durations = [float(line[8:].rstrip(",")) for line in lines if line.startswith("#EXTINF:")]
    assert durations[:2] == [4.0, 4.0]
    assert sum(durations) == pytest.approx(rendition.info.duration, abs=0.1)
    segments = [line for line in lines if line and not line.startswith("#")]
    assert segments == ["seg_00000.ts", "seg_00001.ts", "seg_00002.ts"]
    for segment in segments:
        head = (rendition.hls_dir / segment).read_bytes()[:4096]
        assert sniff_content_type(head) == "video/mp2t"


def test_a_variant_is_measured_from_its_segments(rendition: Rendition) -> None:
    variant = measure_hls_variant(
        "108p/index.m3u8", rendition.hls_dir / "index.m3u8", rendition.info
    )
    assert variant.uri == "108p/index.m3u8"
    assert (variant.width, variant.height) == (192, 108)
    assert variant.average_bandwidth
    assert variant.bandwidth >= variant.average_bandwidth > 10_000
    assert variant.codecs == f"avc1.6400{rendition.info.level:02X},mp4a.40.2"
    assert variant.frame_rate == 25.0


def test_master_playlist() -> None:
    variants = [
        HlsVariant("360p/index.m3u8", 900_000, 640, 360, "avc1.64001E,mp4a.40.2", 700_000, 25),
        HlsVariant("720p/index.m3u8", 2_800_000, 1280, 720),
    ]
    assert master_playlist(variants) == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,"
        'CODECS="avc1.64001E,mp4a.40.2",FRAME-RATE=25.000\n'
        "360p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720\n"
        "720p/index.m3u8\n"
    )


# --- running ---------------------------------------------------------------------------


def test_run_reports_progress_until_the_end() -> None:
    reports: list[Progress] = []
    run(realtime_source(1.6), CONFIG, duration=1.6, on_progress=reports.append)

    percents = [report.percent for report in reports]
    assert percents == sorted(percents)
    assert percents[-1] == 100.0
    # ffmpeg reports every half second; the first block comes before any timing.
    midway = [report for report in reports if 20 < report.percent < 90]
    assert midway
    for report in midway:
        assert report.speed == pytest.approx(1.0, abs=0.3)
        assert report.eta_seconds is not None
        assert 0 < report.eta_seconds < 1.6 * 0.8


def _stopped_within(
    seconds: float, call: Callable[[], None], expected: type[MediaError]
) -> MediaError:
    started = time.monotonic()
    with pytest.raises(expected) as stopped:
        call()
    assert time.monotonic() - started < seconds
    assert ffmpeg_children() == []
    return stopped.value


def test_run_kills_ffmpeg_on_timeout() -> None:
    config = FfmpegConfig(timeout=0.5)
    error = _stopped_within(3, lambda: run(realtime_source(60), config), FfmpegTimeout)
    assert not error.permanent


def test_run_kills_ffmpeg_on_cancel() -> None:
    reports: list[Progress] = []

    def cancel_after_first_report() -> bool:
        return bool(reports)

    def call() -> None:
        run(
            realtime_source(60),
            CONFIG,
            duration=60,
            on_progress=reports.append,
            should_cancel=cancel_after_first_report,
        )

    error = _stopped_within(3, call, FfmpegCancelled)
    assert error.permanent  # retrying a cancelled job would be wrong


def test_run_explains_a_damaged_input(clips: Clips, tmp_path: Path) -> None:
    info = probe(clips.landscape_h264_audio, CONFIG)
    argv = transcode_command(clips.corrupt, tmp_path / "out.mp4", info, ladder_for(info)[0], CONFIG)
    with pytest.raises(MediaError) as failed:
        run(argv, CONFIG)
    assert failed.value.permanent
    assert "moov atom not found" in failed.value.reason
    assert str(clips.corrupt.parent) not in failed.value.reason


def test_run_without_ffmpeg_is_a_transient_failure() -> None:
    with pytest.raises(MediaError, match="cannot start") as failed:
        run(["/nonexistent/ffmpeg", "-version"], CONFIG)
    assert not failed.value.permanent


@dataclass
class BackgroundRun:
    """A minute-long `run` on a thread, already reporting progress, and how it ended."""

    ffmpeg_pid: int
    thread: threading.Thread
    errors: list[BaseException]

    def outcome(self) -> BaseException:
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        [error] = self.errors
        return error


def start_background_run(stop: threading.Event) -> BackgroundRun:
    reports: list[Progress] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run(
                realtime_source(60),
                CONFIG,
                duration=60,
                on_progress=reports.append,
                should_cancel=stop.is_set,
            )
        except BaseException as error:  # any: the test looks at it
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    wait_until(lambda: bool(reports), 20, "ffmpeg to report progress")
    [pid] = ffmpeg_children()
    return BackgroundRun(pid, thread, errors)


def test_ffmpeg_runs_in_a_session_of_its_own() -> None:
    """So a terminal's Ctrl-C, or a signal to the worker's process group, misses it."""
    stop = threading.Event()
    background = start_background_run(stop)
    try:
        assert os.getpgid(background.ffmpeg_pid) == background.ffmpeg_pid != os.getpgid(0)
        assert os.getsid(background.ffmpeg_pid) == background.ffmpeg_pid != os.getsid(0)
    finally:
        stop.set()
    assert isinstance(background.outcome(), FfmpegCancelled)


@pytest.mark.parametrize(
    ("sig", "reason"),
    [
        # ffmpeg stops cleanly on these and exits with status 255.
        pytest.param(signal.SIGINT, "ffmpeg was stopped by a signal", id="SIGINT"),
        pytest.param(signal.SIGTERM, "ffmpeg was stopped by a signal", id="SIGTERM"),
        pytest.param(signal.SIGKILL, "ffmpeg was killed by signal 9", id="SIGKILL"),
    ],
)
def test_ffmpeg_stopped_by_a_signal_is_a_transient_failure(
    sig: signal.Signals, reason: str
) -> None:
    background = start_background_run(threading.Event())
    os.kill(background.ffmpeg_pid, sig)
    error = background.outcome()
    assert isinstance(error, MediaError)
    assert not error.permanent
    assert error.reason == reason


def test_a_stop_raised_by_a_signal_handler_kills_ffmpeg() -> None:
    """How a worker's pool process stops a task (app.background_tasks.shutdown)."""

    def stop_worker(signum: int, _frame: object) -> None:
        raise WorkerStopping(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGUSR1, stop_worker)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        timer.start()
        started = time.monotonic()
        with pytest.raises(WorkerStopping):
            run(realtime_source(60), CONFIG)
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)
    assert time.monotonic() - started < 5
    assert ffmpeg_children() == []


def test_ffmpeg_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """Even a SIGKILLed worker process leaves no ffmpeg behind."""
    # Silent (no progress), so that no broken pipe stops it once its parent is gone.
    argv = [arg for arg in realtime_source(60) if arg not in ("-progress", "pipe:1")]
    script = f"from app.utils.ffmpeg import FfmpegConfig, run; run({argv!r}, FfmpegConfig())"
    log = tmp_path / "parent.log"

    def its_ffmpeg(parent: int) -> list[int]:
        return [pid for pid in child_pids(parent) if process_name(pid) == "ffmpeg"]

    with log.open("wb") as output:
        parent = subprocess.Popen([sys.executable, "-c", script], env=project_env(), stderr=output)
        try:
            wait_until(lambda: bool(its_ffmpeg(parent.pid)), 20, "ffmpeg to start")
            [ffmpeg_pid] = its_ffmpeg(parent.pid)
        finally:
            parent.kill()
            parent.wait()
    wait_until(lambda: not is_running(ffmpeg_pid), 5, f"ffmpeg to die; {log.read_text()}")


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return ""


# --- stills ----------------------------------------------------------------------------


def test_first_non_black_time(clips: Clips) -> None:
    black_lead = probe(clips.black_lead, CONFIG)
    assert first_non_black_time(clips.black_lead, black_lead, CONFIG) == pytest.approx(1.0)
    landscape = probe(clips.landscape_h264_audio, CONFIG)
    assert first_non_black_time(clips.landscape_h264_audio, landscape, CONFIG) == 0.0


def test_extract_frame_writes_a_jpeg_of_the_asked_width(clips: Clips, tmp_path: Path) -> None:
    poster = tmp_path / "poster.jpg"
    extract_frame(clips.landscape_h264_audio, 1.5, poster, CONFIG, width=200)
    assert sniff_content_type(poster.read_bytes()) == "image/jpeg"
    assert picture_size(poster) == (200, 150)
    extract_frame(clips.rotated_phone, 0.5, poster, CONFIG)
    assert picture_size(poster) == (240, 320)


def test_extract_frame_past_the_end_fails_instead_of_leaving_an_old_picture(
    clips: Clips, tmp_path: Path
) -> None:
    poster = tmp_path / "poster.jpg"
    extract_frame(clips.landscape_h264_audio, 1.0, poster, CONFIG)
    with pytest.raises(MediaError, match=r"no picture at 30\.00 s"):
        extract_frame(clips.landscape_h264_audio, 30, poster, CONFIG)
    assert not poster.exists()


def test_thumbnails_are_spread_over_the_video(clips: Clips, tmp_path: Path) -> None:
    info = probe(clips.landscape_h264_audio, CONFIG)
    paths = thumbnails(clips.landscape_h264_audio, info, tmp_path, CONFIG, count=3, width=160)
    assert [path.name for path in paths] == ["thumb_01.jpg", "thumb_02.jpg", "thumb_03.jpg"]
    assert all(picture_size(path) == (160, 120) for path in paths)
    pictures = {path.read_bytes() for path in paths}
    assert len(pictures) == 3  # a moving picture: three different moments


def cues(vtt: str) -> list[tuple[str, str, str]]:
    """(start, end, target) of every cue."""
    blocks = vtt.strip().split("\n\n")
    assert blocks[0] == "WEBVTT"
    found = []
    for block in blocks[1:]:
        timing, target = block.split("\n")
        start, end = timing.split(" --> ")
        found.append((start, end, target))
    return found


def test_storyboard_maps_each_keyframe_to_its_tile(rendition: Rendition, tmp_path: Path) -> None:
    sprite = tmp_path / "sprite.jpg"
    vtt = storyboard(rendition.mp4, rendition.info, sprite, CONFIG)

    # Keyframes every 2 s over 9 s: five tiles, one row of 160x90 pictures.
    assert picture_size(sprite) == (5 * 160, 90)
    assert cues(vtt) == [
        ("00:00:00.000", "00:00:02.000", "sprite.jpg#xywh=0,0,160,90"),
        ("00:00:02.000", "00:00:04.000", "sprite.jpg#xywh=160,0,160,90"),
        ("00:00:04.000", "00:00:06.000", "sprite.jpg#xywh=320,0,160,90"),
        ("00:00:06.000", "00:00:08.000", "sprite.jpg#xywh=480,0,160,90"),
        ("00:00:08.000", f"00:00:{rendition.info.duration:06.3f}", "sprite.jpg#xywh=640,0,160,90"),
    ]


def test_storyboard_wraps_rows_and_honours_the_interval(
    rendition: Rendition, tmp_path: Path
) -> None:
    sprite = tmp_path / "sprite.jpg"
    vtt = storyboard(rendition.mp4, rendition.info, sprite, CONFIG, columns=2, interval=3)

    # Keyframes at least 3 s apart: 0, 4, 8 s; room was made for up to 4 tiles in 2 columns.
    assert picture_size(sprite) == (2 * 160, 2 * 90)
    assert [(start, target) for start, _, target in cues(vtt)] == [
        ("00:00:00.000", "sprite.jpg#xywh=0,0,160,90"),
        ("00:00:04.000", "sprite.jpg#xywh=160,0,160,90"),
        ("00:00:08.000", "sprite.jpg#xywh=0,90,160,90"),
    ]


def test_storyboard_tiles_follow_the_displayed_orientation(clips: Clips, tmp_path: Path) -> None:
    sprite = tmp_path / "sprite.jpg"
    info = probe(clips.rotated_phone, CONFIG)
    vtt = storyboard(clips.rotated_phone, info, sprite, CONFIG, tile_width=120)
    assert picture_size(sprite)[1] == 160
    assert all(target.endswith(",120,160") for _, _, target in cues(vtt))


# --- keyframe spacing and HLS segment lengths -----------------------------------------


def extinf_durations(playlist: Path) -> list[float]:
    lines = playlist.read_text().splitlines()
    return [float(line[8:].split(",")[0]) for line in lines if line.startswith("#EXTINF:")]


def segments_have_the_advertised_length(durations: list[float]) -> bool:
    """Every segment but the last within the tolerance of the advertised length, the last
    no longer than that."""
    *full, last = durations
    return all(
        abs(seconds - HLS_SEGMENT_SECONDS) <= SEGMENT_TOLERANCE_SECONDS for seconds in full
    ) and (last <= HLS_SEGMENT_SECONDS + SEGMENT_TOLERANCE_SECONDS)


def hls_of_a_copy(source: Path, folder: Path) -> Path:
    """Cut `source` into HLS as the pipeline does for a copied rung: remux, then segment."""
    mp4 = folder / "copy.mp4"
    run(remux_command(source, mp4, probe(source, CONFIG), CONFIG), CONFIG)
    hls_dir = folder / "hls"
    hls_dir.mkdir()
    run(hls_command(mp4, hls_dir, CONFIG), CONFIG)
    return hls_dir / "index.m3u8"


@pytest.mark.parametrize(
    ("suffix", "gop_frames", "interval", "lag"),
    [
        (".mp4", 50, 2.0, 0.0),
        # 8 s GOPs over 13 s: the cut due at 4 s waits for the keyframe at 8 s.
        (".mp4", 200, 8.0, 4.0),
        # AVI packets carry no presentation times: the decoding times stand in.
        (".avi", 50, 2.0, 0.0),
    ],
)
def test_probe_measures_the_keyframe_spacing(
    tmp_path: Path, suffix: str, gop_frames: int, interval: float, lag: float
) -> None:
    clip = make_clip(
        tmp_path / f"clip{suffix}", width=160, height=90, seconds=13, audio=False, gop=gop_frames
    )
    info = probe(clip, CONFIG)
    assert info.keyframe_interval == pytest.approx(interval, abs=0.001)
    assert info.segment_keyframe_lag == pytest.approx(lag, abs=0.001)


@pytest.mark.parametrize(
    ("gop_frames", "fits"),
    [(50, True), (100, True), (75, False), (125, False), (200, False), (None, False)],
)
def test_the_copy_rule_predicts_the_segments_a_copy_gets(
    tmp_path: Path, gop_frames: int | None, fits: bool
) -> None:
    """At 25 fps: keyframes every 2 s and 4 s fall on every segment boundary; every 3 s,
    5 s, 8 s and x264's default 10 s do not, and the real muxer cuts other lengths."""
    source = make_clip(tmp_path / "source.mp4", width=160, height=90, seconds=13, gop=gop_frames)
    durations = extinf_durations(hls_of_a_copy(source, tmp_path))
    assert keyframes_fit_segments(probe(source, CONFIG)) is fits
    assert segments_have_the_advertised_length(durations) is fits


def test_encoded_renditions_fit_the_segments(rendition: Rendition) -> None:
    assert keyframes_fit_segments(rendition.info)
    assert rendition.info.keyframe_interval == pytest.approx(KEYFRAME_SECONDS, abs=0.05)
