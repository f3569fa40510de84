"""What an upload really is, from its first bytes, and a safe name to store it under.

The client's Content-Type and file extension are only claims; these magic numbers decide
which pipeline a file may enter. Anything unrecognised (text, playlists, archives) is None.
"""

import re
import unicodedata

SNIFF_BYTES = 4096

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
VIDEO_TYPES = frozenset(
    {
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "video/x-matroska",
        "video/x-msvideo",
        "video/mp2t",
        "video/mpeg",
        "video/x-flv",
    }
)
ALLOWED_TYPES = IMAGE_TYPES | VIDEO_TYPES

_SIMPLE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x00\x00\x01\xba", "video/mpeg"),  # MPEG program stream pack header
    (b"\x00\x00\x01\xb3", "video/mpeg"),  # MPEG-1/2 video sequence header
    (b"FLV\x01", "video/x-flv"),
)
_RIFF_FORMS = {b"WEBP": "image/webp", b"AVI ": "video/x-msvideo"}

# ISO BMFF brands that are not a video: HEIF/AVIF stills and audio-only MPEG-4.
_NON_VIDEO_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis", b"M4A ", b"M4B "}
)
# Atoms a legacy QuickTime file (no `ftyp`) may start with before its movie data.
_SKIPPABLE_ATOMS = frozenset({b"free", b"skip", b"wide", b"pnot", b"junk"})
_MOVIE_ATOMS = frozenset({b"moov", b"mdat"})

_TS_PACKET = 188
_M2TS_PACKET = 192  # Blu-ray / AVCHD: a 4-byte timestamp before every TS packet
_TS_SYNC = 0x47

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID = 0x4282
_MATROSKA_DOCTYPES = {b"webm": "video/webm", b"matroska": "video/x-matroska"}


def sniff_content_type(head: bytes) -> str | None:
    """The content type proven by the file's first bytes (pass at least `SNIFF_BYTES`)."""
    for signature, content_type in _SIMPLE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head.startswith(b"RIFF"):
        return _RIFF_FORMS.get(head[8:12])
    if head.startswith(_EBML_MAGIC):
        return _sniff_matroska(head)
    if _is_mpeg_ts(head):
        return "video/mp2t"
    return _sniff_iso_bmff(head)


def _is_mpeg_ts(head: bytes) -> bool:
    def synced(first: int, packet: int) -> bool:
        offsets = (first, first + packet, first + 2 * packet)
        return len(head) > offsets[-1] and all(head[offset] == _TS_SYNC for offset in offsets)

    return synced(0, _TS_PACKET) or synced(4, _M2TS_PACKET)


def _sniff_iso_bmff(head: bytes) -> str | None:
    """Walk the leading top-level boxes: `ftyp` names the brand; legacy QuickTime files
    start straight with movie atoms, possibly after padding atoms."""
    offset = 0
    while offset + 8 <= len(head):
        size = int.from_bytes(head[offset : offset + 4], "big")
        kind = head[offset + 4 : offset + 8]
        if kind == b"ftyp":
            return _content_type_for_brand(head[offset + 8 : offset + 12])
        if kind in _MOVIE_ATOMS:
            return "video/quicktime"
        if kind not in _SKIPPABLE_ATOMS or size < 8:
            return None
        offset += size
    return None


def _content_type_for_brand(major_brand: bytes) -> str | None:
    if major_brand == b"qt  ":
        return "video/quicktime"
    if len(major_brand) < 4 or major_brand in _NON_VIDEO_BRANDS:
        return None
    return "video/mp4"


def _sniff_matroska(head: bytes) -> str | None:
    """Read the DocType element of the EBML header: WebM is a restricted Matroska."""
    header = _read_vint(head, len(_EBML_MAGIC))
    if header is None:
        return None
    header_size, position = header
    end = min(len(head), position + header_size)
    while position < end:
        element_id = _read_element_id(head, position)
        if element_id is None:
            return None
        identifier, position = element_id
        size = _read_vint(head, position)
        if size is None:
            return None
        length, position = size
        if identifier == _EBML_DOCTYPE_ID:
            doctype = head[position : position + length].rstrip(b"\x00")
            return _MATROSKA_DOCTYPES.get(doctype)
        position += length
    return None


def _vint_length(head: bytes, position: int) -> int | None:
    """EBML variable-length integers announce their length (1-8) by leading zero bits."""
    if position >= len(head) or head[position] == 0:
        return None
    length = 9 - head[position].bit_length()
    return length if position + length <= len(head) else None


def _read_vint(head: bytes, position: int) -> tuple[int, int] | None:
    """A size: the value without its length marker bit, and the position after it."""
    length = _vint_length(head, position)
    if length is None:
        return None
    value = head[position] & (0xFF >> length)
    for byte in head[position + 1 : position + length]:
        value = (value << 8) | byte
    return value, position + length


def _read_element_id(head: bytes, position: int) -> tuple[int, int] | None:
    """An element id keeps its length marker bit (0x4282 is written as 42 82)."""
    length = _vint_length(head, position)
    if length is None:
        return None
    return int.from_bytes(head[position : position + length], "big"), position + length


MAX_FILENAME_CHARS = 200
# Common file systems cap a name at 255 bytes; Cyrillic takes two bytes a letter in UTF-8.
MAX_FILENAME_BYTES = 255
_MAX_EXTENSION_CHARS = 16
_FALLBACK_FILENAME = "file"
# Reserved on Windows and awkward in Content-Disposition headers.
_RESERVED_CHARACTERS = re.compile(r'[<>:"|?*]')
_WHITESPACE = re.compile(r"\s+")
# Control (Cc) and format (Cf) characters: NUL, newlines, and invisible tricks such as
# U+202E, which makes "photo\u202egnp.exe" display as "photoexe.png".
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf"})


def sanitize_filename(name: str) -> str:
    """A display-safe base name: no directories, control characters or leading dots;
    unicode letters are kept, the length is capped and the extension survives the cap."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    visible = "".join(
        " " if char.isspace() else char
        for char in base
        if char.isspace() or unicodedata.category(char) not in _INVISIBLE_CATEGORIES
    )
    cleaned = _RESERVED_CHARACTERS.sub("_", _WHITESPACE.sub(" ", visible))
    # Leading dots hide files; trailing dots and spaces are dropped by Windows.
    cleaned = cleaned.strip(". ")
    return _cap_length(cleaned) or _FALLBACK_FILENAME


def _cap_length(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > _MAX_EXTENSION_CHARS:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    stem = stem[: MAX_FILENAME_CHARS - len(suffix)]
    while stem and len(f"{stem}{suffix}".encode()) > MAX_FILENAME_BYTES:
        stem = stem[:-1]
    return f"{stem.rstrip('. ')}{suffix}"
