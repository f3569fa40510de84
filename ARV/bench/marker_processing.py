"""Marker processing: how long a marker job takes, compile and scoring apart, against the
bare work inside them, on the detailed 1000x750 test marker (tests/support/marker_images.py),
stored as an uploaded JPEG.

Six ways, round-robin, each way's best run counts:

1. `node -e ''`: a bare Node start, the floor of any compile (baseline);
2. `prepare_marker`: decoding and normalising the upload (baseline);
3. compile: `compile_mind_target` of the normalised image (Node, mind-ar's OfflineCompiler);
4. score: `score_marker` with the tracking points, `feature_heatmap` and `fingerprint`,
   what the job reports as `seconds.score`;
5. compile + score: the two above, back to back;
6. the job: `MarkerProcessor.run` of a queued marker in this process: claim, read from
   storage, prepare, compile, score, heat-map, fingerprint, near-duplicates among 10 other
   ready markers, four outputs stored, database updates.

Ratios: compile and score against the two baselines, and the job against compile + score
(what the job adds: database, storage, duplicates). Goal: the job under 1.10x its compile +
score. The absolute seconds are printed too: a marker is ready that long after its worker
takes it.

    PYTHONPATH=ARV .venv/bin/python ARV/bench/marker_processing.py [--rounds N]
"""

import argparse
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from bench.environment import prepare

BENCH = prepare("marker_processing")
# The application reads its settings at import: the environment above must come first.
from app.core.config import get_settings  # noqa: E402
from app.core.database import get_session_factory, session_scope  # noqa: E402
from app.core.storage import get_storage  # noqa: E402
from app.models import ARContent, Project  # noqa: E402
from app.models.marker import Marker, MarkerStatus  # noqa: E402
from app.services.marker_processing import MarkerProcessor  # noqa: E402
from app.utils.marker_image import prepare_marker  # noqa: E402
from app.utils.marker_match import fingerprint  # noqa: E402
from app.utils.marker_score import feature_heatmap, score_marker  # noqa: E402
from app.utils.mind_compiler import CompiledTarget, compile_mind_target  # noqa: E402
from bench.common import (  # noqa: E402
    Contention,
    create_company,
    own_database,
    print_goal,
    print_header,
    print_table,
    store_file,
    timed,
)
from tests.support import marker_images  # noqa: E402

GOAL_RATIO = 1.10
OTHER_MARKERS = 10
WIDTH_MM = 150


@dataclass(frozen=True, slots=True)
class Way:
    label: str
    once: Callable[[], object]
    """Timed."""
    before: Callable[[], object] = lambda: None
    """Not timed: what each run needs first."""


def main() -> None:
    rounds = parse_options().rounds
    contention = Contention.now()
    upload = marker_images.detailed_jpeg(1)
    with own_database(BENCH):
        ways = build_ways(upload)
        runs = measure_round_robin(ways, rounds)
    report(rounds, ways, runs, contention)


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each way (best counts)")
    return parser.parse_args()


# --- the ways ------------------------------------------------------------------------


def build_ways(upload: bytes) -> list[Way]:
    settings = get_settings()
    normalised = prepare_marker(upload).normalised_jpeg

    def compile_target() -> CompiledTarget:
        return compile_mind_target(
            normalised,
            timeout_seconds=settings.MIND_COMPILE_TIMEOUT_SECONDS,
            memory_limit_mb=settings.MIND_COMPILE_MEMORY_MB,
            node_binary=settings.NODE_BINARY,
        )

    tracking_points = compile_target().tracking_points  # also warms the disk cache

    def score() -> None:
        score_marker(normalised, tracking_points=tracking_points)
        feature_heatmap(normalised)
        fingerprint(normalised)

    def compile_and_score() -> None:
        compile_target()
        score()

    node = [settings.NODE_BINARY, "-e", ""]
    return [
        Way("node -e '' (bare Node start)", lambda: subprocess.run(node, check=True)),
        Way("prepare_marker (decode, normalise)", lambda: prepare_marker(upload)),
        Way("compile (compile_mind_target)", compile_target),
        Way("score (score, heat-map, fingerprint)", score),
        Way("compile + score", compile_and_score),
        the_job(upload),
    ]


