"""The pure side of media handling: reading ffprobe's report, the stream-copy decision,
the rendition ladder and the stacked-alpha rendition's size."""

import json
import math
from dataclasses import asdict, replace
from fractions import Fraction
from typing import Any

import pytest

from app.utils.media_probe import (
    H264_MAX_FRAME_MACROBLOCKS,
    H264_MAX_SIDE_MACROBLOCKS,
    HLS_SEGMENT_SECONDS,
    LADDER,
    SEGMENT_TOLERANCE_SECONDS,
    MediaError,
    MediaInfo,
    is_standard,
    keyframes_fit_segments,
    ladder_for,
    media_info_from_ffprobe,
    output_size,
    stacked_alpha_rung,
    stacked_alpha_size,
    with_keyframes,
)

PLAIN_HD = MediaInfo(
    format_name="mov,mp4,m4a,3gp,3g2,mj2",
    duration=10.0,
    size=2_500_000,
    bit_rate=2_000_000,
    video_codec="h264",
    profile="High",
    level=40,
    pix_fmt="yuv420p",
    bit_depth=8,
    width=1920,
    height=1080,
    sample_aspect_ratio=Fraction(1),
    rotation=0,
    fps=30.0,
    video_bit_rate=1_900_000,
    audio_codec="aac",
    audio_profile="LC",
    audio_channels=2,
)


def sized(width: int, height: int, rotation: int = 0) -> MediaInfo:
    return replace(PLAIN_HD, width=width, height=height, rotation=rotation)


def report(**video: Any) -> dict[str, Any]:
    """A minimal ffprobe report of one H.264 stream, with `video` fields overridden."""
    stream = {
        "index": 0,
        "codec_type": "video",
        "codec_name": "h264",
        "width": 1280,
        "height": 720,
        "avg_frame_rate": "30000/1001",
        "disposition": {"attached_pic": 0},
    } | video
    return {
        "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "12.5"},
        "streams": [stream],
    }


def test_a_report_becomes_media_info() -> None:
    info = media_info_from_ffprobe(report(profile="Main", pix_fmt="yuv420p", level=31))
    assert info.duration == 12.5
    assert (info.width, info.height, info.display_width, info.display_height) == (
        1280,
        720,
        1280,
        720,
    )
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert (info.profile, info.level, info.bit_depth) == ("Main", 31, 8)
    assert not info.has_audio


@pytest.mark.parametrize(
    ("video", "rotation"),
    [
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}, 90),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 90}]}, 270),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -180}]}, 180),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 0}]}, 0),
        ({"tags": {"rotate": "90"}}, 90),
        ({"tags": {"rotate": "-90"}}, 270),
        ({}, 0),
    ],
)
def test_rotation_is_read_as_clockwise_quarter_turns(video: dict[str, Any], rotation: int) -> None:
    info = media_info_from_ffprobe(report(**video))
    assert info.rotation == rotation
    portrait = rotation in (90, 270)
    assert (info.display_width, info.display_height) == ((720, 1280) if portrait else (1280, 720))
    assert info.short_side == 720


def test_non_square_pixels_widen_the_displayed_picture() -> None:
    info = media_info_from_ffprobe(report(width=1440, height=1080, sample_aspect_ratio="4:3"))
    assert (info.display_width, info.display_height) == (1920, 1080)


def test_frame_rate_falls_back_to_the_nominal_one() -> None:
    info = media_info_from_ffprobe(report(avg_frame_rate="0/0", r_frame_rate="25/1"))
    assert info.fps == 25.0


def test_bit_depth_comes_from_the_pixel_format_when_not_stated() -> None:
    info = media_info_from_ffprobe(report(codec_name="hevc", pix_fmt="yuv420p10le"))
    assert info.bit_depth == 10


def test_audio_is_described() -> None:
    data = report()
    data["streams"].append(
        {"index": 1, "codec_type": "audio", "codec_name": "aac", "profile": "LC", "channels": 2}
    )
    info = media_info_from_ffprobe(data)
    assert (info.has_audio, info.audio_codec, info.audio_channels) == (True, "aac", 2)


def audio_with_cover_art() -> dict[str, Any]:
    data = report(codec_name="mjpeg", disposition={"attached_pic": 1})
    data["streams"].append({"index": 1, "codec_type": "audio", "codec_name": "mp3"})
    return data


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (audio_with_cover_art(), "no video stream"),
        ({"format": {"format_name": "mp3", "duration": "3"}, "streams": []}, "container 'mp3'"),
        (report() | {"format": {"format_name": "hls", "duration": "3"}}, "container 'hls'"),
        (report() | {"format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2"}}, "zero duration"),
        (report() | {"format": {"format_name": "mpegts", "duration": "0.0"}}, "zero duration"),
        (report(width=0), "no picture size"),
    ],
)
def test_what_is_not_a_playable_video_is_refused(data: dict[str, Any], reason: str) -> None:
    with pytest.raises(MediaError, match=reason) as refused:
        media_info_from_ffprobe(data)
    assert refused.value.permanent


