"""Content sniffing on hand-made headers and on files written by the real ffmpeg, and
file-name sanitising."""

from pathlib import Path

import pytest

from app.utils.sniff import (
    ALLOWED_TYPES,
    IMAGE_TYPES,
    MAX_FILENAME_BYTES,
    MAX_FILENAME_CHARS,
    SNIFF_BYTES,
    VIDEO_TYPES,
    sanitize_filename,
    sniff_content_type,
)
from tests.support.media import ffmpeg, make_text_file


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def ftyp(brand: bytes) -> bytes:
    return box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand + b"isom")


def ebml_header(doctype: bytes) -> bytes:
    """EBMLVersion, then DocType, inside an EBML header (one-byte sizes: 0x80 | size)."""
    elements = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(elements)]) + elements


def ts_packets(first: int, packet: int, count: int = 3) -> bytes:
    data = bytearray(first + packet * count)
    for number in range(count):
        data[first + number * packet] = 0x47
    return bytes(data)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF87a\x01\x00", "image/gif"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\x00\x00\x00AVI LIST", "video/x-msvideo"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (ftyp(b"isom") + box(b"moov"), "video/mp4"),
        (ftyp(b"mp42"), "video/mp4"),
        (ftyp(b"3gp5"), "video/mp4"),
        (ftyp(b"qt  ") + box(b"wide") + box(b"mdat"), "video/quicktime"),
        (ftyp(b"heic"), None),
        (ftyp(b"avif"), None),
        (ftyp(b"M4A "), None),
        (box(b"moov", b"\x00" * 16), "video/quicktime"),
        (box(b"wide") + box(b"mdat", b"\x00" * 8), "video/quicktime"),
        (box(b"free", b"\x00" * 8) + ftyp(b"isom"), "video/mp4"),
        (box(b"free", b"\x00" * 8) + box(b"blah"), None),
        ((SNIFF_BYTES * 2).to_bytes(4, "big") + b"free" + b"\x00" * 64, None),
        (b"\x00\x00\x00\x00free", None),
        (ebml_header(b"webm"), "video/webm"),
        (ebml_header(b"matroska"), "video/x-matroska"),
        (ebml_header(b"foo"), None),
        (b"\x1a\x45\xdf\xa3", None),
        (ts_packets(0, 188), "video/mp2t"),
        (ts_packets(4, 192), "video/mp2t"),
        (ts_packets(0, 188, count=2), None),
        (b"\x00\x00\x01\xba\x44\x00", "video/mpeg"),
        (b"\x00\x00\x01\xb3\x14\x00", "video/mpeg"),
        (b"FLV\x01\x05\x00\x00\x00\x09", "video/x-flv"),
        (b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n/etc/passwd\n", None),
        (b"ffconcat version 1.0\nfile '/etc/passwd'\n", None),
        (b"file 'clip.mp4'\n", None),
        (b"Hello, world", None),
        (b"", None),
    ],
)
def test_sniff_content_type(head: bytes, expected: str | None) -> None:
    assert sniff_content_type(head) == expected


# Tiny files in each container, as ffmpeg really writes them: (name, extra ffmpeg output
# options, expected type).
REAL_FILES = [
    ("clip.mp4", [], "video/mp4"),
    ("clip.mov", [], "video/quicktime"),
    ("clip.mkv", [], "video/x-matroska"),
    ("clip.webm", ["-c:v", "libvpx", "-deadline", "realtime"], "video/webm"),
    ("clip.avi", [], "video/x-msvideo"),
    ("clip.ts", [], "video/mp2t"),
    ("clip.mpg", [], "video/mpeg"),
    ("clip.flv", [], "video/x-flv"),
    ("still.jpg", ["-frames:v", "1"], "image/jpeg"),
    ("still.png", ["-frames:v", "1"], "image/png"),
    ("still.gif", ["-frames:v", "1"], "image/gif"),
    ("still.webp", ["-frames:v", "1"], "image/webp"),
]


@pytest.fixture(scope="module")
def real_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sniff")
    for name, options, _ in REAL_FILES:
        source = "testsrc2=size=64x64:rate=25:duration=0.2"
        ffmpeg("-f", "lavfi", "-i", source, *options, str(folder / name))
    return folder


@pytest.mark.parametrize(("name", "expected"), [(name, kind) for name, _, kind in REAL_FILES])
def test_sniff_recognises_what_ffmpeg_writes(real_files: Path, name: str, expected: str) -> None:
    head = (real_files / name).read_bytes()[:SNIFF_BYTES]
    assert sniff_content_type(head) == expected


def test_a_text_file_named_like_a_video_is_not_sniffed_as_one(tmp_path: Path) -> None:
    text = make_text_file(tmp_path / "holiday.mp4")
    assert sniff_content_type(text.read_bytes()) is None


def test_type_sets() -> None:
    assert ALLOWED_TYPES == IMAGE_TYPES | VIDEO_TYPES
    assert not IMAGE_TYPES & VIDEO_TYPES
    assert {kind for _, _, kind in REAL_FILES} == ALLOWED_TYPES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("holiday.mp4", "holiday.mp4"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\Иван\\Видео\\Отпуск на море 2024.MOV", "Отпуск на море 2024.MOV"),
        ("/var/www/../uploads/clip.webm", "clip.webm"),
        (".htaccess", "htaccess"),
        ("..", "file"),
        ("", "file"),
        ("   \t ", "file"),
        ("dir/", "file"),
        ("a\x00b\x07c.mp4", "abc.mp4"),
        ("line\nbreak\ttab.mp4", "line break tab.mp4"),
        ("  many    spaces   here.mp4  ", "many spaces here.mp4"),
        ("photo\u202egnp.exe", "photognp.exe"),
        ("zero\u200bwidth.mp4", "zerowidth.mp4"),
        ('what?<>:"|*.mp4', "what_______.mp4"),
        ("trailing dots...", "trailing dots"),
        ("Cafe\u0301 Crème.mp4", "Café Crème.mp4"),
        ("Ёжик в тумане.mp4", "Ёжик в тумане.mp4"),
        ("视频.mp4", "视频.mp4"),
    ],
)
def test_sanitize_filename(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_long_names_are_capped_keeping_the_extension() -> None:
    name = sanitize_filename("x" * 300 + ".mp4")
    assert len(name) == MAX_FILENAME_CHARS
    assert name == "x" * (MAX_FILENAME_CHARS - 4) + ".mp4"


def test_long_cyrillic_names_fit_a_file_system_name_in_bytes() -> None:
    name = sanitize_filename("видео" * 60 + ".mp4")
    assert len(name.encode()) <= MAX_FILENAME_BYTES
    assert len(name.encode()) > MAX_FILENAME_BYTES - 2  # cut at the limit, not far below
    assert name.endswith(".mp4")
    assert name.startswith("видео")


def test_an_overlong_extension_is_not_taken_for_one() -> None:
    name = sanitize_filename("a" * 250 + "." + "b" * 40)
    assert name == "a" * MAX_FILENAME_CHARS
