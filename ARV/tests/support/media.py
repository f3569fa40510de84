"""Small test clips made by the real ffmpeg from its lavfi test sources, and hostile files
dressed up as videos. Also a pytest plugin: the session fixture `clips` (register the module
`tests.support.media` as a plugin, or import the fixture into a conftest)."""

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FFMPEG = "ffmpeg"
_FFMPEG_TIMEOUT_SECONDS = 120
# veryfast keeps x264 test clips at a phone-like modest bitrate (ultrafast triples it).
_FAST_PRESETS = {"libx264": "veryfast", "libx265": "ultrafast"}


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=_FFMPEG_TIMEOUT_SECONDS,
    )


@functools.cache
def has_encoder(name: str) -> bool:
    listing = subprocess.run(
        [FFMPEG, "-hide_banner", "-encoders"], capture_output=True, text=True, check=True
    ).stdout
    return any(line.split()[1:2] == [name] for line in listing.splitlines())


def make_clip(
    path: Path,
    *,
    width: int,
    height: int,
    seconds: float,
    fps: int = 25,
    vcodec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: bool = True,
    acodec: str = "aac",
    rotate: int | None = None,
    black_lead_seconds: float = 0.0,
    gop: int | None = None,
) -> Path:
    """A moving test picture (with a 440 Hz tone) in the container `path`'s suffix names.
    `rotate` sets a phone-style display rotation in degrees clockwise; `black_lead_seconds`
    of the clip's start are black."""
    picture = f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"
    if black_lead_seconds:
        picture += f",drawbox=color=black:t=fill:enable='lt(t,{black_lead_seconds})'"
    args = ["-f", "lavfi", "-i", picture]
    if audio:
        tone = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
        args += ["-f", "lavfi", "-i", tone, "-c:a", acodec]
    args += ["-c:v", vcodec, "-pix_fmt", pix_fmt]
    if vcodec in _FAST_PRESETS:
        args += ["-preset", _FAST_PRESETS[vcodec]]
    if vcodec == "libx265":
        args += ["-x265-params", "log-level=error"]
    if gop is not None:
        args += ["-g", str(gop), "-sc_threshold", "0"]  # keyframes exactly every `gop` frames
    encoded = path if rotate is None else path.with_name(f"unrotated-{path.name}")
    ffmpeg(*args, str(encoded))
    if rotate is not None:
        _set_display_rotation(encoded, path, rotate)
        encoded.unlink()
    return path


def _set_display_rotation(src: Path, dst: Path, clockwise_degrees: int) -> None:
    """ffmpeg 5.1 has no `-display_rotation` (6.0+); its legacy `rotate` tag, applied on a
    stream copy, becomes a display matrix that turns the picture *counterclockwise* by the
    tag's value, hence the negation. A phone held upright records clockwise 90."""
    tag = (-clockwise_degrees) % 360
    ffmpeg("-i", str(src), "-c", "copy", "-metadata:s:v:0", f"rotate={tag}", str(dst))


# Where the subject of `make_green_screen_clip` stands in the first frame: a white square
# (left, top, side) with a red square over its middle half.
GREEN_SCREEN_SUBJECT = (40, 70, 100)


def make_green_screen_clip(
    path: Path, *, width: int = 320, height: int = 240, seconds: float = 2.0
) -> Path:
    """A subject filmed on a green screen: `GREEN_SCREEN_SUBJECT` moving right by 40 px a
    second over pure green (#00FF00), with a 440 Hz tone; H.264/AAC."""
    left, top, side = GREEN_SCREEN_SUBJECT
    inner = side // 2
    source = f"s={width}x{height}:r=25:d={seconds}"
    ffmpeg(
        *("-f", "lavfi", "-i", f"color=c=0x00FF00:{source}"),
        *("-f", "lavfi", "-i", f"color=c=white:s={side}x{side}:r=25:d={seconds}"),
        *("-f", "lavfi", "-i", f"color=c=red:s={inner}x{inner}:r=25:d={seconds}"),
        *("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"),
        "-filter_complex",
        f"[1][2]overlay={inner // 2}:{inner // 2}[subject];"
        f"[0][subject]overlay=x='{left}+40*t':y={top}:shortest=1[v]",
        *("-map", "[v]", "-map", "3:a"),
        *("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"),
        str(path),
    )
    return path


def make_non_standard_clip(path: Path, *, width: int = 320, height: int = 240) -> Path:
    """HEVC if this ffmpeg can encode it, otherwise MPEG-4 Part 2: neither is copied as is."""
    vcodec = "libx265" if has_encoder("libx265") else "mpeg4"
    return make_clip(path, width=width, height=height, seconds=2, vcodec=vcodec)


def make_corrupt_mp4(path: Path, source_mp4: Path) -> Path:
    """The first half of an MP4 whose index (`moov`) is written at the end, as an upload
    cut off midway: it starts like a video and cannot be played."""
    data = source_mp4.read_bytes()
    if data.find(b"moov") < data.find(b"mdat"):
        raise ValueError(f"{source_mp4} has its index first (faststart); it survives cutting")
    path.write_bytes(data[: len(data) // 2])
    return path


def make_text_file(path: Path, text: str = "Meeting notes\nnothing to see here\n") -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def make_hls_playlist_pointing_at(path: Path, target: Path) -> Path:
    """A VOD HLS playlist whose one segment is a local file: how an upload would make an
    unguarded ffmpeg read a file from the server's disk."""
    return make_text_file(
        path,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:10.0,\n{target.resolve()}\n#EXT-X-ENDLIST\n",
    )


@dataclass(frozen=True, slots=True)
class Clips:
    landscape_h264_audio: Path
    portrait_h264_no_audio: Path
    rotated_phone: Path
    """Stored 320x240, displayed 240x320: rotated 90 degrees clockwise."""
    hevc_or_mpeg4: Path
    black_lead: Path
    """3 s, the first second black."""
    tiny: Path
    corrupt: Path
    text_as_mp4: Path
    hls_as_mp4: Path
    """An HLS playlist named .mp4 whose segment is `landscape_h264_audio`."""


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    folder = tmp_path_factory.mktemp("clips")
    landscape = make_clip(folder / "landscape.mp4", width=320, height=240, seconds=3)
    return Clips(
        landscape_h264_audio=landscape,
        portrait_h264_no_audio=make_clip(
            folder / "portrait.mp4", width=240, height=426, seconds=2, audio=False
        ),
        rotated_phone=make_clip(
            folder / "rotated.mp4", width=320, height=240, seconds=2, rotate=90
        ),
        hevc_or_mpeg4=make_non_standard_clip(folder / "non_standard.mp4"),
        black_lead=make_clip(
            folder / "black_lead.mp4", width=320, height=240, seconds=3, black_lead_seconds=1
        ),
        tiny=make_clip(folder / "tiny.mp4", width=160, height=90, seconds=2),
        corrupt=make_corrupt_mp4(folder / "corrupt.mp4", landscape),
        text_as_mp4=make_text_file(folder / "notes.mp4"),
        hls_as_mp4=make_hls_playlist_pointing_at(folder / "playlist.mp4", landscape),
    )
