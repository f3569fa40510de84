"""What a video file holds (from ffprobe's JSON) and the decisions taken from it: whether it
can be stream-copied as is, and which renditions to make. Pure: no processes, no files."""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import pairwise
from typing import Any

# ffmpeg demuxer names (as ffmpeg spells them) of real media containers. Anything else
# (hls, concat, image2, tty, data...) can follow references to other files or is not a video.
ALLOWED_DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "avi",
    "mpegts",
    "mpeg",
    "flv",
)
FORMAT_WHITELIST = ",".join(ALLOWED_DEMUXERS)
_ALLOWED_FORMAT_NAMES = frozenset(FORMAT_WHITELIST.split(","))

STANDARD_VIDEO_CODEC = "h264"
STANDARD_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})
STANDARD_H264_PROFILES = frozenset({"Baseline", "Constrained Baseline", "Main", "High"})
STANDARD_AUDIO_CODEC = "aac"
MAX_FPS = 60.0
# A source may be copied if its video bitrate is at most this multiple of what we would
# encode it at (its top rung): 2.5 x 4500 kbps = 11.25 Mbps at 1080p, 6.25 Mbps at 720p,
# 2 Mbps at 360p. Phones record 1080p at ~17 Mbps, so their files are re-encoded.
STANDARD_BITRATE_HEADROOM = 2.5
# The advertised length of an HLS segment. The muxer ends a segment at the first keyframe at
# or after each multiple of it (counted from the first packet), so only keyframes near those
# multiples give segments of this length; see `keyframes_fit_segments`.
HLS_SEGMENT_SECONDS = 4
# How far from HLS_SEGMENT_SECONDS a segment other than the last may be (under half a second,
# so that it still rounds to the advertised #EXT-X-TARGETDURATION).
SEGMENT_TOLERANCE_SECONDS = 0.1

_HIGH_BIT_DEPTH_PIX_FMT = re.compile(r"p0?(\d{2})(?:le|be)$")


