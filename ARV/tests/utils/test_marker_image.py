"""Marker validation and normalisation on images drawn by tests.support.marker_images."""

import hashlib
import io
import time
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageCms

from app.utils.marker_image import (
    ACCEPTED_TYPES,
    ANALYSIS_LONG_SIDE,
    MarkerImageRejected,
    analysis_grey,
    prepare_marker,
)
from app.utils.sniff import IMAGE_TYPES
from tests.support import marker_images as images


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(decoded(data).convert("RGB"), np.float32)


def difference(data: bytes, expected: Image.Image) -> float:
    """Mean absolute difference per channel (0-255); noise under JPEG twice gives about 7."""
    return float(np.abs(pixels(data) - np.asarray(expected, np.float32)).mean())


@pytest.mark.parametrize(
    "make", [images.detailed_jpeg, images.webp, images.opaque_rgba_png], ids=["jpeg", "webp", "png"]
)
def test_accepted_formats_give_an_srgb_jpeg_and_a_preview(make: Callable[[], bytes]) -> None:
    prepared = prepare_marker(make())

    normalised = decoded(prepared.normalised_jpeg)
    assert (normalised.format, normalised.mode) == ("JPEG", "RGB")
    assert normalised.size == (prepared.width, prepared.height) == (1000, 750)
    assert (prepared.original_width, prepared.original_height) == (1000, 750)
    assert "icc_profile" not in normalised.info
    assert decoded(prepared.preview_jpeg).size == (256, 192)
    assert prepared.sha256 == hashlib.sha256(prepared.normalised_jpeg).hexdigest()
    assert prepared.warnings == ()


def test_accepted_types_are_sniffed_image_types_without_gif() -> None:
    assert sorted(ACCEPTED_TYPES) == ["image/jpeg", "image/png", "image/webp"]
    assert ACCEPTED_TYPES < IMAGE_TYPES


def test_the_picture_survives_normalisation() -> None:
    normalised = prepare_marker(images.detailed_jpeg(1)).normalised_jpeg

    assert difference(normalised, images.detailed_picture(1)) < 10
    assert difference(normalised, images.detailed_picture(2)) > 40


def test_a_large_photo_is_shrunk_to_1000_px_and_a_small_one_is_not_enlarged() -> None:
    large = prepare_marker(images.detailed_jpeg(size=(3000, 2000)))
    small = prepare_marker(images.detailed_jpeg(size=(640, 480)))

    assert (large.width, large.height) == (1000, 667)
    assert (large.original_width, large.original_height) == (3000, 2000)
    assert (small.width, small.height) == (640, 480)


def test_the_same_upload_always_gives_the_same_bytes() -> None:
    upload = images.detailed_jpeg(2)

    assert prepare_marker(upload) == prepare_marker(upload)


def test_a_24_megapixel_photo_is_prepared_quickly() -> None:
    upload = images.encode(images.detailed_picture(1, (6000, 4000)))

    started = time.perf_counter()
    prepared = prepare_marker(upload)

    assert time.perf_counter() - started < 2.0
    assert (prepared.width, prepared.height) == (1000, 667)


def test_exif_orientation_is_applied() -> None:
    stored = images.detailed_picture(1)

    prepared = prepare_marker(images.exif_rotated_jpeg(1, orientation=6))

    assert (prepared.width, prepared.height) == (750, 1000)
    assert (prepared.original_width, prepared.original_height) == (750, 1000)
    clockwise = stored.transpose(Image.Transpose.ROTATE_270)
    anticlockwise = stored.transpose(Image.Transpose.ROTATE_90)
    assert difference(prepared.normalised_jpeg, clockwise) < 10
    assert difference(prepared.normalised_jpeg, anticlockwise) > 40


def test_a_camera_multi_picture_jpeg_is_a_still_photo() -> None:
    prepared = prepare_marker(images.mpo_jpeg())

    assert (prepared.width, prepared.height) == (1000, 750)


def test_transparency_is_flattened_onto_white_with_a_warning() -> None:
    prepared = prepare_marker(images.transparent_png())

    assert [warning.code for warning in prepared.warnings] == ["transparency_flattened"]
    normalised = pixels(prepared.normalised_jpeg)
    assert normalised[:, :490].min() >= 250
    assert normalised[:, 510:].mean() < 200


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    ramp = pixels(prepare_marker(images.grey_16_bit_png()).normalised_jpeg)[0, :, 0]

    assert ramp[0] < 3
    assert 120 < ramp[320] < 136
    assert ramp[-1] > 252


