"""An uploaded marker image, checked and normalised.

`prepare_marker` refuses what cannot be a good marker (wrong format, CMYK, animated, too
small, too elongated, absurdly large) with a stable code and a plain-language reason, and
turns the rest into one normalised sRGB JPEG (long side at most 1,000 px) plus a preview.
Scoring and fingerprints work on the normalised JPEG only, through `analysis_grey`.
See ARV/docs/markers.md.
"""

import hashlib
import io
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

from app.utils.sniff import SNIFF_BYTES, sniff_content_type

MIN_SHORT_SIDE = 480
MAX_ASPECT_RATIO = 4.0
# A 50-megapixel phone photo still passes; JPEGs are decoded at a reduced scale anyway.
MAX_PIXELS = 50_000_000
NORMALISED_LONG_SIDE = 1000
NORMALISED_QUALITY = 90
PREVIEW_LONG_SIDE = 256
PREVIEW_QUALITY = 80
# Scores and fingerprints look at every marker at this size, so figures compare across
# markers whatever their resolution.
ANALYSIS_LONG_SIDE = 640

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# Content types (as `app.utils.sniff` names them) a marker upload may have.
ACCEPTED_TYPES = frozenset(_FORMATS)
_TRANSPOSED_ORIENTATIONS = frozenset({5, 6, 7, 8})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WHITE = (255, 255, 255, 255)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# Pillow's own reasons for refusing a file it cannot decode.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)