class MediaError(Exception):
    """A media operation failed. `reason` is safe to show the uploader; `permanent` says
    whether retrying the same input is pointless (damaged or unsupported input, or a
    deliberate cancel) rather than worth another attempt (timeout, killed, no disk)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class MediaInfo:
    format_name: str
    duration: float
    size: int | None
    bit_rate: int | None
    video_codec: str
    profile: str | None
    level: int | None
    pix_fmt: str | None
    bit_depth: int | None
    width: int
    """Stored picture width, before rotation and pixel aspect correction."""
    height: int
    sample_aspect_ratio: Fraction
    rotation: int
    """Degrees clockwise (0, 90, 180, 270) a player turns the stored picture for display."""
    fps: float
    """Average frame rate; 0.0 when the file does not say."""
    video_bit_rate: int | None
    audio_codec: str | None
    audio_profile: str | None
    audio_channels: int | None
    keyframe_interval: float | None = None
    """The longest time from a keyframe to the next one (or to the end of the video). None
    when not measured: no keyframe times in the file, or a record older than the measure."""
    segment_keyframe_lag: float | None = None
    """The longest that a multiple of `HLS_SEGMENT_SECONDS` inside the video waits for the
    next keyframe (or the end of the video), counted from the first keyframe; None when not
    measured."""

    @property
    def display_width(self) -> int:
        return self._display_size[0]

    @property
    def display_height(self) -> int:
        return self._display_size[1]

    @property
    def short_side(self) -> int:
        return min(self._display_size)

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def _display_size(self) -> tuple[int, int]:
        square_width = max(1, round(self.width * self.sample_aspect_ratio))
        if self.rotation in (90, 270):
            return self.height, square_width
        return square_width, self.height


def media_info_from_ffprobe(data: dict[str, Any]) -> MediaInfo:
    """Build a `MediaInfo` from `ffprobe -show_format -show_streams -of json` output,
    refusing what is not a playable video."""
    format_section = data.get("format", {})
    format_name = str(format_section.get("format_name", ""))
    if not set(format_name.split(",")) & _ALLOWED_FORMAT_NAMES:
        raise MediaError(f"unsupported container '{format_name}'", permanent=True)
    streams = data.get("streams", [])
    video = _first_stream(streams, "video")
    if video is None:
        raise MediaError("no video stream", permanent=True)
    width, height = _integer(video.get("width")), _integer(video.get("height"))
    if not width or not height:
        raise MediaError("the video stream has no picture size", permanent=True)
    duration = _number(format_section.get("duration")) or _number(video.get("duration"))
    if not duration or duration <= 0:
        raise MediaError("unknown or zero duration", permanent=True)
    audio = _first_stream(streams, "audio") or {}
    return MediaInfo(
        format_name=format_name,
        duration=duration,
        size=_integer(format_section.get("size")),
        bit_rate=_integer(format_section.get("bit_rate")),
        video_codec=str(video.get("codec_name", "")),
        profile=video.get("profile"),
        level=_integer(video.get("level")),
        pix_fmt=video.get("pix_fmt"),
        bit_depth=_bit_depth(video),
        width=width,
        height=height,
        sample_aspect_ratio=_ratio(video.get("sample_aspect_ratio")) or Fraction(1),
        rotation=_rotation(video),
        fps=float(_ratio(video.get("avg_frame_rate")) or _ratio(video.get("r_frame_rate")) or 0),
        video_bit_rate=_integer(video.get("bit_rate")),
        audio_codec=audio.get("codec_name"),
        audio_profile=audio.get("profile"),
        audio_channels=_integer(audio.get("channels")),
    )


def with_keyframes(info: MediaInfo, keyframe_times: Sequence[float]) -> MediaInfo:
    """`info` with the spacing of its keyframes, given their presentation times in seconds."""
    if not keyframe_times:
        return replace(info, keyframe_interval=None, segment_keyframe_lag=None)
    first = min(keyframe_times)
    keyframes = sorted(seconds - first for seconds in keyframe_times)
    # The end of the video closes the last group of pictures and the last segment.
    cuts = [*keyframes, max(info.duration, keyframes[-1])]
    interval = max(later - earlier for earlier, later in pairwise(cuts))
    # ffprobe prints times to the microsecond; rounding drops the subtraction's float noise.
    return replace(
        info,
        keyframe_interval=round(interval, 6),
        segment_keyframe_lag=round(_segment_lag(cuts), 6),
    )


def _segment_lag(cuts: list[float]) -> float:
    """The largest delay from a multiple of the segment length before the end (the last
    cut) to the first cut at or after it."""
    lag, index, boundary = 0.0, 0, float(HLS_SEGMENT_SECONDS)
    while boundary < cuts[-1]:
        while cuts[index] < boundary:
            index += 1
        lag = max(lag, cuts[index] - boundary)
        boundary += HLS_SEGMENT_SECONDS
    return lag


def _first_stream(streams: list[dict[str, Any]], codec_type: str) -> dict[str, Any] | None:
    """Cover art is a one-picture "video" stream: audio with a cover is not a video. (The
    same choice as ffmpeg's stream specifiers `V:0` and `a:0`, which the commands use.)"""
    for stream in streams:
        cover_art = stream.get("disposition", {}).get("attached_pic") == 1
        if stream.get("codec_type") == codec_type and not cover_art:
            return stream
    return None


def _rotation(video: dict[str, Any]) -> int:
    """Display matrices state counterclockwise degrees; the legacy `rotate` tag clockwise."""
    for side_data in video.get("side_data_list", []):
        counterclockwise = _number(side_data.get("rotation"))
        if counterclockwise is not None:
            return _quarter_turns(-counterclockwise)
    return _quarter_turns(_number(video.get("tags", {}).get("rotate")) or 0)


def _quarter_turns(degrees: float) -> int:
    return round(degrees / 90) * 90 % 360


def _bit_depth(video: dict[str, Any]) -> int | None:
    raw_sample_bits = _integer(video.get("bits_per_raw_sample"))
    if raw_sample_bits:
        return raw_sample_bits
    pix_fmt = video.get("pix_fmt")
    if not pix_fmt:
        return None
    high_depth = _HIGH_BIT_DEPTH_PIX_FMT.search(pix_fmt)
    return int(high_depth.group(1)) if high_depth else 8


def _number(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _integer(value: object) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _ratio(value: object) -> Fraction | None:
    """ffprobe writes ratios as "30000/1001" or "16:9"; "0/0" and "N/A" mean unknown."""
    numerator, _, denominator = str(value).replace(":", "/").partition("/")
    if not (numerator.isdigit() and denominator.isdigit()) or not int(denominator):
        return None
    return Fraction(int(numerator), int(denominator)) or None


def is_standard(info: MediaInfo) -> bool:
    """Whether the file can be stream-copied into our MP4 and HLS renditions as is:
    H.264 8-bit 4:2:0 in a widely decodable profile, AAC or no audio, no rotation (MPEG-TS
    segments cannot carry it), at most 60 fps, no larger than our top rung and a bitrate
    within `STANDARD_BITRATE_HEADROOM` of what we would encode it at."""
    return (
        info.video_codec == STANDARD_VIDEO_CODEC
        and info.pix_fmt in STANDARD_PIX_FMTS
        and info.profile in STANDARD_H264_PROFILES
        and info.audio_codec in (None, STANDARD_AUDIO_CODEC)
        and info.rotation == 0
        and 0 < info.fps <= MAX_FPS
        and info.short_side <= LADDER[-1].short_side
        and _bitrate_is_moderate(info)
    )


def keyframes_fit_segments(info: MediaInfo) -> bool:
    """Whether cutting the video on its own keyframes (a stream copy) gives HLS segments of
    the advertised length: every multiple of `HLS_SEGMENT_SECONDS` inside the video is
    followed within `SEGMENT_TOLERANCE_SECONDS` by a keyframe or by the end of the video.
    Since the muxer cuts at the first keyframe at or after each multiple, every segment but
    the last then lasts HLS_SEGMENT_SECONDS within the tolerance, and the last at most that
    plus the tolerance. Unmeasured keyframes do not fit."""
    lag = info.segment_keyframe_lag
    return lag is not None and lag <= SEGMENT_TOLERANCE_SECONDS


def _bitrate_is_moderate(info: MediaInfo) -> bool:
    bit_rate = info.video_bit_rate or info.bit_rate
    if bit_rate is None:
        return False
    top_rung = ladder_for(info)[-1]
    return bit_rate <= top_rung.video_kbps * 1000 * STANDARD_BITRATE_HEADROOM


@dataclass(frozen=True, slots=True)
class Rung:
    """One rendition: the short side of the picture (height for landscape, width for
    portrait) and the bitrates it is encoded at (video as a cap on constant quality)."""

    name: str
    short_side: int
    video_kbps: int
    audio_kbps: int


LADDER = (
    Rung("360p", 360, 800, 96),
    Rung("720p", 720, 2500, 128),
    Rung("1080p", 1080, 4500, 128),
)
# A fixed rung below the top one is kept only if it is at least this much smaller, so a
# 740p source yields 360p + 740p rather than a near-duplicate 720p as well.
_RUNG_SPACING = 1.2
_MIN_VIDEO_KBPS = 100


def ladder_for(info: MediaInfo) -> list[Rung]:
    """The renditions to make, smallest first. Never upscales: the top rung is the source's
    own short side (capped at 1080), e.g. 1080p → 360/720/1080, 540p → 360/540, 200p → 200."""
    top_side = min(max(2, info.short_side // 2 * 2), LADDER[-1].short_side)
    lower = [rung for rung in LADDER if rung.short_side * _RUNG_SPACING <= top_side]
    return [*lower, _rung_at(top_side)]


def _rung_at(short_side: int) -> Rung:
    """The fixed rung of that size, or one scaled down (by picture area) from the next
    fixed rung up."""
    above = next(rung for rung in LADDER if rung.short_side >= short_side)
    if above.short_side == short_side:
        return above
    area_ratio = (short_side / above.short_side) ** 2
    video_kbps = max(_MIN_VIDEO_KBPS, round(above.video_kbps * area_ratio))
    return Rung(f"{short_side}p", short_side, video_kbps, above.audio_kbps)


def output_size(info: MediaInfo, rung: Rung) -> tuple[int, int]:
    """The displayed (post-rotation) width and height of a rung, aspect kept, both even."""
    return _picture_size(info, rung.short_side)


def _picture_size(info: MediaInfo, short_side: int) -> tuple[int, int]:
    width, height = info.display_width, info.display_height
    if width <= height:
        return short_side, even_length(height * short_side / width)
    return even_length(width * short_side / height), short_side


def even_length(length: float) -> int:
    """Encoders need 4:2:0 pictures with even dimensions."""
    return max(2, round(length / 2) * 2)


# A stacked-alpha rendition: the colour picture over its alpha matte, one frame twice as tall.
STACKED_ALPHA_NAME = "alpha"
STACKED_ALPHA_MAX_SHORT_SIDE = 720
# H.264 level 4.1, which every phone decodes in hardware: at most 8192 macroblocks (16x16
# pixels) a frame, and no side longer than sqrt(8 x 8192) = 256 macroblocks (4096 pixels).
H264_MAX_FRAME_MACROBLOCKS = 8192
H264_MAX_SIDE_MACROBLOCKS = 256


def stacked_alpha_rung(info: MediaInfo, cap_short_side: int) -> Rung:
    """The stacked-alpha rendition's rung: its colour picture's short side, at most 720, the
    company's cap and the source's, lowered until the stacked frame fits H.264 level 4.1;
    encoded at twice the bitrate of a ladder rung of that size (the frame is twice as tall)."""
    short_side = max(2, min(STACKED_ALPHA_MAX_SHORT_SIDE, cap_short_side, info.short_side) // 2 * 2)
    while short_side > 2 and not _fits_h264_level(*_stacked_size(info, short_side)):
        short_side -= 2
    colour = _rung_at(short_side)
    return Rung(STACKED_ALPHA_NAME, short_side, 2 * colour.video_kbps, colour.audio_kbps)


def stacked_alpha_size(info: MediaInfo, rung: Rung) -> tuple[int, int]:
    """The stacked frame's width and height: the colour picture (sized as a ladder rung, aspect
    kept, both even) over the matte of the same size."""
    return _stacked_size(info, rung.short_side)


def _stacked_size(info: MediaInfo, short_side: int) -> tuple[int, int]:
    width, height = _picture_size(info, short_side)
    return width, 2 * height


def _fits_h264_level(width: int, height: int) -> bool:
    columns, rows = math.ceil(width / 16), math.ceil(height / 16)
    return (
        columns * rows <= H264_MAX_FRAME_MACROBLOCKS
        and max(columns, rows) <= H264_MAX_SIDE_MACROBLOCKS
    )