def test_a_colour_profile_is_converted_to_srgb() -> None:
    upload = images.solid_jpeg_with_profile((255, 0, 0), images.swapped_primaries_profile())

    prepared = prepare_marker(upload)

    assert pixels(prepared.normalised_jpeg)[100, 100].tolist() == pytest.approx([0, 255, 0], abs=10)
    assert prepared.warnings == ()


def test_an_srgb_profile_keeps_the_colours() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()

    prepared = prepare_marker(images.solid_jpeg_with_profile((255, 0, 0), srgb))

    assert pixels(prepared.normalised_jpeg)[100, 100].tolist() == pytest.approx([255, 0, 0], abs=10)
    assert prepared.warnings == ()


def test_a_grey_image_with_a_profile_not_for_rgb_stays_as_it_is_without_a_warning() -> None:
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
    upload = images.encode(Image.new("L", (640, 480), 90), icc_profile=lab.tobytes())

    prepared = prepare_marker(upload)

    assert prepared.warnings == ()
    assert pixels(prepared.normalised_jpeg)[100, 100].tolist() == pytest.approx([90] * 3, abs=2)


def test_an_unreadable_colour_profile_is_taken_as_srgb_with_a_warning() -> None:
    prepared = prepare_marker(images.solid_jpeg_with_profile((255, 0, 0), b"not a profile" * 20))

    assert [warning.code for warning in prepared.warnings] == ["colour_profile_ignored"]
    assert pixels(prepared.normalised_jpeg)[100, 100][0] > 245


def gif() -> bytes:
    return images.encode(images.detailed_picture(1, (640, 480)), "GIF")


def truncated_jpeg() -> bytes:
    return images.detailed_jpeg()[:20_000]


@pytest.mark.parametrize(
    ("make", "code", "phrases"),
    [
        (gif, "unsupported_format", ["GIF", "JPEG, PNG or WebP"]),
        (lambda: b"%PDF-1.7\n" + bytes(100), "unsupported_format", ["JPEG, PNG or WebP"]),
        (lambda: b"", "unsupported_format", ["JPEG, PNG or WebP"]),
        (truncated_jpeg, "unreadable", ["damaged"]),
        (lambda: b"\x89PNG\r\n\x1a\n" + bytes(40), "unreadable", ["PNG"]),
        (images.cmyk_jpeg, "cmyk", ["CMYK", "sRGB"]),
        (images.animated_png, "animated", ["3 frames"]),
        (images.animated_webp, "animated", ["3 frames"]),
        (images.small_jpeg, "too_small", ["400 x 300 px", "480 px"]),
        (
            lambda: images.exif_rotated_jpeg(size=(900, 470), orientation=6),
            "too_small",
            ["470 x 900 px"],
        ),
        (images.wide_jpeg, "aspect_ratio", ["2500 x 500 px", "5.0:1", "4:1"]),
        (lambda: images.oversized_png_header(8000, 8000), "too_large", ["8000 x 8000", "50"]),
        (lambda: images.oversized_png_header(20000, 20000), "too_large", ["50 megapixels"]),
    ],
    ids=[
        "gif",
        "pdf",
        "empty",
        "truncated-jpeg",
        "broken-png",
        "cmyk",
        "apng",
        "animated-webp",
        "small",
        "small-once-rotated",
        "too-wide",
        "over-50-megapixels",
        "decompression-bomb",
    ],
)
def test_refusals_carry_a_code_and_a_reason_with_the_figures(
    make: Callable[[], bytes], code: str, phrases: list[str]
) -> None:
    with pytest.raises(MarkerImageRejected) as refused:
        prepare_marker(make())

    assert refused.value.code == code
    assert isinstance(refused.value, ValueError)
    for phrase in phrases:
        assert phrase in refused.value.message


def test_analysis_grey_is_640_px_on_the_long_side() -> None:
    shrunk = analysis_grey(prepare_marker(images.detailed_jpeg()).normalised_jpeg)
    enlarged = analysis_grey(prepare_marker(images.detailed_jpeg(size=(480, 600))).normalised_jpeg)

    assert shrunk.shape == (480, ANALYSIS_LONG_SIDE)
    assert enlarged.shape == (ANALYSIS_LONG_SIDE, 512)
    assert shrunk.dtype == np.uint8


@pytest.mark.parametrize("data", [b"", b"not a picture"])
def test_analysis_grey_refuses_what_is_not_an_image(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a decodable image"):
        analysis_grey(data)
