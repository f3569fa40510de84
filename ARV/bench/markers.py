"""Marker analysis: each step of `app.utils.marker_*` against the bare Pillow or OpenCV
work inside it, on the detailed 1000x750 test marker (tests/support/marker_images.py).

| step | baseline |
|---|---|
| `prepare_marker` of the upload | Pillow decoding the upload |
| `score_marker` | ORB detect-and-compute (1,000 features) on the 640 px analysis image |
| `feature_heatmap` | FAST detection on the analysis image |
| `fingerprint` | ORB detect-and-compute (500 features) on the analysis image |
| `match` of a marker and its copy turned 20° at 0.7x | Hamming k-NN of the two descriptor sets |

Each way runs --rounds times, round-robin, and its best run counts. Goals, from the
product issue: scoring under 2 s and matching one pair under 50 ms on 2 cores; the ratios
are information.

    PYTHONPATH=ARV .venv/bin/python ARV/bench/markers.py [--rounds N]
"""

import argparse
import io
from collections.abc import Callable
from dataclasses import dataclass

from bench.environment import prepare

BENCH = prepare("markers")
# The application reads its settings at import: the environment above must come first.
import cv2  # noqa: E402
from PIL import Image  # noqa: E402

from app.utils.marker_image import analysis_grey, prepare_marker  # noqa: E402
from app.utils.marker_match import fingerprint, match, orb_features  # noqa: E402
from app.utils.marker_score import detect_corners, feature_heatmap, score_marker  # noqa: E402
from bench.common import Contention, print_goal, print_header, print_table, timed  # noqa: E402
from tests.support import marker_images  # noqa: E402

SCORE_GOAL_SECONDS = 2.0
MATCH_GOAL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Step:
    label: str
    action: Callable[[], object]
    baseline_label: str
    baseline: Callable[[], object]


def main() -> None:
    rounds = parse_options().rounds
    contention = Contention.now()
    try:
        steps = marker_steps()
        best = measure_round_robin(steps, rounds)
    finally:
        BENCH.remove_var_dir()
    report(steps, best, rounds, contention)


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each way (best counts)")
    return parser.parse_args()


def marker_steps() -> list[Step]:
    upload = marker_images.detailed_jpeg(1)
    normalised = prepare_marker(upload).normalised_jpeg
    copy = marker_images.rotated_scaled_jpeg(upload, degrees=20, scale=0.7)
    copy_normalised = prepare_marker(copy).normalised_jpeg
    grey = analysis_grey(normalised)
    prints = fingerprint(normalised), fingerprint(copy_normalised)
    descriptors = orb_features(grey, 500)[1], orb_features(analysis_grey(copy_normalised), 500)[1]
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    return [
        Step(
            "prepare_marker",
            lambda: prepare_marker(upload),
            "Pillow decode",
            lambda: Image.open(io.BytesIO(upload)).load(),
        ),
        Step(
            "score_marker",
            lambda: score_marker(normalised),
            "ORB, 1,000 features",
            lambda: orb_features(grey, 1000),
        ),
        Step(
            "feature_heatmap",
            lambda: feature_heatmap(normalised),
            "FAST corners",
            lambda: detect_corners(grey),
        ),
        Step(
            "fingerprint",
            lambda: fingerprint(normalised),
            "ORB, 500 features",
            lambda: orb_features(grey, 500),
        ),
        Step(
            "match (duplicate pair)",
            lambda: match(*prints),
            "Hamming k-NN",
            lambda: matcher.knnMatch(*descriptors, k=2),
        ),
    ]


def measure_round_robin(steps: list[Step], rounds: int) -> dict[str, float]:
    """The best wall time of each step and each baseline, by label."""
    ways = [(step.label, step.action) for step in steps]
    ways += [(step.baseline_label, step.baseline) for step in steps]
    best: dict[str, float] = {}
    for _ in range(rounds):
        for label, action in ways:
            elapsed = timed(action)
            best[label] = min(best.get(label, elapsed), elapsed)
    return best


def report(steps: list[Step], best: dict[str, float], rounds: int, contention: Contention) -> None:
    print_header(
        "Marker analysis: each step against the bare work inside it",
        [f"detailed 1000x750 test marker; best of {rounds} runs each, round-robin"],
        contention,
    )
    print_table(
        ["step", "ms", "baseline", "ms", "ratio"],
        [
            [
                step.label,
                f"{best[step.label] * 1000:.1f}",
                step.baseline_label,
                f"{best[step.baseline_label] * 1000:.1f}",
                f"{best[step.label] / best[step.baseline_label]:.1f}x",
            ]
            for step in steps
        ],
    )
    scoring, matching = best["score_marker"], best["match (duplicate pair)"]
    print_goal(
        f"score_marker {scoring * 1000:.0f} ms",
        f"under {SCORE_GOAL_SECONDS:g} s",
        scoring < SCORE_GOAL_SECONDS,
    )
    print_goal(
        f"match {matching * 1000:.1f} ms",
        f"under {MATCH_GOAL_SECONDS * 1000:.0f} ms",
        matching < MATCH_GOAL_SECONDS,
    )


if __name__ == "__main__":
    main()