def test_a_plain_h264_file_is_standard() -> None:
    assert is_standard(PLAIN_HD)
    assert is_standard(replace(PLAIN_HD, audio_codec=None))
    assert is_standard(replace(PLAIN_HD, profile="Constrained Baseline", pix_fmt="yuvj420p"))


@pytest.mark.parametrize(
    "change",
    [
        {"video_codec": "hevc"},
        {"video_codec": "mpeg4", "profile": "Simple Profile"},
        {"pix_fmt": "yuv420p10le", "profile": "High 10", "bit_depth": 10},
        {"pix_fmt": "yuv444p", "profile": "High 4:4:4 Predictive"},
        {"profile": None},
        {"audio_codec": "mp3"},
        {"rotation": 90},
        {"fps": 120.0},
        {"fps": 0.0},
        {"width": 3840, "height": 2160},
        # 2.5 x the 1080p rung's 4500 kbps is the most a copied 1080p source may carry.
        {"video_bit_rate": 11_300_000},
        {"video_bit_rate": None, "bit_rate": None},
    ],
)
def test_what_is_not_standard(change: dict[str, Any]) -> None:
    assert not is_standard(replace(PLAIN_HD, **change))


def test_the_overall_bitrate_stands_in_for_an_unknown_video_bitrate() -> None:
    assert is_standard(replace(PLAIN_HD, video_bit_rate=None, bit_rate=11_000_000))
    assert not is_standard(replace(PLAIN_HD, video_bit_rate=None, bit_rate=12_000_000))


def names(info: MediaInfo) -> list[str]:
    return [rung.name for rung in ladder_for(info)]


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (sized(1920, 1080), ["360p", "720p", "1080p"]),
        (sized(1080, 1920), ["360p", "720p", "1080p"]),
        (sized(1920, 1080, rotation=90), ["360p", "720p", "1080p"]),
        (sized(3840, 2160), ["360p", "720p", "1080p"]),
        (sized(1280, 720), ["360p", "720p"]),
        (sized(1280, 704), ["360p", "704p"]),
        (sized(960, 540), ["360p", "540p"]),
        (sized(640, 360), ["360p"]),
        (sized(712, 400), ["400p"]),
        (sized(320, 240), ["240p"]),
        (sized(160, 90), ["90p"]),
        (sized(161, 91), ["90p"]),  # even, rounded down: never above the source
    ],
)
def test_ladder(info: MediaInfo, expected: list[str]) -> None:
    assert names(info) == expected


@pytest.mark.parametrize(
    "info", [sized(1920, 1080), sized(1280, 703), sized(350, 196), sized(90, 160)]
)
def test_the_ladder_never_upscales(info: MediaInfo) -> None:
    for rung in ladder_for(info):
        width, height = output_size(info, rung)
        assert width <= info.display_width + 1
        assert height <= info.display_height + 1


def test_rungs_between_fixed_ones_get_a_proportionate_bitrate() -> None:
    rung_540 = ladder_for(sized(960, 540))[-1]
    assert LADDER[0].video_kbps < rung_540.video_kbps < LADDER[1].video_kbps
    assert ladder_for(sized(160, 90))[0].video_kbps == 100  # the floor


@pytest.mark.parametrize(
    ("info", "rung_index", "size"),
    [
        (sized(1920, 1080), 1, (1280, 720)),
        (sized(1080, 1920), 1, (720, 1280)),
        (sized(1920, 1080, rotation=90), 1, (720, 1280)),
        (sized(1920, 1080, rotation=270), 0, (360, 640)),
        (sized(1920, 1080, rotation=180), 0, (640, 360)),
        (sized(1280, 703), 0, (656, 360)),
        (sized(160, 90), 0, (160, 90)),
        (sized(240, 426), 0, (240, 426)),
        (replace(sized(1440, 1080), sample_aspect_ratio=Fraction(4, 3)), 1, (1280, 720)),
    ],
)
def test_output_size_keeps_the_displayed_aspect_with_even_sides(
    info: MediaInfo, rung_index: int, size: tuple[int, int]
) -> None:
    assert output_size(info, ladder_for(info)[rung_index]) == size


def every(step: float, until: float, start: float = 0.0) -> list[float]:
    """Keyframe times from `start`, `step` apart, before `until`."""
    count = int((until - start) / step - 1e-9) + 1
    return [start + index * step for index in range(count)]


def spaced(duration: float, keyframes: list[float]) -> MediaInfo:
    return with_keyframes(replace(PLAIN_HD, duration=duration), keyframes)


def test_the_segment_length_is_four_seconds_with_a_tolerance_that_rounds_to_it() -> None:
    assert HLS_SEGMENT_SECONDS == 4
    assert 0 < SEGMENT_TOLERANCE_SECONDS < 0.5