class MarkerImageRejected(ValueError):  # noqa: N818 (the name the product issue gives)
    """The upload cannot be a marker; `code` is stable, `message` is for the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class MarkerWarning(NamedTuple):
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class PreparedMarker:
    normalised_jpeg: bytes
    width: int
    height: int
    preview_jpeg: bytes
    original_width: int
    original_height: int
    sha256: str
    warnings: tuple[MarkerWarning, ...]


def prepare_marker(data: bytes) -> PreparedMarker:
    """Validate an upload and derive the normalised marker; raises `MarkerImageRejected`."""
    image = _open(data)
    with image:
        _refuse_animation(image)
        _refuse_cmyk(image)
        original_width, original_height = _displayed_size(image)
        _refuse_proportions(original_width, original_height)
        icc_profile = image.info.get("icc_profile")
        picture = _decode_oriented(image)
    picture, warnings = _flatten_to_rgb(picture)
    picture = _fit_within(picture, NORMALISED_LONG_SIDE)
    picture, colour_warnings = _to_srgb(picture, icc_profile)
    normalised = _jpeg(picture, NORMALISED_QUALITY)
    return PreparedMarker(
        normalised_jpeg=normalised,
        width=picture.width,
        height=picture.height,
        preview_jpeg=_jpeg(_fit_within(picture, PREVIEW_LONG_SIDE), PREVIEW_QUALITY),
        original_width=original_width,
        original_height=original_height,
        sha256=hashlib.sha256(normalised).hexdigest(),
        warnings=(*warnings, *colour_warnings),
    )


def analysis_grey(normalised_jpeg: bytes) -> NDArray[np.uint8]:
    """The normalised marker in grey, resized to `ANALYSIS_LONG_SIDE` on its long side."""
    encoded = np.frombuffer(normalised_jpeg, np.uint8)
    grey = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE) if encoded.size else None
    if grey is None:
        raise ValueError("not a decodable image")
    height, width = grey.shape
    factor = ANALYSIS_LONG_SIDE / max(width, height)
    if factor == 1:
        return np.asarray(grey, np.uint8)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(grey, size, interpolation=interpolation), np.uint8)


# --- checks ------------------------------------------------------------------------------


def _open(data: bytes) -> Image.Image:
    """Open without decoding pixels, after sniffing the format from the content."""
    content_type = sniff_content_type(data[:SNIFF_BYTES])
    image_format = _FORMATS.get(content_type or "")
    if image_format is None:
        named = f"This {content_type.split('/')[1].upper()} file" if content_type else "This file"
        raise MarkerImageRejected(
            "unsupported_format",
            f"{named} is not accepted as a marker: upload a JPEG, PNG or WebP.",
        )
    try:
        image = Image.open(io.BytesIO(data), formats=[image_format])
    except Image.DecompressionBombError as error:
        raise _too_large() from error
    except _DECODE_ERRORS as error:
        raise _unreadable(image_format) from error
    if image.width * image.height > MAX_PIXELS:
        image.close()
        raise _too_large(image.width, image.height)
    return image


def _too_large(width: int | None = None, height: int | None = None) -> MarkerImageRejected:
    size = f"{width} x {height} px" if width and height else "far too many pixels"
    return MarkerImageRejected(
        "too_large",
        f"The image has {size}; a marker may have at most {MAX_PIXELS // 1_000_000} megapixels.",
    )


def _unreadable(image_format: str) -> MarkerImageRejected:
    return MarkerImageRejected(
        "unreadable", f"This {image_format} file is damaged or incomplete and cannot be read."
    )


def _refuse_animation(image: Image.Image) -> None:
    # A camera's MPO (a JPEG with extra frames such as a depth map) is a still photo.
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and image.format != "MPO":
        raise MarkerImageRejected(
            "animated",
            f"Animated images cannot be markers (this one has {frames} frames): "
            "upload a single still picture.",
        )


def _refuse_cmyk(image: Image.Image) -> None:
    if image.mode == "CMYK":
        raise MarkerImageRejected(
            "cmyk",
            "The image uses CMYK colours, which are meant for printing presses: "
            "export it as an RGB (sRGB) JPEG or PNG.",
        )


def _displayed_size(image: Image.Image) -> tuple[int, int]:
    orientation = image.getexif().get(ExifTags.Base.Orientation)
    if orientation in _TRANSPOSED_ORIENTATIONS:
        return image.height, image.width
    return image.width, image.height


def _refuse_proportions(width: int, height: int) -> None:
    short_side, long_side = sorted((width, height))
    if short_side < MIN_SHORT_SIDE:
        raise MarkerImageRejected(
            "too_small",
            f"The image is {width} x {height} px; a marker needs at least {MIN_SHORT_SIDE} px "
            "on its short side.",
        )
    ratio = long_side / short_side
    if ratio > MAX_ASPECT_RATIO:
        raise MarkerImageRejected(
            "aspect_ratio",
            f"The image is {width} x {height} px, {ratio:.1f}:1; a marker may be at most "
            f"{MAX_ASPECT_RATIO:g}:1.",
        )


# --- conversion --------------------------------------------------------------------------


def _decode_oriented(image: Image.Image) -> Image.Image:
    """Decode (a JPEG straight at the smallest DCT scale still big enough) and apply the
    EXIF orientation."""
    factor = min(1.0, NORMALISED_LONG_SIDE / max(image.size))
    image.draft(image.mode, (round(image.width * factor), round(image.height * factor)))
    try:
        image.load()
    except _DECODE_ERRORS as error:
        raise _unreadable(image.format or "image") from error
    return ImageOps.exif_transpose(image)


def _flatten_to_rgb(image: Image.Image) -> tuple[Image.Image, tuple[MarkerWarning, ...]]:
    if image.mode.startswith("I"):
        # 16-bit grey: Pillow's own conversion clips to 255 instead of scaling.
        wide = np.asarray(image, np.uint32)
        image = Image.fromarray((wide >> 8).astype(np.uint8), "L")
    if image.mode not in _ALPHA_MODES and "transparency" not in image.info:
        return image.convert("RGB"), ()
    rgba = image.convert("RGBA")
    if np.asarray(rgba.getchannel("A")).min() == 255:
        return rgba.convert("RGB"), ()
    flattened = Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba)
    warning = MarkerWarning(
        "transparency_flattened",
        "The image has transparent parts; they were filled with white, as they would print "
        "on white paper.",
    )
    return flattened.convert("RGB"), (warning,)


def _fit_within(image: Image.Image, long_side: int) -> Image.Image:
    """Shrink to `long_side` on the long side; never enlarge."""
    factor = long_side / max(image.size)
    if factor >= 1:
        return image
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _to_srgb(
    image: Image.Image, icc_profile: bytes | None
) -> tuple[Image.Image, tuple[MarkerWarning, ...]]:
    """Convert from the embedded RGB colour profile to sRGB; without one, sRGB is assumed.
    A grey image's grey profile only shifts its tone curve, which tracking ignores."""
    if not icc_profile:
        return image, ()
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        description = ImageCms.getProfileDescription(profile)
        if profile.profile.xcolor_space.strip() != "RGB" or "srgb" in description.lower():
            return image, ()
        converted = ImageCms.buildTransform(profile, _SRGB, "RGB", "RGB").apply(image)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        warning = MarkerWarning(
            "colour_profile_ignored",
            "The image's colour profile could not be read; its colours were taken as sRGB.",
        )
        return image, (warning,)
    return converted, ()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
