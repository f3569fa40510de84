"""Compiling MindAR targets with the real Node compiler: two full compiles (a detailed and a
flat image, about 5 s each here), and runs stopped early by their limits."""

import io
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from PIL import Image

from app.utils import mind_compiler
from app.utils.mind_compiler import (
    CompiledTarget,
    MindCompileError,
    MindTargetError,
    compile_mind_target,
    read_mind_target,
)
from app.utils.subprocesses import popen_piped

MEMORY_LIMIT_MB = 512


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def mosaic_jpeg(width: int, height: int, cell: int = 24) -> bytes:
    """Cells of random colours: corners everywhere, the same picture on every run."""
    rows, columns = -(-height // cell), -(-width // cell)
    colours = np.random.default_rng(20).integers(0, 256, (rows, columns, 3), dtype=np.uint8)
    cells = Image.fromarray(colours).resize((columns * cell, rows * cell), Image.Resampling.NEAREST)
    return jpeg(cells.crop((0, 0, width, height)))


@pytest.fixture(scope="module")
def detailed_jpeg() -> bytes:
    return mosaic_jpeg(480, 360)


@pytest.fixture(scope="module")
def detailed_target(detailed_jpeg: bytes) -> CompiledTarget:
    return compile_mind_target(detailed_jpeg, timeout_seconds=120, memory_limit_mb=MEMORY_LIMIT_MB)


def test_a_detailed_image_compiles_to_a_trackable_target(detailed_target: CompiledTarget) -> None:
    assert (detailed_target.width, detailed_target.height) == (480, 360)
    assert detailed_target.matching_points > 100
    assert detailed_target.tracking_points > 0
    assert detailed_target.seconds > 0


def test_the_compiled_target_reads_back_as_reported(detailed_target: CompiledTarget) -> None:
    info = read_mind_target(detailed_target.data)
    assert (info.width, info.height) == (480, 360)
    assert info.matching_points == detailed_target.matching_points
    assert info.tracking_points == detailed_target.tracking_points


def test_a_flat_image_has_nothing_to_track() -> None:
    flat = jpeg(Image.new("RGB", (320, 240), (200, 200, 200)))
    target = compile_mind_target(flat, timeout_seconds=120, memory_limit_mb=MEMORY_LIMIT_MB)
    assert (target.width, target.height) == (320, 240)
    assert target.tracking_points == 0
    assert read_mind_target(target.data).tracking_points == 0


def test_a_compile_past_its_timeout_is_killed_with_its_process_group(
    detailed_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[str]] = []

    def recording_popen(*args: Any, **kwargs: Any) -> subprocess.Popen[str]:
        started.append(popen_piped(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(mind_compiler, "popen_piped", recording_popen)
    began = time.monotonic()
    with pytest.raises(MindCompileError) as stopped:
        compile_mind_target(detailed_jpeg, timeout_seconds=0.5, memory_limit_mb=MEMORY_LIMIT_MB)
    assert stopped.value.reason == "timeout"
    assert time.monotonic() - began < 5
    [node] = started
    with pytest.raises(ProcessLookupError):
        os.killpg(node.pid, 0)


def test_a_compile_over_its_memory_cap_is_out_of_memory(detailed_jpeg: bytes) -> None:
    with pytest.raises(MindCompileError) as stopped:
        compile_mind_target(detailed_jpeg, timeout_seconds=60, memory_limit_mb=100)
    assert stopped.value.reason == "out_of_memory"


def test_bytes_that_are_no_image_fail_with_the_compilers_reason() -> None:
    with pytest.raises(MindCompileError) as failed:
        compile_mind_target(b"no image", timeout_seconds=60, memory_limit_mb=MEMORY_LIMIT_MB)
    assert failed.value.reason == "failed"
    assert failed.value.message == "compiling failed: Unsupported image type"


def test_a_missing_node_or_mind_ar_is_node_missing(tmp_path: Path) -> None:
    with pytest.raises(MindCompileError) as no_node:
        compile_mind_target(
            b"", timeout_seconds=1, memory_limit_mb=1, node_binary=str(tmp_path / "node")
        )
    with pytest.raises(MindCompileError) as no_mind_ar:
        compile_mind_target(b"", timeout_seconds=1, memory_limit_mb=1, node_modules=tmp_path)
    assert no_node.value.reason == no_mind_ar.value.reason == "node_missing"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param(b"", "not msgpack", id="empty"),
        pytest.param(b"\x89PNG\r\n\x1a\n", "not msgpack", id="png"),
        pytest.param(msgpack.packb([1, 2]), "valid dictionary", id="a-list"),
        pytest.param(msgpack.packb({"v": 1, "dataList": []}), "v: Input should be 2", id="v1"),
        pytest.param(msgpack.packb({"v": 2, "dataList": []}), "dataList: List", id="no-target"),
    ],
)
def test_read_mind_target_refuses_what_is_not_one_target(data: bytes, problem: str) -> None:
    with pytest.raises(MindTargetError) as refused:
        read_mind_target(data)
    assert str(refused.value).startswith("not a MindAR target: ")
    assert problem in str(refused.value)