@pytest.mark.parametrize(
    ("duration", "keyframes", "interval", "lag"),
    [
        (10.0, every(2.0, 10.0), 2.0, 0.0),
        (10.0, every(1.0, 10.0), 1.0, 0.0),
        # The source: 8.33 s GOPs, so the cut due at 12 s waits until 16.67 s.
        (20.0, every(25 / 3, 20.0), 8.333333, 4.666667),
        # Short GOPs that do not divide the segment length miss its multiples too.
        (13.0, every(3.0, 13.0), 3.0, 2.0),
        # A stream starting late (MPEG-TS) is measured from its first keyframe.
        (10.0, every(2.0, 11.4, start=1.4), 2.0, 0.0),
        # One keyframe: the group of pictures runs to the end.
        (3.0, [0.0], 3.0, 0.0),
        (9.0, [0.0], 9.0, 5.0),
        # The end of the video closes the last segment like a keyframe.
        (12.05, [0.0, 4.0, 8.0], 4.05, 0.05),
        (12.5, [0.0, 4.0, 8.0], 4.5, 0.5),
    ],
)
def test_keyframe_spacing_is_measured(
    duration: float, keyframes: list[float], interval: float, lag: float
) -> None:
    info = spaced(duration, keyframes)
    assert info.keyframe_interval == pytest.approx(interval, abs=1e-6)
    assert info.segment_keyframe_lag == pytest.approx(lag, abs=1e-6)


def test_keyframes_come_in_any_order() -> None:
    assert spaced(10.0, [4.0, 0.0, 8.0, 2.0, 6.0]).segment_keyframe_lag == 0.0


def test_keyframes_fit_when_every_segment_boundary_has_one_within_the_tolerance() -> None:
    assert keyframes_fit_segments(spaced(60.0, every(2.0, 60.0)))
    assert keyframes_fit_segments(spaced(3.5, [0.0]))  # shorter than one segment
    assert keyframes_fit_segments(spaced(12.05, [0.0, 4.0, 8.0]))
    # 29.97 fps, a keyframe every 60 frames: 2.002 s, each boundary 4 ms later than the last.
    gop = 60 * 1001 / 30000
    assert keyframes_fit_segments(spaced(60.0, every(gop, 60.0)))
    assert not keyframes_fit_segments(spaced(200.0, every(gop, 200.0)))


@pytest.mark.parametrize(
    ("duration", "keyframes"),
    [
        (20.0, every(25 / 3, 20.0)),
        (13.0, every(3.0, 13.0)),
        (12.5, [0.0, 4.0, 8.0]),  # the last segment would last 4.5 s
        (10.0, []),  # no keyframe times: not measured
    ],
)
def test_keyframes_that_miss_a_boundary_do_not_fit(duration: float, keyframes: list[float]) -> None:
    assert not keyframes_fit_segments(spaced(duration, keyframes))


def test_unmeasured_keyframes_do_not_fit() -> None:
    """A probe made before keyframes were measured has no spacing: the source is encoded."""
    assert PLAIN_HD.keyframe_interval is None
    assert not keyframes_fit_segments(PLAIN_HD)
    assert spaced(10.0, []).segment_keyframe_lag is None


def test_the_spacing_is_stored_as_plain_json_numbers() -> None:
    info = spaced(20.0, every(25 / 3, 20.0))
    stored = json.loads(json.dumps(asdict(info), default=str))
    assert stored["keyframe_interval"] == 8.333333
    assert stored["segment_keyframe_lag"] == 4.666667


# The stacked-alpha rendition
def stacked(info: MediaInfo, cap_short_side: int = 1080) -> tuple[int, int]:
    return stacked_alpha_size(info, stacked_alpha_rung(info, cap_short_side))


@pytest.mark.parametrize(
    ("info", "cap", "size"),
    [
        (sized(320, 240), 1080, (320, 480)),
        (sized(1920, 1080), 1080, (1280, 1440)),
        (sized(1920, 1080), 360, (640, 720)),
        (sized(1080, 1920), 1080, (720, 2560)),
        (sized(1920, 1080, rotation=90), 1080, (720, 2560)),
        (sized(160, 90), 1080, (160, 180)),
    ],
)
def test_the_stacked_colour_keeps_its_aspect_with_its_short_side_at_most_720(
    info: MediaInfo, cap: int, size: tuple[int, int]
) -> None:
    assert stacked(info, cap) == size


@pytest.mark.parametrize("info", [sized(2560, 1080), sized(720, 5000), sized(1080, 1080)])
def test_the_stacked_frame_fits_h264_level_4_1(info: MediaInfo) -> None:
    width, height = stacked(info)
    columns, rows = math.ceil(width / 16), math.ceil(height / 16)
    assert columns * rows <= H264_MAX_FRAME_MACROBLOCKS
    assert max(columns, rows) <= H264_MAX_SIDE_MACROBLOCKS
    assert width % 2 == 0
    assert height % 4 == 0
    colour_aspect = width / (height / 2)
    assert colour_aspect == pytest.approx(info.display_width / info.display_height, rel=0.01)


def test_the_stacked_frame_gets_twice_the_bitrate_of_its_colour_rung() -> None:
    rung = stacked_alpha_rung(PLAIN_HD, 1080)
    assert (rung.name, rung.short_side, rung.video_kbps) == ("alpha", 720, 2 * 2500)
