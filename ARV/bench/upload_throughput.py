"""Upload throughput and memory: a file streamed through the API to local storage, against
copying the same file on the same filesystem, and the API process's peak memory.

One 1 GiB file (an MP4 `ftyp` box, so the type sniff accepts it, then random bytes) is
written once. A real uvicorn serves the app against this bench's database, with local
storage in its VAR_DIR. An owner of a `pro` company (whose plan allows 1 GiB files)
uploads with httpx, streaming the body from the file with its Content-Length, first the
file's first 256 MiB, then all of it. Meanwhile the server's resident memory is sampled
every 50 ms (VmRSS in /proc/<pid>/status), and its peak (VmHWM, reset before each upload
where the kernel allows) is read after it.

The baseline is `cp` (`shutil.copyfile`, which lets the kernel copy) of the same 1 GiB on
the same filesystem, best of two runs; the API also fsyncs what it stores, so `cp` + fsync is
shown too. Each upload runs once.
Goal: the server's peak memory flat (256 MiB and 1 GiB within 10 MiB) and under 150 MiB.

    PYTHONPATH=ARV .venv/bin/python ARV/bench/upload_throughput.py [--mib N]
"""

import argparse
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.environment import prepare

BENCH = prepare("upload_throughput")
# The application reads its settings at import: the environment above must come first.
from app.core.config import get_settings  # noqa: E402
from app.core.database import session_scope  # noqa: E402
from app.core.permissions import Role  # noqa: E402
from app.models import Company  # noqa: E402
from bench.common import (  # noqa: E402
    MIB,
    Contention,
    create_company,
    own_database,
    print_goal,
    print_header,
    print_table,
    seconds,
    timed,
    wait_for,
)
from tests.support.factories import add_member, auth_headers, make_user  # noqa: E402
from tests.support.processes import free_port, project_env, running, uvicorn_command  # noqa: E402

# An ISO BMFF file type box: 24 bytes, brand isom, compatible with isom and iso2.
FTYP_BOX = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
RANDOM_BLOCK_BYTES = 8 * MIB
SEND_CHUNK_BYTES = MIB
SAMPLE_SECONDS = 0.05
PEAK_GOAL_MIB = 150
FLAT_TOLERANCE_MIB = 10
COPY_ROUNDS = 2


@dataclass(frozen=True, slots=True)
class Api:
    pid: int
    files_url: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Upload:
    size: int
    seconds: float
    rss_before_mib: float
    peak_sampled_mib: float
    peak_kernel_mib: float | None
    """VmHWM after the upload, reset before it; None where the kernel refused the reset."""

    @property
    def peak_mib(self) -> float:
        return max(self.peak_sampled_mib, self.peak_kernel_mib or 0.0)


