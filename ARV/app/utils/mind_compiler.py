"""MindAR tracker targets (`.mind` files, which web viewers load to find and follow a marker):
compiled by mind-ar's OfflineCompiler under Node.js (`mind_compile.mjs`), read back with
msgpack.

Each compile is one Node process (the compiler is known to crash inside Node's worker
threads), started by `popen_piped`: an argument list, its own session, dying with the
worker, killed with its process group on timeout, and its memory capped with RLIMIT_DATA
(see `app.utils.subprocesses` for why that limit). Half of the cap goes to V8's heap limit,
so that V8 collects garbage before the hard cap is near; the rest is for typed arrays, Cairo
and thread stacks. Over the cap, Node aborts or crashes rather than raising: a compile that
dies of such a signal is reported as `out_of_memory`.
"""

import json
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgpack
from pydantic import BaseModel, Field, ValidationError

from app.utils.subprocesses import kill_group, popen_piped

__all__ = [
    "CompiledTarget",
    "MindCompileError",
    "MindTargetError",
    "MindTargetInfo",
    "compile_mind_target",
    "read_mind_target",
]

_SCRIPT = Path(__file__).with_name("mind_compile.mjs")
# The repository (or /srv/arvlite in the image), where package.json and node_modules live.
_PROJECT_ROOT = Path(__file__).resolve().parents[3]
_MIB = 1024 * 1024
# mind-ar's tracker follows the second of a target's two tracking keyframes (128 px on the
# short side; TRACKING_KEYFRAME in its tracker.js), so those are the points that count.
_TRACKED_SCALE = 1
# How Node dies at the memory cap (SIGKILL: the kernel's OOM killer, should it come first).
_OUT_OF_MEMORY_SIGNALS = frozenset({signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGKILL})
_OUT_OF_MEMORY_TEXTS = ("out of memory", "allocation failed", "cannot allocate memory")

MindCompileReason = Literal["timeout", "out_of_memory", "failed", "node_missing"]


class MindCompileError(RuntimeError):
    def __init__(self, reason: MindCompileReason, message: str) -> None:
        super().__init__(message)
        self.reason: MindCompileReason = reason
        self.message = message


class MindTargetError(ValueError):
    """The bytes are not a compiled MindAR target of a single image."""


@dataclass(frozen=True, slots=True)
class MindTargetInfo:
    width: int
    height: int
    matching_points: int
    """Feature points over every detection scale: what finds the marker in a camera frame."""
    tracking_points: int
    """Points of the tracked keyframe: what follows the marker once found. With none, the
    viewer can find the marker but not hold the video on it."""


@dataclass(frozen=True, slots=True)
class CompiledTarget:
    data: bytes
    width: int
    height: int
    matching_points: int
    tracking_points: int
    seconds: float


def compile_mind_target(
    image_jpeg: bytes,
    *,
    timeout_seconds: float,
    memory_limit_mb: int,
    node_binary: str | None = None,
    node_modules: Path | None = None,
) -> CompiledTarget:
    """Compile one marker image (JPEG or PNG) into a `.mind` target. `node_binary` defaults
    to `node` on PATH, `node_modules` to the project's. Raises `MindCompileError`."""
    node = _find_node(node_binary)
    modules = _find_mind_ar(node_modules or _PROJECT_ROOT / "node_modules")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="arvlite-mind-") as workdir:
        image, output = Path(workdir, "marker.jpg"), Path(workdir, "target.mind")
        image.write_bytes(image_jpeg)
        argv = [
            node,
            f"--max-old-space-size={memory_limit_mb // 2}",
            str(_SCRIPT),
            str(image),
            str(output),
            str(modules),
        ]
        returncode, stdout, stderr = _run(argv, timeout_seconds, memory_limit_mb)
        if returncode != 0:
            raise _failure(returncode, stdout, stderr, memory_limit_mb)
        result = _last_json_line(stdout)
        data = output.read_bytes()
    return _compiled(data, result, seconds=time.monotonic() - started)


