"""Marker fingerprints and near-duplicate matching on images drawn by
tests.support.marker_images."""

import functools
import struct
import time

import pytest

from app.utils.marker_image import prepare_marker
from app.utils.marker_match import MIN_INLIERS, fingerprint, match
from tests.support import marker_images as images


def fingerprint_of(upload: bytes) -> bytes:
    return fingerprint(prepare_marker(upload).normalised_jpeg)


@functools.cache
def detailed(seed: int) -> bytes:
    return fingerprint_of(images.detailed_jpeg(seed))


def test_a_fingerprint_is_small_plain_bytes() -> None:
    packed = detailed(1)

    assert packed.startswith(b"ARVF\x01")
    count = struct.unpack_from("<H", packed, 6)[0]
    assert count == 500
    assert len(packed) == 8 + count * (8 + 32) <= 32 * 1024


def test_the_same_marker_gives_the_same_fingerprint() -> None:
    marker = prepare_marker(images.detailed_jpeg(1)).normalised_jpeg

    assert fingerprint(marker) == fingerprint(marker) == detailed(1)


@pytest.mark.parametrize(
    "copy",
    [
        lambda upload: upload,
        lambda upload: images.reencoded_jpeg(upload, quality=60),
        lambda upload: images.rotated_scaled_jpeg(upload, degrees=15, scale=0.8),
        lambda upload: images.rotated_scaled_jpeg(upload, degrees=25, scale=0.7),
        lambda upload: images.rotated_scaled_jpeg(upload, degrees=-30, scale=0.6),
    ],
    ids=["same", "re-encoded", "15deg-0.8x", "25deg-0.7x", "-30deg-0.6x"],
)
def test_a_copy_of_a_marker_is_a_duplicate(copy: object) -> None:
    assert callable(copy)
    duplicate = fingerprint_of(copy(images.detailed_jpeg(1)))

    result = match(detailed(1), duplicate)

    assert result.is_duplicate
    assert result.inliers >= 4 * MIN_INLIERS
    assert 0.25 <= result.ratio <= 1.0


@pytest.mark.parametrize(("first", "second"), [(1, 2), (1, 3), (2, 3), (3, 4)])
def test_unrelated_pictures_are_not_duplicates(first: int, second: int) -> None:
    result = match(detailed(first), detailed(second))

    assert not result.is_duplicate
    assert result.inliers < MIN_INLIERS


def test_a_repeated_tile_is_not_a_duplicate_of_a_detailed_picture() -> None:
    tile = fingerprint_of(images.repeated_tile_jpeg())

    assert not match(tile, detailed(1)).is_duplicate
    assert not match(detailed(1), tile).is_duplicate


def test_a_plain_image_has_an_empty_fingerprint_that_matches_nothing() -> None:
    flat = fingerprint_of(images.flat_colour_jpeg())

    assert flat == b"ARVF\x01\x00\x00\x00"
    assert match(flat, detailed(1)).inliers == 0
    assert not match(flat, flat).is_duplicate


def test_the_verdict_does_not_depend_on_the_order() -> None:
    copy = fingerprint_of(images.rotated_scaled_jpeg(images.detailed_jpeg(2), 20, 0.7))

    assert match(detailed(2), copy).is_duplicate
    assert match(copy, detailed(2)).is_duplicate
    assert not match(detailed(3), detailed(2)).is_duplicate


def test_matching_a_pair_takes_milliseconds() -> None:
    first, second = detailed(1), fingerprint_of(images.reencoded_jpeg(images.detailed_jpeg(1)))
    match(first, second)

    started = time.perf_counter()
    for _ in range(10):
        match(first, second)

    assert (time.perf_counter() - started) / 10 < 0.05


@pytest.mark.parametrize(
    "damaged",
    [
        b"",
        b"ARVF",
        b"PNG!\x01\x00\x00\x00",
        b"ARVF\x02\x00\x00\x00",
        b"ARVF\x01\x00\x01\x00" + bytes(39),
    ],
    ids=["empty", "short-header", "wrong-magic", "wrong-version", "short-body"],
)
def test_bytes_that_are_not_a_fingerprint_are_refused(damaged: bytes) -> None:
    with pytest.raises(ValueError, match="not a marker fingerprint"):
        match(damaged, detailed(1))
