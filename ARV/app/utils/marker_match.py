"""A compact ORB fingerprint of a marker, and whether two fingerprints show the same
picture: a copy rotated, scaled, slightly cropped or re-encoded is a duplicate.

A fingerprint is plain bytes for a database column (about 20 KB): a header, then the
keypoints' (x, y) as little-endian float32 in `analysis_grey` pixels, then their 32-byte ORB
descriptors. Thresholds are explained in ARV/docs/markers.md.
"""

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from cv2.typing import MatLike
from numpy.typing import NDArray

from app.utils.marker_image import analysis_grey

FINGERPRINT_FEATURES = 500
LOWE_RATIO = 0.75
RANSAC_REPROJECTION_PX = 5.0
MIN_INLIERS = 25  # 5% of a full fingerprint; unrelated pictures stay under 16
# A duplicate is the same picture seen through a plausible homography: not mirrored, and
# not shrunk or enlarged by more than this factor.
MAX_SCALE_CHANGE = 8.0

_MAGIC = b"ARVF"
_VERSION = 1
_HEADER = struct.Struct("<4sBxH")  # magic, version, padding, keypoint count
_DESCRIPTOR_BYTES = 32
_POINT_DTYPE = np.dtype("<f4")
# Homography estimation needs four pairs; fewer matches cannot prove anything.
_MIN_PAIRS = 4


@dataclass(frozen=True, slots=True)
class MatchResult:
    """`ratio`: inliers over the smaller fingerprint's keypoint count."""

    is_duplicate: bool
    inliers: int
    ratio: float


@dataclass(frozen=True, slots=True)
class _Features:
    points: NDArray[np.float32]  # (n, 2)
    descriptors: NDArray[np.uint8]  # (n, 32)


def fingerprint(normalised_jpeg: bytes) -> bytes:
    points, descriptors = orb_features(analysis_grey(normalised_jpeg), FINGERPRINT_FEATURES)
    return (
        _HEADER.pack(_MAGIC, _VERSION, len(points))
        + points.astype(_POINT_DTYPE).tobytes()
        + descriptors.tobytes()
    )


def orb_features(
    grey: NDArray[np.uint8], limit: int
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """Up to `limit` ORB keypoints: their (x, y) and their 32-byte descriptors."""
    detected: tuple[Sequence[cv2.KeyPoint], MatLike | None] = cv2.ORB.create(
        nfeatures=limit
    ).detectAndCompute(grey, None)
    keypoints, descriptors = detected
    points = np.array([keypoint.pt for keypoint in keypoints], np.float32).reshape(-1, 2)
    if descriptors is None:  # OpenCV's answer when it finds no keypoint
        return points, np.zeros((0, _DESCRIPTOR_BYTES), np.uint8)
    return points, np.ascontiguousarray(descriptors, np.uint8)


def match(a: bytes, b: bytes) -> MatchResult:
    """Compare two fingerprints; raises ValueError for bytes that are not one."""
    first, second = _unpack(a), _unpack(b)
    smaller = min(len(first.points), len(second.points))
    pairs = _ratio_test_pairs(first, second)
    if len(pairs) < _MIN_PAIRS:
        return MatchResult(is_duplicate=False, inliers=0, ratio=0.0)
    source = first.points[[query for query, _ in pairs]]
    target = second.points[[train for _, train in pairs]]
    # OpenCV answers None, not an exception, when no homography fits.
    found: tuple[MatLike | None, MatLike | None] = cv2.findHomography(
        source, target, cv2.RANSAC, RANSAC_REPROJECTION_PX
    )
    homography, mask = found
    if homography is None or mask is None:
        return MatchResult(is_duplicate=False, inliers=0, ratio=0.0)
    inliers = int(mask.sum())
    duplicate = inliers >= MIN_INLIERS and _plausible(homography)
    return MatchResult(is_duplicate=duplicate, inliers=inliers, ratio=round(inliers / smaller, 4))


def _unpack(data: bytes) -> _Features:
    if len(data) < _HEADER.size:
        raise ValueError("not a marker fingerprint")
    magic, version, count = _HEADER.unpack_from(data)
    points_end = _HEADER.size + count * 2 * _POINT_DTYPE.itemsize
    if (
        magic != _MAGIC
        or version != _VERSION
        or len(data) != points_end + count * _DESCRIPTOR_BYTES
    ):
        raise ValueError("not a marker fingerprint")
    points = np.frombuffer(data, _POINT_DTYPE, count * 2, _HEADER.size).reshape(-1, 2)
    descriptors = np.frombuffer(data, np.uint8, offset=points_end).reshape(-1, _DESCRIPTOR_BYTES)
    return _Features(points.astype(np.float32), descriptors)


def _ratio_test_pairs(first: _Features, second: _Features) -> list[tuple[int, int]]:
    """(first index, second index) of matches clearly better than the runner-up (Lowe)."""
    if len(first.points) < _MIN_PAIRS or len(second.points) < 2:
        return []
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = []
    for candidates in matcher.knnMatch(first.descriptors, second.descriptors, k=2):
        best, runner_up = candidates
        if best.distance < LOWE_RATIO * runner_up.distance:
            pairs.append((best.queryIdx, best.trainIdx))
    return pairs


def _plausible(homography: MatLike) -> bool:
    determinant = float(np.linalg.det(np.asarray(homography, np.float64)[:2, :2]))
    return 1 / MAX_SCALE_CHANGE**2 < determinant < MAX_SCALE_CHANGE**2