def read_mind_target(data: bytes) -> MindTargetInfo:
    """Size and point counts of a `.mind` file holding one target. Raises
    `MindTargetError` for anything else."""
    try:
        content = _MindFile.model_validate(msgpack.unpackb(data))
    except ValidationError as error:
        raise MindTargetError(f"not a MindAR target: {_first_problem(error)}") from error
    except (ValueError, msgpack.UnpackException) as error:
        raise MindTargetError(f"not a MindAR target: not msgpack ({error})") from error
    [target] = content.data_list
    return MindTargetInfo(
        width=target.target_image.width,
        height=target.target_image.height,
        matching_points=sum(
            len(keyframe.maxima_points) + len(keyframe.minima_points)
            for keyframe in target.matching_data
        ),
        tracking_points=len(target.tracking_data[_TRACKED_SCALE].points),
    )


# --- running Node ----------------------------------------------------------------------


def _find_node(node_binary: str | None) -> str:
    node = shutil.which(node_binary or "node")
    if node is None:
        raise MindCompileError("node_missing", "Node.js is not installed (no `node` found)")
    return node


def _find_mind_ar(node_modules: Path) -> Path:
    if not (node_modules / "mind-ar" / "package.json").is_file():
        raise MindCompileError(
            "node_missing", "mind-ar is not installed (scripts/bootstrap.sh installs it)"
        )
    return node_modules


def _run(argv: list[str], timeout_seconds: float, memory_limit_mb: int) -> tuple[int, str, str]:
    """Run to completion: exit status, standard output and error. Killed, with anything it
    started, on timeout or on any exception (`WorkerStopping` from a signal handler
    included)."""
    try:
        process = popen_piped(argv, memory_limit_bytes=memory_limit_mb * _MIB)
    except OSError as error:
        raise MindCompileError("failed", f"cannot start Node: {error.strerror}") from error
    with process:
        try:
            stdout, stderr = process.communicate(timeout=timeout_seconds)
        except subprocess.TimeoutExpired as expired:
            kill_group(process)
            raise MindCompileError(
                "timeout", f"compiling took longer than {timeout_seconds:g} s"
            ) from expired
        except BaseException:
            kill_group(process)
            raise
    return process.returncode, stdout, stderr


def _failure(returncode: int, stdout: str, stderr: str, memory_limit_mb: int) -> MindCompileError:
    output = f"{stdout}\n{stderr}".lower()
    killed_by = -returncode if returncode < 0 else None
    if killed_by in _OUT_OF_MEMORY_SIGNALS or any(text in output for text in _OUT_OF_MEMORY_TEXTS):
        return MindCompileError(
            "out_of_memory", f"compiling needed more than {memory_limit_mb} MB of memory"
        )
    if killed_by is not None:
        return MindCompileError("failed", f"the compiler was killed by signal {killed_by}")
    reported = _last_json_line(stdout).get("error")
    last_words = stderr.strip().rpartition("\n")[2]
    reason = reported or last_words or f"exit status {returncode}"
    return MindCompileError("failed", f"compiling failed: {reason}")


def _last_json_line(stdout: str) -> dict[str, Any]:
    """The script's one result line. V8 prints its own fatal reports on standard output, so
    the last line that is a JSON object is taken; {} when there is none."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return {}


def _compiled(data: bytes, result: dict[str, Any], *, seconds: float) -> CompiledTarget:
    try:
        return CompiledTarget(
            data=data,
            width=int(result["width"]),
            height=int(result["height"]),
            matching_points=int(result["matching_points"]),
            tracking_points=int(result["tracking_points"][_TRACKED_SCALE]),
            seconds=seconds,
        )
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise MindCompileError("failed", f"the compiler reported no result: {result}") from error


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else str(problem["msg"])


# --- the .mind format (mind-ar 1.2.5 writes version 2) ---------------------------------


class _Points(BaseModel):
    points: list[Any]


class _Keyframe(BaseModel):
    maxima_points: list[Any] = Field(alias="maximaPoints")
    minima_points: list[Any] = Field(alias="minimaPoints")


class _Size(BaseModel):
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class _Target(BaseModel):
    target_image: _Size = Field(alias="targetImage")
    tracking_data: list[_Points] = Field(alias="trackingData", min_length=_TRACKED_SCALE + 1)
    matching_data: list[_Keyframe] = Field(alias="matchingData")


class _MindFile(BaseModel):
    v: Literal[2]
    data_list: list[_Target] = Field(alias="dataList", min_length=1, max_length=1)
