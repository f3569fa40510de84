"""Trackability scores, hints and heat-maps on images drawn by tests.support.marker_images,
and the table of measured scores in ARV/docs/markers.md kept true."""

import functools
import io
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from app.utils.marker_image import analysis_grey, prepare_marker
from app.utils.marker_score import (
    STAR_THRESHOLDS,
    WEIGHTS,
    TrackabilityReport,
    feature_heatmap,
    score_marker,
    stars_for,
)
from tests.support import marker_images as images

MARKERS_DOC = Path(__file__).resolve().parents[2] / "docs" / "markers.md"

# The rows of the measured table in markers.md, by the call written in its first column.
DOCUMENTED_IMAGES: dict[str, Callable[[], bytes]] = {
    "detailed_jpeg(1)": lambda: images.detailed_jpeg(1),
    "detailed_jpeg(2)": lambda: images.detailed_jpeg(2),
    "detailed_jpeg(3)": lambda: images.detailed_jpeg(3),
    "webp(1)": lambda: images.webp(1),
    "exif_rotated_jpeg(1)": lambda: images.exif_rotated_jpeg(1),
    "detailed_jpeg(1, size=(640, 480))": lambda: images.detailed_jpeg(1, size=(640, 480)),
    "blurred_jpeg(radius=2)": lambda: images.blurred_jpeg(radius=2),
    "transparent_png()": images.transparent_png,
    "blank_edges_jpeg()": images.blank_edges_jpeg,
    "corner_detail_jpeg('top-left')": lambda: images.corner_detail_jpeg("top-left"),
    "corner_detail_jpeg('bottom-right')": lambda: images.corner_detail_jpeg("bottom-right"),
    "blurred_jpeg(radius=3)": lambda: images.blurred_jpeg(radius=3),
    "repeated_tile_jpeg()": images.repeated_tile_jpeg,
    "low_contrast_jpeg()": images.low_contrast_jpeg,
    "flat_colour_jpeg()": images.flat_colour_jpeg,
}


@functools.cache
def normalised(call: str) -> bytes:
    return prepare_marker(DOCUMENTED_IMAGES[call]()).normalised_jpeg


@functools.cache
def report(call: str) -> TrackabilityReport:
    return score_marker(normalised(call))


def codes(marker: TrackabilityReport) -> list[str]:
    return [hint.code for hint in marker.hints]


def message(marker: TrackabilityReport, code: str) -> str:
    return next(hint.message for hint in marker.hints if hint.code == code)


def test_a_flat_colour_scores_under_10_with_too_little_detail() -> None:
    flat = report("flat_colour_jpeg()")

    assert flat.score < 10
    assert flat.stars == 0
    assert flat.keypoints == 0
    assert "too_little_detail" in codes(flat)
    assert "too little detail" in message(flat, "too_little_detail").lower()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_detailed_picture_scores_at_least_75_without_hints(seed: int) -> None:
    detailed = report(f"detailed_jpeg({seed})")

    assert detailed.score >= 75
    assert detailed.stars >= 4
    assert detailed.hints == ()
    assert min(detailed.sub_scores.values()) >= 75


def test_a_repeated_tile_scores_under_50_as_a_repetitive_pattern() -> None:
    tile = report("repeated_tile_jpeg()")

    assert tile.score < 50
    assert tile.sub_scores["ambiguity"] < 25
    # Everything else about the tile is good: the repetition alone brings it down.
    assert tile.sub_scores["features"] >= 75
    assert codes(tile) == ["repetitive_pattern"]
    assert "repetitive pattern" in message(tile, "repetitive_pattern").lower()


def test_a_picture_repeated_with_its_upside_down_copy_is_ambiguous() -> None:
    picture = images.detailed_picture(1, (500, 500))
    doubled = Image.new("RGB", (1000, 500))
    doubled.paste(picture, (0, 0))
    doubled.paste(picture.rotate(180), (500, 0))

    symmetric = score_marker(prepare_marker(images.encode(doubled)).normalised_jpeg)

    assert symmetric.sub_scores["ambiguity"] < 50
    assert "repetitive_pattern" in codes(symmetric)


def test_low_contrast_is_named() -> None:
    faded = report("low_contrast_jpeg()")

    assert "low_contrast" in codes(faded)
    assert "low contrast" in message(faded, "low_contrast").lower()
    assert faded.sub_scores["contrast"] < 40
    assert "blurry" not in codes(faded)


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_features_in_one_corner_name_that_corner(corner: str) -> None:
    clustered = score_marker(prepare_marker(images.corner_detail_jpeg(corner)).normalised_jpeg)

    assert codes(clustered) == ["features_clustered"]
    assert (
        f"features only in the {corner} corner" in message(clustered, "features_clustered").lower()
    )
    assert clustered.coverage <= 30
    assert clustered.score < 60


def test_features_in_one_half_name_that_half() -> None:
    # The transparent left half is flattened to white.
    half = report("transparent_png()")

    assert "features only in the right half" in message(half, "features_clustered").lower()


def test_a_plain_margin_gives_too_little_detail_near_the_edges() -> None:
    framed = report("blank_edges_jpeg()")

    assert codes(framed) == ["blank_edges"]
    assert "too little detail near the edges" in message(framed, "blank_edges").lower()
    assert framed.edge_coverage == 0
    assert framed.coverage >= 50
    assert framed.score < report("detailed_jpeg(1)").score - 25


def test_blur_is_named_and_lowers_sharpness() -> None:
    blurred = report("blurred_jpeg(radius=3)")

    assert "blurry" in codes(blurred)
    assert (
        blurred.sub_scores["sharpness"] < 40 <= report("detailed_jpeg(1)").sub_scores["sharpness"]
    )


