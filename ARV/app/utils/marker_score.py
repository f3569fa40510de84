"""How well a marker will track: five sub-scores, an overall score with stars, hints a
person can act on, and a heat-map of where the detail is.

Everything is measured on `analysis_grey` (the normalised marker at 640 px on its long
side), so the same bytes always give the same report. The method, formulas, thresholds
and weights are in ARV/docs/markers.md; change both together and bump `SCORING_VERSION`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from app.utils.marker_image import analysis_grey
from app.utils.marker_match import orb_features

SCORING_VERSION = 1

WEIGHTS: Mapping[str, float] = {
    "features": 0.25,
    "distribution": 0.30,
    "ambiguity": 0.20,
    "contrast": 0.15,
    "sharpness": 0.10,
}
# Lower bounds of 1 to 5 stars; ARCore recommends 75 and Vuforia asks for 4 stars.
STAR_THRESHOLDS = (20, 40, 60, 75, 90)
UNTRACKABLE_CAP = 30

FAST_THRESHOLD = 20
FEATURES_ZERO_AT, FEATURES_FULL_AT = 30, 800
GRID = 8
CORNERS_PER_COVERED_CELL = 3
SPREAD_ZERO_AT, SPREAD_FULL_AT = 0.10, 0.50
ENTROPY_FULL_AT = 6.0
PATCH = 16
FLAT_PATCH_STD = 4.0
TEXTURED_PATCH_STD = 8.0
SHARPNESS_ZERO_AT, SHARPNESS_FULL_AT = 20.0, 500.0
AMBIGUITY_FEATURES = 1000
TWIN_MAX_DISTANCE = 40  # bits of 256: two ORB descriptors this close are the same feature
TWIN_MIN_SEPARATION = 16.0  # px: closer keypoints are one feature seen at two scales
TWIN_NEIGHBOURS = 8
AMBIGUOUS_SHARE_OK, AMBIGUOUS_SHARE_WORST = 0.05, 0.50
MIN_DESCRIPTORS = 10

HINT_FEATURES_BELOW = 40
HINT_SPREAD_BELOW = 0.25
HINT_AMBIGUITY_BELOW = 50
HINT_SHARPNESS_BELOW = 40
HINT_EDGE_COVERAGE_BELOW = 0.5
HINT_COVERAGE_BELOW = 0.6
CLUSTER_SHARE = 0.9  # of the corners in one half of the image
MIN_CORNERS_FOR_LAYOUT = 30
MIN_TEXTURED_SHARE_FOR_BLUR = 0.05

HEATMAP_LONG_SIDE = 512
HEAT_SIGMA_FRACTION = 1 / 24  # of the long side
HEAT_FULL_CORNERS = 3 * FEATURES_FULL_AT  # spread evenly, the hottest colour everywhere

FloatArray = NDArray[np.float64]
Points = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Hint:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class TrackabilityReport:
    """`coverage` and `edge_coverage` are the percentages of the 8x8 grid's cells (all 64,
    and the 28 along the border) that hold detail. `tracking_points` is what the caller
    passed (None: unknown)."""

    score: int
    stars: int
    sub_scores: dict[str, int]
    keypoints: int
    coverage: int
    edge_coverage: int
    hints: tuple[Hint, ...]
    tracking_points: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SCORING_VERSION,
            "score": self.score,
            "stars": self.stars,
            "sub_scores": dict(self.sub_scores),
            "keypoints": self.keypoints,
            "coverage": self.coverage,
            "edge_coverage": self.edge_coverage,
            "hints": [{"code": hint.code, "message": hint.message} for hint in self.hints],
            "tracking_points": self.tracking_points,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TrackabilityReport":
        return cls(
            score=int(data["score"]),
            stars=int(data["stars"]),
            sub_scores={str(name): int(value) for name, value in data["sub_scores"].items()},
            keypoints=int(data["keypoints"]),
            coverage=int(data["coverage"]),
            edge_coverage=int(data["edge_coverage"]),
            hints=tuple(Hint(str(hint["code"]), str(hint["message"])) for hint in data["hints"]),
            tracking_points=data["tracking_points"],
        )


@dataclass(frozen=True, slots=True)
class _Layout:
    coverage: float
    edge_coverage: float
    region: str | None  # where nearly all the corners are, e.g. "top-left corner"


@dataclass(frozen=True, slots=True)
class _Tones:
    spread: float  # share of the 0-255 range between the 1st and 99th percentiles
    entropy: float  # bits
    flat_share: float  # of 16x16 patches


@dataclass(frozen=True, slots=True)
class _Sharpness:
    laplacian: float  # median Laplacian variance over textured patches (contrast stretched)
    textured_share: float


def score_marker(
    normalised_jpeg: bytes, *, tracking_points: int | None = None
) -> TrackabilityReport:
    """Score the normalised marker; `tracking_points` is the compiled MindAR target's count
    of tracking points when known (0 caps the score below trackable)."""
    grey = analysis_grey(normalised_jpeg)
    corners = detect_corners(grey)
    layout = _layout(corners, grey.shape)
    tones = _tones(grey)
    sharpness = _sharpness(grey, tones)
    ambiguous_share = _ambiguous_share(grey)
    sub_scores = {
        "features": _percent(_log_scale(len(corners), FEATURES_ZERO_AT, FEATURES_FULL_AT)),
        "distribution": _percent((layout.coverage + layout.edge_coverage) / 2),
        "ambiguity": _percent(_ambiguity(ambiguous_share)),
        "contrast": _percent(_contrast(tones)),
        "sharpness": _percent(
            _log_scale(sharpness.laplacian, SHARPNESS_ZERO_AT, SHARPNESS_FULL_AT)
        ),
    }
    score = _overall(sub_scores, tracking_points)
    hints = _hints(sub_scores, len(corners), layout, tones, sharpness, ambiguous_share)
    if tracking_points == 0:
        hints.append(_NO_TRACKING_POINTS)
    return TrackabilityReport(
        score=score,
        stars=stars_for(score),
        sub_scores=sub_scores,
        keypoints=len(corners),
        coverage=_percent(layout.coverage),
        edge_coverage=_percent(layout.edge_coverage),
        hints=tuple(hints),
        tracking_points=tracking_points,
    )


def stars_for(score: int) -> int:
    return sum(score >= threshold for threshold in STAR_THRESHOLDS)


def feature_heatmap(normalised_jpeg: bytes) -> bytes:
    """A PNG of the marker in dimmed grey under a colour-mapped density of its corners
    (blue: none, red: plenty), long side at most 512 px."""
    grey = analysis_grey(normalised_jpeg)
    heat = _normalised_density(detect_corners(grey), grey.shape)
    colours = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    base = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    blended = cv2.addWeighted(base, 0.5, colours, 0.5, 0.0)
    factor = min(1.0, HEATMAP_LONG_SIDE / max(grey.shape))
    if factor < 1:
        size = (round(grey.shape[1] * factor), round(grey.shape[0] * factor))
        blended = cv2.resize(blended, size, interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", blended)
    if not ok:
        raise ValueError("the heat-map could not be encoded")
    return png.tobytes()


def _normalised_density(corners: Points, shape: tuple[int, ...]) -> FloatArray:
    """Corners per pixel, smoothed, as a share of what `HEAT_FULL_CORNERS` corners spread
    evenly would give: the scale is the same for every image, so a plain one stays cold."""
    height, width = shape[:2]
    counts = np.zeros((height, width), np.float64)
    columns = np.clip(np.rint(corners[:, 0]).astype(np.int64), 0, width - 1)
    rows = np.clip(np.rint(corners[:, 1]).astype(np.int64), 0, height - 1)
    np.add.at(counts, (rows, columns), 1.0)
    sigma = max(height, width) * HEAT_SIGMA_FRACTION
    density = cv2.GaussianBlur(counts, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)
    full = HEAT_FULL_CORNERS / (height * width)
    return np.clip(np.asarray(density, np.float64) / full, 0.0, 1.0)


def detect_corners(grey: NDArray[np.uint8]) -> Points:
    """FAST corners (x, y): single scale, no border left out, no cap, unlike ORB, so their
    count and layout are what the image has."""
    detector = cv2.FastFeatureDetector.create(threshold=FAST_THRESHOLD, nonmaxSuppression=True)
    keypoints = detector.detect(grey)
    return np.array([keypoint.pt for keypoint in keypoints], np.float32).reshape(-1, 2)


# --- measures ----------------------------------------------------------------------------


def _cell_counts(corners: Points, shape: tuple[int, ...]) -> NDArray[np.int64]:
    height, width = shape[:2]
    columns = np.minimum((corners[:, 0] * GRID / width).astype(np.int64), GRID - 1)
    rows = np.minimum((corners[:, 1] * GRID / height).astype(np.int64), GRID - 1)
    counts = np.zeros((GRID, GRID), np.int64)
    np.add.at(counts, (rows, columns), 1)
    return counts


def _layout(corners: Points, shape: tuple[int, ...]) -> _Layout:
    covered = _cell_counts(corners, shape) >= CORNERS_PER_COVERED_CELL
    border = np.ones_like(covered)
    border[1:-1, 1:-1] = False
    return _Layout(
        coverage=float(covered.mean()),
        edge_coverage=float(covered[border].mean()),
        region=_crowded_region(corners, shape),
    )


def _crowded_region(corners: Points, shape: tuple[int, ...]) -> str | None:
    if len(corners) < MIN_CORNERS_FOR_LAYOUT:
        return None
    height, width = shape[:2]
    vertical = _crowded_half(corners[:, 1] < height / 2, "top", "bottom")
    horizontal = _crowded_half(corners[:, 0] < width / 2, "left", "right")
    if vertical and horizontal:
        return f"{vertical}-{horizontal} corner"
    side = vertical or horizontal
    return f"{side} half" if side else None


def _crowded_half(in_first: NDArray[np.bool_], first: str, second: str) -> str | None:
    share = float(in_first.mean())
    if share >= CLUSTER_SHARE:
        return first
    if share <= 1 - CLUSTER_SHARE:
        return second
    return None


def _tones(grey: NDArray[np.uint8]) -> _Tones:
    low, high = np.percentile(grey, (1, 99))
    histogram = np.bincount(grey.ravel(), minlength=256) / grey.size
    present = histogram[histogram > 0]
    entropy = float(-(present * np.log2(present)).sum())
    return _Tones(
        spread=float(high - low) / 255,
        entropy=max(0.0, entropy),
        flat_share=float(
            (_patches(grey.astype(np.float32)).std(axis=(1, 3)) < FLAT_PATCH_STD).mean()
        ),
    )


def _patches(image: NDArray[np.float32]) -> NDArray[np.float32]:
    """The image cut into 16x16 patches: axes (patch row, y, patch column, x)."""
    rows, columns = image.shape[0] // PATCH, image.shape[1] // PATCH
    return image[: rows * PATCH, : columns * PATCH].reshape(rows, PATCH, columns, PATCH)


def _sharpness(grey: NDArray[np.uint8], tones: _Tones) -> _Sharpness:
    """Laplacian variance where there is something to be sharp, after stretching the tones,
    so a plain or low-contrast image is not taken for a blurry one."""
    if tones.spread == 0:
        return _Sharpness(laplacian=0.0, textured_share=0.0)
    low = float(np.percentile(grey, 1))
    stretched = np.clip((grey.astype(np.float32) - low) / tones.spread, 0, 255).astype(np.float32)
    laplacian = cv2.Laplacian(stretched, cv2.CV_32F)
    textured = _patches(stretched).std(axis=(1, 3)) >= TEXTURED_PATCH_STD
    if not textured.any():
        return _Sharpness(laplacian=0.0, textured_share=0.0)
    variances = _patches(np.asarray(laplacian, np.float32)).var(axis=(1, 3))
    return _Sharpness(
        laplacian=float(np.median(variances[textured])), textured_share=float(textured.mean())
    )


def _ambiguous_share(grey: NDArray[np.uint8]) -> float | None:
    """The share of ORB features with a near-identical twin elsewhere in the image:
    repetition, and symmetry under rotation (ORB is rotation invariant). None when there
    are too few features to tell apart."""
    positions, descriptors = orb_features(grey, AMBIGUITY_FEATURES)
    if len(positions) < MIN_DESCRIPTORS:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    neighbours = matcher.knnMatch(descriptors, descriptors, k=TWIN_NEIGHBOURS)
    twins = 0
    for query, candidates in enumerate(neighbours):
        nearest = next(
            (
                candidate.distance
                for candidate in candidates
                if np.hypot(*(positions[candidate.trainIdx] - positions[query]))
                > TWIN_MIN_SEPARATION
            ),
            None,
        )
        twins += nearest is not None and nearest <= TWIN_MAX_DISTANCE
    return twins / len(positions)


# --- scores ------------------------------------------------------------------------------


def _log_scale(value: float, zero_at: float, full_at: float) -> float:
    if value <= zero_at:
        return 0.0
    return min(1.0, float(np.log(value / zero_at) / np.log(full_at / zero_at)))


def _linear_scale(value: float, zero_at: float, full_at: float) -> float:
    return float(np.clip((value - zero_at) / (full_at - zero_at), 0.0, 1.0))


def _percent(fraction: float) -> int:
    return round(100 * fraction)


def _contrast(tones: _Tones) -> float:
    return (
        0.5 * _linear_scale(tones.spread, SPREAD_ZERO_AT, SPREAD_FULL_AT)
        + 0.25 * min(1.0, tones.entropy / ENTROPY_FULL_AT)
        + 0.25 * (1 - tones.flat_share)
    )


def _ambiguity(ambiguous_share: float | None) -> float:
    if ambiguous_share is None:
        return 0.0
    return 1 - _linear_scale(ambiguous_share, AMBIGUOUS_SHARE_OK, AMBIGUOUS_SHARE_WORST)


def _overall(sub_scores: Mapping[str, int], tracking_points: int | None) -> int:
    weighted = sum(weight * sub_scores[name] for name, weight in WEIGHTS.items())
    caps = [
        2 * sub_scores["features"],  # too little detail cannot be made up for
        25 + sub_scores["ambiguity"],  # nor can a pattern the tracker confuses with itself
        20 + sub_scores["distribution"],  # nor detail that leaves much of the image plain
    ]
    if tracking_points == 0:
        caps.append(UNTRACKABLE_CAP)
    return round(min(weighted, *caps))


# --- hints -------------------------------------------------------------------------------

_NO_TRACKING_POINTS = Hint(
    "no_tracking_points",
    "The compiled target has no tracking points: the viewer could find the marker but not "
    "follow it. Use a more detailed image.",
)


def _hints(
    sub_scores: Mapping[str, int],
    corners: int,
    layout: _Layout,
    tones: _Tones,
    sharpness: _Sharpness,
    ambiguous_share: float | None,
) -> list[Hint]:
    hints: list[Hint] = []
    if sub_scores["features"] < HINT_FEATURES_BELOW:
        hints.append(
            Hint(
                "too_little_detail",
                "Too little detail: the camera needs many sharp corners to lock onto. Add "
                "texture, text or pictures with crisp edges.",
            )
        )
    if tones.spread < HINT_SPREAD_BELOW:
        levels = round(tones.spread * 255)
        hints.append(
            Hint(
                "low_contrast",
                f"Low contrast: the tones span only {levels} of 255 grey levels. Use stronger "
                "darks and lights.",
            )
        )
    if corners >= MIN_CORNERS_FOR_LAYOUT:
        hints.extend(_layout_hints(layout))
    if ambiguous_share is not None and sub_scores["ambiguity"] < HINT_AMBIGUITY_BELOW:
        hints.append(
            Hint(
                "repetitive_pattern",
                f"Repetitive pattern: {_percent(ambiguous_share)}% of the features look like "
                "others elsewhere in the image, so the camera cannot tell which is which. "
                "Break the repetition or symmetry.",
            )
        )
    if (
        sharpness.textured_share >= MIN_TEXTURED_SHARE_FOR_BLUR
        and sub_scores["sharpness"] < HINT_SHARPNESS_BELOW
    ):
        hints.append(
            Hint(
                "blurry",
                "The image looks blurry: upload a sharper original, not an enlarged or "
                "out-of-focus one.",
            )
        )
    return hints


def _layout_hints(layout: _Layout) -> list[Hint]:
    if layout.region and layout.coverage < HINT_COVERAGE_BELOW:
        return [
            Hint(
                "features_clustered",
                f"Features only in the {layout.region}: the rest of the image is too plain "
                "to track. Add detail there.",
            )
        ]
    if layout.edge_coverage < HINT_EDGE_COVERAGE_BELOW:
        return [
            Hint(
                "blank_edges",
                f"Too little detail near the edges: only {_percent(layout.edge_coverage)}% of "
                "the border has features. Let the picture reach the edges, without a plain "
                "frame or margin.",
            )
        ]
    if layout.coverage < HINT_COVERAGE_BELOW:
        return [
            Hint(
                "features_clustered",
                f"Features are clustered: only {_percent(layout.coverage)}% of the image has "
                "detail. Spread detail over the whole image.",
            )
        ]
    return []