def the_job(upload: bytes) -> Way:
    processor = MarkerProcessor(get_session_factory(), get_storage(), get_settings())
    content = create_content(create_company(plan="pro"))
    file_id = store_upload(content, upload)
    add_other_markers(content, file_id, OTHER_MARKERS)
    queued: list[tuple[uuid.UUID, str]] = []

    def before() -> None:
        queued.append(queue_marker(content, file_id))

    def once() -> None:
        outcome = processor.run(*queued[-1])
        if outcome.status != "ready":
            raise RuntimeError(f"the marker job did not end ready: {outcome}")

    return Way("the job (MarkerProcessor.run)", once, before)


def create_content(company_id: uuid.UUID) -> ARContent:
    with session_scope() as db:
        project = Project(company_id=company_id, name="Bench")
        db.add(project)
        db.flush()
        content = ARContent(company_id=company_id, project_id=project.id, title="Bench")
        db.add(content)
    return content


def store_upload(content: ARContent, upload: bytes) -> uuid.UUID:
    path = BENCH.var_dir / "marker.jpg"
    path.write_bytes(upload)
    return store_file(content.company_id, path, "image/jpeg")


def add_other_markers(content: ARContent, file_id: uuid.UUID, count: int) -> None:
    """Ready markers of other contents (other pictures), for the duplicate search."""
    for seed in range(2, 2 + count):
        normalised = prepare_marker(marker_images.detailed_jpeg(seed)).normalised_jpeg
        with session_scope() as db:
            other = ARContent(
                company_id=content.company_id, project_id=content.project_id, title=f"#{seed}"
            )
            db.add(other)
            db.flush()
            db.add(
                Marker(
                    company_id=content.company_id,
                    project_id=content.project_id,
                    ar_content_id=other.id,
                    file_id=file_id,
                    width_mm=WIDTH_MM,
                    status=MarkerStatus.READY,
                    max_attempts=1,
                    report={},
                    fingerprint=fingerprint(normalised),
                )
            )


def queue_marker(content: ARContent, file_id: uuid.UUID) -> tuple[uuid.UUID, str]:
    """What `MarkerService.upload` commits, without sending the task: this process runs
    the job itself."""
    task_id = str(uuid.uuid4())
    with session_scope() as db:
        marker = Marker(
            company_id=content.company_id,
            project_id=content.project_id,
            ar_content_id=content.id,
            file_id=file_id,
            width_mm=WIDTH_MM,
            status=MarkerStatus.QUEUED,
            max_attempts=get_settings().MARKER_JOB_MAX_ATTEMPTS,
            task_id=task_id,
            report={},
        )
        db.add(marker)
    return marker.id, task_id


# --- measuring and reporting ---------------------------------------------------------


def measure_round_robin(ways: list[Way], rounds: int) -> list[list[float]]:
    """Each way once per round, in turn, so that a slow spell hits all of them alike."""
    runs: list[list[float]] = [[] for _ in ways]
    for _ in range(rounds):
        for way, times in zip(ways, runs, strict=True):
            way.before()
            times.append(timed(way.once))
    return runs


def seconds(value: float) -> str:
    return f"{value:.3f}"


def report(rounds: int, ways: list[Way], runs: list[list[float]], contention: Contention) -> None:
    print_header(
        "marker processing: the detailed 1000x750 test marker, uploaded as a JPEG",
        [f"each way run {rounds}x round-robin, the best run counts"],
        contention,
    )
    best = [min(times) for times in runs]
    print_table(
        ["way", "best s", "runs s"],
        [
            [way.label, seconds(fastest), " ".join(seconds(t) for t in times)]
            for way, fastest, times in zip(ways, best, runs, strict=True)
        ],
    )
    if rounds > 1:
        spread = max(max(times) / min(times) - 1 for times in runs)
        print(f"   run-to-run noise: one way's runs differ by up to {spread:.1%}")
    node, prepared, compiled, scored, both, job = best
    print(f"   compile / bare Node start: {compiled / node:.1f}x")
    print(f"   compile / prepare_marker: {compiled / prepared:.0f}x")
    print(f"   score / prepare_marker: {scored / prepared:.1f}x")
    print_goal(
        f"the job / compile + score: {job / both:.3f}x",
        f"under {GOAL_RATIO:.2f}x",
        job / both < GOAL_RATIO,
    )


if __name__ == "__main__":
    main()