def test_no_tracking_points_caps_the_score_below_trackable() -> None:
    marker = normalised("detailed_jpeg(1)")

    untrackable = score_marker(marker, tracking_points=0)
    tracked = score_marker(marker, tracking_points=250)

    assert untrackable.score <= 30 < 60 <= tracked.score
    assert untrackable.stars <= 1
    assert codes(untrackable) == ["no_tracking_points"]
    assert untrackable.sub_scores == tracked.sub_scores == report("detailed_jpeg(1)").sub_scores
    assert tracked.score == report("detailed_jpeg(1)").score
    assert (untrackable.tracking_points, tracked.tracking_points) == (0, 250)


@pytest.mark.parametrize(
    ("score", "stars"),
    [
        *((score, 0) for score in (0, 19)),
        *((score, 1) for score in (20, 39)),
        *((score, 2) for score in (40, 59)),
        *((score, 3) for score in (60, 74)),
        *((score, 4) for score in (75, 89)),
        *((score, 5) for score in (90, 100)),
    ],
)
def test_stars(score: int, stars: int) -> None:
    assert stars_for(score) == stars


def test_weights_add_up_to_one_and_stars_start_where_arcore_recommends() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert STAR_THRESHOLDS[3] == 75


def test_the_same_bytes_give_the_same_report() -> None:
    marker = normalised("detailed_jpeg(2)")

    assert score_marker(marker) == score_marker(marker)


def test_the_report_round_trips_through_json() -> None:
    original = score_marker(normalised("corner_detail_jpeg('top-left')"), tracking_points=0)

    stored = json.loads(json.dumps(original.to_json()))

    assert stored["version"] == 1
    assert set(stored["sub_scores"]) == set(WEIGHTS)
    assert TrackabilityReport.from_json(stored) == original


def test_scoring_a_1000_px_marker_takes_well_under_a_second() -> None:
    marker = normalised("detailed_jpeg(3)")
    score_marker(marker)

    started = time.perf_counter()
    score_marker(marker)

    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("data", [b"", b"not a jpeg"])
def test_scoring_refuses_what_is_not_an_image(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a decodable image"):
        score_marker(data)


# --- heat-map ----------------------------------------------------------------------------


def heat(png: bytes, marker: bytes) -> np.ndarray:
    """The heat level (0-255) of every 4th pixel each way, read back from the colours: the
    heat-map is half the grey marker, half the Turbo colour map."""
    blended = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).astype(np.float32)
    grey = analysis_grey(marker)
    base = cv2.resize(grey, (blended.shape[1], blended.shape[0]), interpolation=cv2.INTER_AREA)
    colours = 2 * blended - base[:, :, None].astype(np.float32)
    turbo = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_TURBO)
    sampled = colours[::4, ::4, None, :]
    distances = np.abs(sampled - turbo[:, 0, :].astype(np.float32)).sum(axis=-1)
    return distances.argmin(axis=-1)


def in_grey(upload: bytes) -> bytes:
    with Image.open(io.BytesIO(upload)) as image:
        return images.encode(image.convert("L").convert("RGB"))


def test_the_heatmap_is_a_png_of_the_marker_shape_at_most_512_px() -> None:
    landscape = feature_heatmap(normalised("detailed_jpeg(1)"))
    portrait = feature_heatmap(normalised("exif_rotated_jpeg(1)"))

    assert landscape.startswith(b"\x89PNG")
    assert cv2.imdecode(np.frombuffer(landscape, np.uint8), cv2.IMREAD_COLOR).shape == (384, 512, 3)
    assert cv2.imdecode(np.frombuffer(portrait, np.uint8), cv2.IMREAD_COLOR).shape == (512, 384, 3)


def test_the_heatmap_is_hot_where_the_detail_is() -> None:
    corner = prepare_marker(in_grey(images.corner_detail_jpeg("top-left"))).normalised_jpeg

    levels = heat(feature_heatmap(corner), corner)

    detailed_quarter, plain_quarter = levels[:36, :48], levels[-36:, -48:]
    assert np.median(detailed_quarter) > 60
    assert plain_quarter.max() < 10


def test_a_plain_heatmap_stays_cold() -> None:
    plain = prepare_marker(in_grey(images.flat_colour_jpeg())).normalised_jpeg

    assert heat(feature_heatmap(plain), plain).max() < 10


# --- the measured table in markers.md ----------------------------------------------------


def documented_rows() -> dict[str, list[str]]:
    """Cells of each row under 'How the test images score', by the call in its first cell."""
    section = MARKERS_DOC.read_text().split("### How the test images score", 1)[1]
    table = section.split("\n#", 1)[0]
    rows = {}
    for line in table.splitlines():
        call = re.match(r"\| `([^`]+)` \|", line)
        if call:
            rows[call.group(1)] = [cell.strip() for cell in line.strip("|").split("|")[1:]]
    return rows


def test_markers_doc_lists_every_measured_image() -> None:
    assert set(documented_rows()) == set(DOCUMENTED_IMAGES)


@pytest.mark.parametrize("call", list(DOCUMENTED_IMAGES))
def test_markers_doc_figures_are_measured(call: str) -> None:
    measured = report(call)
    cells = documented_rows()[call]

    expected = [
        str(measured.score),
        str(measured.stars),
        *(str(measured.sub_scores[name]) for name in WEIGHTS),
        ", ".join(f"`{code}`" for code in codes(measured)) or "none",
    ]
    assert cells == expected
