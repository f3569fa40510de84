"""ffmpeg and ffprobe for the video pipeline: every command is an argument list (never a
shell) built with ffmpeg-python, every input is fenced in, every run has a time limit.

The fence: uploads are hostile. A "video" may really be an HLS playlist or a concat list
whose entries make ffmpeg read other files on the server (or URLs). So every input gets
`-protocol_whitelist file` (no network, no `subfile:`/`concat:` tricks) and
`-format_whitelist` limited to real media containers (ffmpeg 5.1 supports it as an input
option: a detected demuxer that is not on the list fails to open with "Format not on
whitelist", before it reads a single referenced file). Paths are made absolute so that no
name can be taken for an option (`-x.mp4`) or a protocol (`concat:a|b`).
"""

import json
import math
import queue
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, cast

import ffmpeg

from app.utils.media_probe import (
    FORMAT_WHITELIST,
    HLS_SEGMENT_SECONDS,
    MAX_FPS,
    STACKED_ALPHA_NAME,
    MediaError,
    MediaInfo,
    Rung,
    even_length,
    is_standard,
    keyframes_fit_segments,
    ladder_for,
    media_info_from_ffprobe,
    output_size,
    stacked_alpha_rung,
    stacked_alpha_size,
    with_keyframes,
)
from app.utils.sniff import SNIFF_BYTES, VIDEO_TYPES, sniff_content_type
from app.utils.subprocesses import kill_group, popen_piped

# The pipeline's one import point: the probe model and ladder decisions are re-exported.
__all__ = [
    "STACKED_ALPHA_NAME",
    "ChromaKeying",
    "FfmpegCancelled",
    "FfmpegConfig",
    "FfmpegTimeout",
    "HlsVariant",
    "MediaError",
    "MediaInfo",
    "Progress",
    "Rung",
    "codecs_attribute",
    "extract_frame",
    "first_non_black_time",
    "hls_command",
    "is_standard",
    "keyframes_fit_segments",
    "ladder_for",
    "master_playlist",
    "measure_hls_variant",
    "output_size",
    "probe",
    "probe_command",
    "remux_command",
    "run",
    "stacked_alpha_command",
    "stacked_alpha_rung",
    "stacked_alpha_size",
    "storyboard",
    "thumbnails",
    "transcode_command",
]

# The first video stream that is not a cover picture, and the first audio stream: the
# streams `probe` describes.
_VIDEO = "V:0"
_AUDIO = "a:0"
_INPUT_GUARDS = {"protocol_whitelist": "file", "format_whitelist": FORMAT_WHITELIST}
# No prompts or reading stdin, errors only, outputs overwritten.
_BATCH_FLAGS = ("-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-y")
_REPORT_PROGRESS = ("-progress", "pipe:1")
# Reading headers never legitimately takes long; a file that makes ffprobe spin is hostile.
PROBE_TIMEOUT_SECONDS = 60.0
# A divisor of HLS_SEGMENT_SECONDS, so that encoded renditions cut into even segments.
KEYFRAME_SECONDS = 2
CRF = 23
_STDERR_TAIL_LINES = 40
_POLL_SECONDS = 0.2
_TRANSIENT_STDERR = ("No space left on device", "Cannot allocate memory")
# ffmpeg's exit status after SIGINT, SIGTERM or SIGQUIT ("Exiting normally, received
# signal N", logged below the error level these commands run at).
_STOPPED_BY_SIGNAL = 255
_COMPONENT_PREFIX = re.compile(r"^\[(?P<component>[^\]@]+?) @ 0x[0-9a-f]+\]\s*")
_BOILERPLATE_STDERR = frozenset({"Conversion failed!"})


@dataclass(frozen=True, slots=True)
class FfmpegConfig:
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    timeout: float = 1800


# The names (without an "Error" suffix) are the ones the video pipeline was written against.
class FfmpegTimeout(MediaError):  # noqa: N818
    def __init__(self, timeout: float) -> None:
        super().__init__(f"processing took longer than {timeout:g} s", permanent=False)