def main() -> None:
    options = parse_options()
    contention = Contention.now()
    with own_database(BENCH):
        source = write_test_file(BENCH.var_dir / "big.mp4", options.mib * MIB)
        copy_seconds, copy_fsync_seconds = copy_baselines(source)
        with api_server(BENCH.var_dir / "api.log") as api:
            size = source.stat().st_size
            uploads = [upload(api, source, size // 4), upload(api, source, size)]
    report(uploads, copy_seconds, copy_fsync_seconds, contention)


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the big file in MiB")
    return parser.parse_args()


def write_test_file(path: Path, size: int) -> Path:
    block = os.urandom(RANDOM_BLOCK_BYTES)
    with path.open("wb") as file:
        file.write(FTYP_BOX)
        remaining = size - len(FTYP_BOX)
        while remaining > 0:
            remaining -= file.write(block[:remaining])
    return path


def copy_baselines(source: Path) -> tuple[float, float]:
    """Best seconds of `COPY_ROUNDS` copies of `source` next to it: plain, then flushed to
    disk as storage does."""
    target = source.with_name("copy.bin")

    def copy() -> None:
        shutil.copyfile(source, target)

    def copy_and_fsync() -> None:
        copy()
        descriptor = os.open(target, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def best(action: Callable[[], None]) -> float:
        runs = []
        for _ in range(COPY_ROUNDS):
            runs.append(timed(action))
            target.unlink()
        return min(runs)

    return best(copy), best(copy_and_fsync)


# --- the API -------------------------------------------------------------------------


@contextmanager
def api_server(log: Path) -> Iterator[Api]:
    company_id, headers = owner_of_new_company()
    port = free_port()
    with running(uvicorn_command(port), project_env(), log) as process:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: answers(f"{base}/health"), 30, 0.1, f"the API; log:\n{log.read_text()}")
        yield Api(process.pid, f"{base}/api/v1/companies/{company_id}/storage/files", headers)


def owner_of_new_company() -> tuple[uuid.UUID, dict[str, str]]:
    company_id = create_company(plan="pro")
    with session_scope() as db:
        user = make_user(db)
        add_member(db, db.get_one(Company, company_id), user, Role.OWNER)
        headers = auth_headers(db, get_settings(), user)
    return company_id, headers


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def upload(api: Api, source: Path, size: int) -> Upload:
    """Send the first `size` bytes of `source` while watching the server's memory."""
    kernel_peak_reset = reset_peak_rss(api.pid)
    rss_before = memory_mib(api.pid, "VmRSS")
    with RssSampler(api.pid) as sampler:
        started = time.perf_counter()
        response = httpx.post(
            api.files_url,
            params={"filename": f"big-{size // MIB}.mp4"},
            content=read_chunks(source, size),
            headers={
                **api.headers,
                "Content-Length": str(size),
                "Content-Type": "application/octet-stream",
            },
            timeout=600,
        )
        elapsed = time.perf_counter() - started
    if response.status_code != 201 or response.json()["size_bytes"] != size:
        raise RuntimeError(f"the upload failed: {response.status_code} {response.text}")
    return Upload(
        size=size,
        seconds=elapsed,
        rss_before_mib=rss_before,
        peak_sampled_mib=sampler.peak_mib,
        peak_kernel_mib=memory_mib(api.pid, "VmHWM") if kernel_peak_reset else None,
    )


def read_chunks(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as file:
        remaining = size
        while remaining > 0:
            chunk = file.read(min(SEND_CHUNK_BYTES, remaining))
            if not chunk:
                raise EOFError(f"{path} is shorter than {size} bytes")
            remaining -= len(chunk)
            yield chunk


# --- memory --------------------------------------------------------------------------


def memory_mib(pid: int, field: str) -> float:
    """A size line of /proc/<pid>/status (VmRSS: resident now, VmHWM: peak resident)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) / 1024  # kB
    raise KeyError(f"{field} is not in /proc/{pid}/status")


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (writing 5 to clear_refs, Linux 4.0+)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Samples a process's VmRSS on a thread, every `SAMPLE_SECONDS`, while in the block."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.peak_mib = 0.0

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak_mib = max(self.peak_mib, memory_mib(self._pid, "VmRSS"))
            if self._stop.wait(SAMPLE_SECONDS):
                return


# --- report --------------------------------------------------------------------------


def report(
    uploads: list[Upload], copy_seconds: float, copy_fsync_seconds: float, contention: Contention
) -> None:
    small, big = uploads
    print_header(
        "upload throughput: streamed through the API to local storage, against cp",
        [
            "real uvicorn (one process), httpx streaming the body from a file with "
            "Content-Length; server RSS sampled every 50 ms",
        ],
        contention,
    )
    print_table(
        ["transfer", "MiB", "s", "MiB/s", "server RSS before", "server peak RSS"],
        [
            transfer_row(f"cp (kernel copy), best of {COPY_ROUNDS}", big.size, copy_seconds),
            transfer_row(f"cp + fsync, best of {COPY_ROUNDS}", big.size, copy_fsync_seconds),
            *(
                transfer_row("API upload", up.size, up.seconds, up.rss_before_mib, up.peak_mib)
                for up in uploads
            ),
        ],
    )
    if big.peak_kernel_mib is None:
        print("   (the kernel refused to reset VmHWM: peaks are the 50 ms samples only)")
    print(f"   API / cp: {copy_seconds / big.seconds:.2f}x the throughput")
    print(f"   API / (cp + fsync): {copy_fsync_seconds / big.seconds:.2f}x the throughput")
    growth = big.peak_mib - small.peak_mib
    print_goal(
        f"peak RSS {small.peak_mib:.0f} -> {big.peak_mib:.0f} MiB ({growth:+.0f})",
        f"flat (within {FLAT_TOLERANCE_MIB} MiB)",
        growth <= FLAT_TOLERANCE_MIB,
    )
    peak = max(small.peak_mib, big.peak_mib)
    print_goal(f"peak RSS {peak:.0f} MiB", f"under {PEAK_GOAL_MIB} MiB", peak < PEAK_GOAL_MIB)


def transfer_row(
    label: str,
    size: int,
    elapsed: float,
    rss_before_mib: float | None = None,
    rss_peak_mib: float | None = None,
) -> list[str]:
    mib = size / MIB
    memory = [
        "" if value is None else f"{value:.0f} MiB" for value in (rss_before_mib, rss_peak_mib)
    ]
    return [label, f"{mib:.0f}", seconds(elapsed), f"{mib / elapsed:.0f}", *memory]


if __name__ == "__main__":
    main()