class FfmpegCancelled(MediaError):  # noqa: N818
    def __init__(self) -> None:
        super().__init__("cancelled", permanent=True)


@dataclass(frozen=True, slots=True)
class Progress:
    percent: float
    eta_seconds: float | None
    speed: float | None
    """Processing speed as a multiple of real time (2.0 = twice as fast as playback)."""


@dataclass(slots=True)
class _Outcome:
    returncode: int
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


# --- running ---------------------------------------------------------------------------


def run(
    argv: Sequence[str],
    config: FfmpegConfig,
    *,
    duration: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> None:
    """Run a command from the builders below. Progress is reported on every `-progress`
    block (throttling is the caller's job); `should_cancel` is polled a few times a second.
    Raises `FfmpegTimeout`, `FfmpegCancelled`, or `MediaError` with ffmpeg's own reason."""
    parser = _ProgressParser(duration, on_progress) if on_progress else None
    outcome = _execute(
        argv,
        config.timeout,
        on_stdout_line=parser.feed if parser else None,
        should_cancel=should_cancel,
    )
    if outcome.returncode != 0:
        raise _failure(argv, outcome)


def _capture(argv: Sequence[str], timeout: float) -> list[str]:
    """Run to completion and return the standard output lines."""
    outcome = _execute(argv, timeout)
    if outcome.returncode != 0:
        raise _failure(argv, outcome)
    return outcome.stdout


def _execute(
    argv: Sequence[str],
    timeout: float,
    *,
    on_stdout_line: Callable[[str], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> _Outcome:
    """Run argv, reading both pipes on threads (a full stderr pipe would block ffmpeg) and
    killing it on timeout, cancel, or any exception (`WorkerStopping` from a signal
    handler included). Standard output is kept unless a line handler takes it. The
    process runs in its own session and dies with this one (see `popen_piped`)."""
    try:
        process = popen_piped(argv)
    except OSError as error:
        raise MediaError(f"cannot start {argv[0]}: {error.strerror}", permanent=False) from error
    outcome = _Outcome(returncode=0)
    stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
    stdout_lines: queue.Queue[str | None] = queue.Queue()
    # Both pipes exist: PIPE was asked for.
    stdout, stderr = cast(IO[str], process.stdout), cast(IO[str], process.stderr)
    readers = [
        _start_reader(stderr, stderr_tail.append),
        _start_reader(stdout, stdout_lines.put, on_end=lambda: stdout_lines.put(None)),
    ]
    handle_line = on_stdout_line or outcome.stdout.append
    watchdog = _Watchdog(timeout, should_cancel)
    with process:
        try:
            for line in _lines_until_closed(stdout_lines):
                if line is not None:
                    handle_line(line)
                watchdog.check()
            outcome.returncode = process.wait(timeout=watchdog.remaining())
        except subprocess.TimeoutExpired as expired:
            _kill(process)
            raise FfmpegTimeout(timeout) from expired
        except BaseException:
            _kill(process)
            raise
        finally:
            for reader in readers:
                reader.join()
    outcome.stderr = list(stderr_tail)
    return outcome


def _start_reader(
    pipe: IO[str], handle: Callable[[str], object], on_end: Callable[[], None] | None = None
) -> threading.Thread:
    def drain() -> None:
        for line in pipe:
            handle(line.rstrip("\n"))
        if on_end is not None:
            on_end()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    return reader


def _lines_until_closed(lines: "queue.Queue[str | None]") -> Iterator[str | None]:
    """Each line as it comes, or None every poll interval while ffmpeg is silent, so that
    the deadline and the cancel flag are checked even when no output arrives."""
    while True:
        try:
            line = lines.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            yield None
            continue
        if line is None:
            return
        yield line


class _Watchdog:
    """Stops a run past its deadline or once cancelled. The cancel flag may live in a
    database, so it is polled at most every `_POLL_SECONDS` however chatty ffmpeg is."""

    def __init__(self, timeout: float, should_cancel: Callable[[], bool] | None) -> None:
        self._timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._should_cancel = should_cancel
        self._next_cancel_poll = 0.0

    def remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def check(self) -> None:
        now = time.monotonic()
        if now > self._deadline:
            raise FfmpegTimeout(self._timeout)
        if self._should_cancel is not None and now >= self._next_cancel_poll:
            self._next_cancel_poll = now + _POLL_SECONDS
            if self._should_cancel():
                raise FfmpegCancelled


def _kill(process: "subprocess.Popen[str]") -> None:
    kill_group(process)


class _ProgressParser:
    """Turns `-progress` key=value blocks (each ends with `progress=continue|end`) into
    `Progress` reports."""

    def __init__(self, duration: float | None, report: Callable[[Progress], None]) -> None:
        self._duration = duration if duration and duration > 0 else None
        self._report = report
        self._out_seconds = 0.0
        self._speed: float | None = None

    def feed(self, line: str) -> None:
        key, _, value = line.partition("=")
        # `out_time_ms` is in microseconds too: a long-standing ffmpeg misnomer.
        if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():
            self._out_seconds = max(0.0, int(value) / 1_000_000)
        elif key == "speed":
            # "N/A" or "0x" until ffmpeg has timed some work.
            self._speed = _finite_float(value.rstrip("x")) or None
        elif key == "progress":
            self._report(self._snapshot(finished=value == "end"))

    def _snapshot(self, *, finished: bool) -> Progress:
        if finished:
            return Progress(percent=100.0, eta_seconds=0.0, speed=self._speed)
        if self._duration is None:
            return Progress(percent=0.0, eta_seconds=None, speed=self._speed)
        done = min(self._out_seconds, self._duration)
        eta = (self._duration - done) / self._speed if self._speed else None
        return Progress(percent=100.0 * done / self._duration, eta_seconds=eta, speed=self._speed)


def _finite_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _failure(argv: Sequence[str], outcome: _Outcome) -> MediaError:
    """Why a run failed, and whether trying again can help. A signal is never the input's
    fault: killed by one (a negative return code), or stopped by one, which ffmpeg reports
    as exit status 255 after cleaning up."""
    program = Path(argv[0]).name
    if outcome.returncode < 0:
        return MediaError(f"{program} was killed by signal {-outcome.returncode}", permanent=False)
    if outcome.returncode == _STOPPED_BY_SIGNAL:
        return MediaError(f"{program} was stopped by a signal", permanent=False)
    transient = any(marker in line for line in outcome.stderr for marker in _TRANSIENT_STDERR)
    reason = _stderr_reason(argv, outcome.stderr) or f"{program} exited with {outcome.returncode}"
    return MediaError(reason, permanent=not transient)


def _stderr_reason(argv: Sequence[str], stderr: list[str]) -> str | None:
    """ffmpeg's last specific complaint, without the "[demuxer @ 0x...]" prefix and with
    server paths cut to file names. Lines that only echo a file name and errno text
    ("/x/in.mp4: Invalid data found...") are a fallback when nothing more specific exists."""
    paths = [arg for arg in argv[1:] if arg.startswith("/")]
    specific: list[str] = []
    echoes: list[str] = []
    for raw in stderr:
        line = _COMPONENT_PREFIX.sub("", raw.strip())
        if not line or line in _BOILERPLATE_STDERR:
            continue
        echoes_a_path = any(line.startswith(f"{path}:") for path in paths)
        for path in paths:
            line = line.replace(path, Path(path).name)
        (echoes if echoes_a_path else specific).append(line)
    candidates = specific or echoes
    return candidates[-1] if candidates else None


# --- probing ---------------------------------------------------------------------------


def probe_command(path: Path, config: FfmpegConfig) -> list[str]:
    """ffprobe's JSON report (format and streams)."""
    return _ffprobe_command(path, config, "-show_format", "-show_streams", "-of", "json")


def _ffprobe_command(path: Path, config: FfmpegConfig, *queries: str) -> list[str]:
    """ffmpeg-python builds no ffprobe commands, so these are spelled out, with the same
    input guards."""
    guards = [arg for option, value in _INPUT_GUARDS.items() for arg in (f"-{option}", value)]
    return [
        config.ffprobe,
        *("-hide_banner", "-loglevel", "error"),
        *guards,
        *queries,
        _local(path),
    ]


def probe(path: Path, config: FfmpegConfig, *, keyframes: bool = True) -> MediaInfo:
    """What the file holds; refuses anything that is not a video in an allowed container
    (see `media_info_from_ffprobe`). OSError (e.g. a missing file) propagates. `keyframes`
    lists the keyframes too (a second ffprobe run), which only a source needs."""
    with path.open("rb") as file:
        head = file.read(SNIFF_BYTES)
    if sniff_content_type(head) not in VIDEO_TYPES:
        raise MediaError("not a video file", permanent=True)
    argv = probe_command(path, config)
    outcome = _execute(argv, _probe_timeout(config))
    if outcome.returncode != 0:
        raise _probe_failure(argv, outcome)
    try:
        report = json.loads("\n".join(outcome.stdout))
    except json.JSONDecodeError as error:
        raise MediaError("unreadable ffprobe report", permanent=True) from error
    info = media_info_from_ffprobe(report)
    if not keyframes:
        return info
    return with_keyframes(info, _measured_keyframe_times(path, config))


def _measured_keyframe_times(path: Path, config: FfmpegConfig) -> list[float]:
    """Keyframe times for deciding whether a stream copy cuts into even HLS segments; none
    (so the rung is encoded) when ffprobe cannot list them. A transient failure propagates."""
    try:
        return _keyframe_times(path, config)
    except MediaError as error:
        if not error.permanent:
            raise
        return []


def _probe_timeout(config: FfmpegConfig) -> float:
    return min(config.timeout, PROBE_TIMEOUT_SECONDS)


def _probe_failure(argv: Sequence[str], outcome: _Outcome) -> MediaError:
    for line in outcome.stderr:
        refused = _COMPONENT_PREFIX.match(line)
        if refused and "Format not on whitelist" in line:
            return MediaError(f"unsupported container '{refused['component']}'", permanent=True)
    failure = _failure(argv, outcome)
    if failure.permanent:
        return MediaError(f"damaged or unreadable video: {failure.reason}", permanent=True)
    return failure


# --- building commands -----------------------------------------------------------------


def _local(path: Path) -> str:
    return str(path.resolve())


def _media_input(src: Path, **options: object) -> Any:
    return ffmpeg.input(_local(src), **_INPUT_GUARDS, **options)


def _compile(output: Any, config: FfmpegConfig, *, progress: bool = False) -> list[str]:
    flags = [*_BATCH_FLAGS, *(_REPORT_PROGRESS if progress else ())]
    argv: list[str] = output.compile(cmd=[config.ffmpeg, *flags])
    return argv


def remux_command(src: Path, dst_mp4: Path, info: MediaInfo, config: FfmpegConfig) -> list[str]:
    """Stream-copy the video (and audio, if any) into an MP4 that can start playing before it
    is fully downloaded. Rotation survives (it is stream side data); subtitle and data
    streams and the file's metadata tags (phones store the GPS location there) do not."""
    source = _media_input(src)
    streams = [source[_VIDEO], source[_AUDIO]] if info.has_audio else [source[_VIDEO]]
    output = ffmpeg.output(
        *streams, _local(dst_mp4), c="copy", f="mp4", movflags="+faststart", map_metadata=-1
    )
    return _compile(output, config, progress=True)


def transcode_command(
    src: Path,
    dst_mp4: Path,
    info: MediaInfo,
    rung: Rung,
    config: FfmpegConfig,
    preset: str = "veryfast",
) -> list[str]:
    """Encode one rendition: H.264 High 8-bit 4:2:0 at constant quality capped at the rung's
    bitrate, a keyframe every 2 s (so HLS segments cut cleanly), AAC stereo 48 kHz.
    ffmpeg's autorotate turns the picture upright before scaling, and the output carries no
    rotation: its stored size is the displayed size."""
    width, height = output_size(info, rung)
    source = _media_input(src)
    video = _sized_video(source, info, width, height)
    return _h264_mp4_command(source, video, dst_mp4, info, rung, config, preset)


class ChromaKeying(Protocol):
    """What keys a colour out: `color` as "#RRGGBB", `similarity` (0.01 to 1: how far from
    the colour still counts as it) and `blend` (0 to 1: how soft the matte's edges are)."""

    @property
    def color(self) -> str: ...

    @property
    def similarity(self) -> float: ...

    @property
    def blend(self) -> float: ...


def stacked_alpha_command(
    src: Path,
    dst_mp4: Path,
    info: MediaInfo,
    rung: Rung,
    keying: ChromaKeying,
    config: FfmpegConfig,
    preset: str = "veryfast",
) -> list[str]:
    """Key a colour out of the video into one H.264 MP4 twice as tall (`stacked_alpha_size`):
    the colour picture on top, its spill of a green or blue key suppressed (`despill`), and
    below it the alpha matte as grey (255 opaque, 0 transparent). Encoded as a rung of the
    ladder is; a WebGL viewer composites the two halves in a shader."""
    width, stacked_height = stacked_alpha_size(info, rung)
    source = _media_input(src)
    keyed = (
        _sized_video(source, info, width, stacked_height // 2)
        .filter("format", "yuva444p")
        .filter(
            "chromakey",
            color=keying.color.replace("#", "0x"),
            similarity=keying.similarity,
            blend=keying.blend,
        )
        .split()
    )
    colour = keyed[0]
    spill = _spill_type(keying.color)
    if spill is not None:
        colour = colour.filter("despill", type=spill)
    matte = keyed[1].filter("alphaextract")
    stacked = ffmpeg.filter(
        [colour.filter("format", "yuv420p"), matte.filter("format", "yuv420p")], "vstack"
    )
    return _h264_mp4_command(source, stacked, dst_mp4, info, rung, config, preset)


def _spill_type(color: str) -> str | None:
    """The `despill` type for a key colour: green or blue when that channel dominates it;
    None (no despill) for any other colour."""
    red, green, blue = (int(color[index : index + 2], 16) for index in (1, 3, 5))
    if green > max(red, blue):
        return "green"
    if blue > max(red, green):
        return "blue"
    return None


def _sized_video(source: Any, info: MediaInfo, width: int, height: int) -> Any:
    """The source's video stream, upright (autorotate), at most `MAX_FPS`, scaled to
    `width` x `height` with square pixels."""
    video = source[_VIDEO]
    if info.fps > MAX_FPS:
        video = video.filter("fps", MAX_FPS)
    return video.filter("scale", width, height).filter("setsar", 1)


def _h264_mp4_command(
    source: Any,
    video: Any,
    dst_mp4: Path,
    info: MediaInfo,
    rung: Rung,
    config: FfmpegConfig,
    preset: str,
) -> list[str]:
    """`video` encoded at the rung's quality with the source's audio into a faststart MP4
    without the source's metadata."""
    options: dict[str, object] = {
        "c:v": "libx264",
        "preset": preset,
        "profile:v": "high",
        "pix_fmt": "yuv420p",
        "crf": CRF,
        "maxrate": f"{rung.video_kbps}k",
        "bufsize": f"{2 * rung.video_kbps}k",
        "force_key_frames": f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})",
    }
    streams = [video]
    if info.has_audio:
        streams.append(source[_AUDIO])
        options.update({"c:a": "aac", "b:a": f"{rung.audio_kbps}k", "ar": 48000, "ac": 2})
    output = ffmpeg.output(
        *streams, _local(dst_mp4), f="mp4", movflags="+faststart", map_metadata=-1, **options
    )
    return _compile(output, config, progress=True)


HLS_PLAYLIST_NAME = "index.m3u8"
HLS_SEGMENT_PATTERN = "seg_%05d.ts"


def hls_command(src_mp4: Path, out_dir: Path, config: FfmpegConfig) -> list[str]:
    """Cut a finished MP4 (from `transcode_command` or `remux_command`) into a VOD playlist
    of MPEG-TS segments without re-encoding. A segment ends at the first keyframe at or
    after each multiple of `HLS_SEGMENT_SECONDS`, so only a rendition whose keyframes fall
    there (`keyframes_fit_segments`; encoded ones have one every `KEYFRAME_SECONDS`) gets
    segments of that length."""
    output = ffmpeg.output(
        _media_input(src_mp4),
        _local(out_dir / HLS_PLAYLIST_NAME),
        c="copy",
        f="hls",
        hls_time=HLS_SEGMENT_SECONDS,
        hls_playlist_type="vod",
        hls_flags="independent_segments",
        hls_segment_filename=_local(out_dir / HLS_SEGMENT_PATTERN),
    )
    return _compile(output, config, progress=True)


# --- stills --------------------------------------------------------------------------

BLACK_SCAN_WIDTH = 160
# blackdetect's pixel threshold: luma under 10 % of the range counts as black.
BLACK_PIXEL_THRESHOLD = 0.1
JPEG_QSCALE = 3  # mjpeg quality scale: 2 (best) to 31
SPRITE_JPEG_QSCALE = 5
STORYBOARD_MAX_TILES = 100
STORYBOARD_MIN_INTERVAL = 1.0
_TILE_MARK = "storyboard_tile"
_PRINTED_FRAME = re.compile(r"^frame:\s*\d+\s+pts:\s*\S+\s+pts_time:(?P<seconds>-?[\d.]+)")


def first_non_black_time(
    src: Path, info: MediaInfo, config: FfmpegConfig, search_seconds: float = 10.0
) -> float:
    """When the picture first shows something other than black (for a poster frame). 0.0 if
    the video does not open on black, or stays black through the searched start. Most
    videos do not open on black, and answering that takes one decoded frame."""
    if not _black_detection(src, config, search_seconds, max_frames=1):
        return 0.0
    events = _black_detection(src, config, search_seconds)
    return next((seconds for seconds, tags in events if "lavfi.black_end" in tags), 0.0)


def _black_detection(
    src: Path, config: FfmpegConfig, search_seconds: float, max_frames: int | None = None
) -> list[tuple[float, dict[str, str]]]:
    """The frames on which black starts or ends, with their times, over a small decode."""
    scan = (
        _media_input(src, t=search_seconds)[_VIDEO]
        .filter("scale", BLACK_SCAN_WIDTH, -2)
        .filter("blackdetect", d=0, pix_th=BLACK_PIXEL_THRESHOLD)
        .filter("metadata", mode="print", file="-")
    )
    limit = {} if max_frames is None else {"frames:v": max_frames}
    lines = _capture(_compile(scan.output("-", f="null", **limit), config), config.timeout)
    return _printed_frame_metadata(lines)


def extract_frame(
    src: Path, at_seconds: float, dst_jpg: Path, config: FfmpegConfig, width: int | None = None
) -> None:
    """Save the picture shown at `at_seconds` as a JPEG, `width` pixels wide if given. The
    seek happens in the input, so the cost is one GOP of decoding wherever the frame is."""
    picture = _media_input(src, ss=f"{at_seconds:.3f}")[_VIDEO]
    if width:
        picture = picture.filter("scale", width, -2)
    _write_single_jpeg(picture, dst_jpg, config, JPEG_QSCALE)
    if not dst_jpg.exists():
        raise MediaError(f"no picture at {at_seconds:.2f} s", permanent=True)


def thumbnails(
    src: Path,
    info: MediaInfo,
    out_dir: Path,
    config: FfmpegConfig,
    *,
    count: int = 4,
    width: int | None = None,
) -> list[Path]:
    """`count` JPEGs (thumb_01.jpg...) spread evenly over the video, away from both ends."""
    paths = [out_dir / f"thumb_{number:02d}.jpg" for number in range(1, count + 1)]
    for number, path in enumerate(paths, start=1):
        extract_frame(src, info.duration * number / (count + 1), path, config, width)
    return paths


def storyboard(
    src: Path,
    info: MediaInfo,
    sprite_path: Path,
    config: FfmpegConfig,
    *,
    tile_width: int = 160,
    columns: int = 10,
    interval: float | None = None,
) -> str:
    """Write a sprite sheet of small pictures and return the WebVTT track that maps each
    time range to its tile (`sprite.jpg#xywh=x,y,w,h`), as seek-bar previews expect.

    Only keyframes are decoded (about a second for a minute of 1080p), taking the next one
    at least `interval` seconds after the last (default: a hundredth of the duration, at
    least a second). The filter prints each chosen frame's time, so every cue spans exactly
    from its own picture to the next one."""
    interval = interval or max(STORYBOARD_MIN_INTERVAL, info.duration / STORYBOARD_MAX_TILES)
    tile_count = _spaced_count(_keyframe_times(src, config), interval)
    if not tile_count:
        raise MediaError("no keyframes to build a storyboard from", permanent=True)
    columns = min(columns, tile_count)
    rows = math.ceil(tile_count / columns)
    tile_height = even_length(tile_width * info.display_height / info.display_width)
    tiles = (
        _media_input(src, skip_frame="nokey")[_VIDEO]
        .filter("select", f"isnan(prev_selected_t)+gte(t-prev_selected_t,{interval})")
        .filter("scale", tile_width, tile_height)
        .filter("setsar", 1)
        .filter("metadata", mode="add", key=_TILE_MARK, value=1)
        .filter("metadata", mode="print", key=_TILE_MARK, file="-")
        .filter("tile", f"{columns}x{rows}")
    )
    lines = _write_single_jpeg(tiles, sprite_path, config, SPRITE_JPEG_QSCALE)
    # Sized from a packet listing, the grid matches the frames the filter picks; should a
    # timestamp round differently, the cues still only name tiles that exist.
    starts = [seconds for seconds, _ in _printed_frame_metadata(lines)][: columns * rows]
    if not starts or not sprite_path.exists():
        raise MediaError("no keyframes to build a storyboard from", permanent=True)
    return _storyboard_vtt(
        starts, info.duration, sprite_path.name, columns, tile_width, tile_height
    )


def _keyframe_times(src: Path, config: FfmpegConfig) -> list[float]:
    """Keyframe times from the container's packet flags: demuxing only, no decoding."""
    argv = _ffprobe_command(
        src,
        config,
        *("-select_streams", _VIDEO, "-show_entries", "packet=pts_time,dts_time,flags"),
        *("-of", "csv=p=0"),
    )
    times = []
    for line in _capture(argv, _probe_timeout(config)):
        fields = line.split(",")
        if len(fields) < 3:  # ffprobe prints a blank line for a packet's side data
            continue
        pts, dts, flags = fields[:3]
        # AVI and some TS files leave keyframe presentation times out.
        seconds = _finite_float(pts if pts != "N/A" else dts)
        if flags.startswith("K") and seconds is not None:
            times.append(seconds)
    return times


def _spaced_count(times: list[float], interval: float) -> int:
    """How many of `times` the storyboard's select filter keeps: the first, then each one at
    least `interval` after the last kept."""
    count, last_kept = 0, -math.inf
    for seconds in times:
        if seconds - last_kept >= interval:
            count, last_kept = count + 1, seconds
    return count


def _write_single_jpeg(picture: Any, dst: Path, config: FfmpegConfig, qscale: int) -> list[str]:
    """Encode the first frame of `picture` to `dst`; returns ffmpeg's standard output."""
    dst.unlink(missing_ok=True)  # so that a missing picture cannot pass for a stale one
    output = picture.output(_local(dst), **{"frames:v": 1, "q:v": qscale, "update": 1})
    return _capture(_compile(output, config), config.timeout)


def _printed_frame_metadata(lines: Sequence[str]) -> list[tuple[float, dict[str, str]]]:
    """Parse the `metadata=mode=print` filter's output: a `frame:N pts:P pts_time:T` line
    followed by that frame's `key=value` lines."""
    frames: list[tuple[float, dict[str, str]]] = []
    for line in lines:
        header = _PRINTED_FRAME.match(line)
        if header:
            frames.append((float(header["seconds"]), {}))
        elif frames:
            key, _, value = line.partition("=")
            frames[-1][1][key] = value
    return frames


def _storyboard_vtt(
    starts: list[float], duration: float, sprite_name: str, columns: int, width: int, height: int
) -> str:
    lines = ["WEBVTT", ""]
    ends = [*starts[1:], duration]
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        cue_start = 0.0 if index == 0 else start
        if end <= cue_start:
            continue
        x, y = (index % columns) * width, (index // columns) * height
        lines += [
            f"{_vtt_time(cue_start)} --> {_vtt_time(end)}",
            f"{sprite_name}#xywh={x},{y},{width},{height}",
            "",
        ]
    return "\n".join(lines)


def _vtt_time(seconds: float) -> str:
    milliseconds = round(seconds * 1000)
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    return f"{hours:02d}:{minutes:02d}:{milliseconds // 1000:02d}.{milliseconds % 1000:03d}"


# --- HLS master playlist ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HlsVariant:
    uri: str
    """Of the variant's media playlist, relative to the master playlist."""
    bandwidth: int
    """Peak bits per second over any segment, as HLS requires."""
    width: int
    height: int
    codecs: str | None = None
    """RFC 6381 names (see `codecs_attribute`); players may skip variants without them."""
    average_bandwidth: int | None = None
    frame_rate: float | None = None


_H264_PROFILE_CODES = {
    "Constrained Baseline": "42E0",
    "Baseline": "4200",
    "Main": "4D40",
    "High": "6400",
}
_AAC_OBJECT_TYPES = {"HE-AAC": "5", "HE-AACv2": "29"}  # anything else: LC (2)


def codecs_attribute(info: MediaInfo) -> str:
    """The RFC 6381 codec names of an H.264/AAC rendition, e.g. "avc1.64001F,mp4a.40.2"."""
    profile = _H264_PROFILE_CODES.get(info.profile or "", _H264_PROFILE_CODES["High"])
    codecs = [f"avc1.{profile}{info.level or 0:02X}"]
    if info.has_audio:
        codecs.append(f"mp4a.40.{_AAC_OBJECT_TYPES.get(info.audio_profile or '', '2')}")
    return ",".join(codecs)


def measure_hls_variant(uri: str, playlist: Path, info: MediaInfo) -> HlsVariant:
    """Describe a rendition for the master playlist from its media playlist's real segment
    sizes and durations; `info` is the probe of the MP4 the segments were cut from."""
    segments = _segment_sizes_and_durations(playlist)
    if not segments:
        raise MediaError("the HLS playlist has no segments", permanent=False)
    total_bits = sum(size * 8 for size, _ in segments)
    total_seconds = sum(seconds for _, seconds in segments)
    return HlsVariant(
        uri=uri,
        bandwidth=max(round(size * 8 / seconds) for size, seconds in segments if seconds > 0),
        average_bandwidth=round(total_bits / total_seconds),
        width=info.display_width,
        height=info.display_height,
        codecs=codecs_attribute(info),
        frame_rate=info.fps or None,
    )


def _segment_sizes_and_durations(playlist: Path) -> list[tuple[int, float]]:
    segments: list[tuple[int, float]] = []
    seconds: float | None = None
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            seconds = float(line.removeprefix("#EXTINF:").split(",")[0])
        elif line and not line.startswith("#") and seconds is not None:
            segments.append(((playlist.parent / line).stat().st_size, seconds))
            seconds = None
    return segments


def master_playlist(variants: Sequence[HlsVariant]) -> str:
    """The master playlist listing the renditions in the given order (players start with
    the first one)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in variants:
        attributes = [f"BANDWIDTH={variant.bandwidth}"]
        if variant.average_bandwidth:
            attributes.append(f"AVERAGE-BANDWIDTH={variant.average_bandwidth}")
        attributes.append(f"RESOLUTION={variant.width}x{variant.height}")
        if variant.codecs:
            attributes.append(f'CODECS="{variant.codecs}"')
        if variant.frame_rate:
            attributes.append(f"FRAME-RATE={variant.frame_rate:.3f}")
        lines += [f"#EXT-X-STREAM-INF:{','.join(attributes)}", variant.uri]
    return "\n".join(lines) + "\n"
