"""Child processes that only their parent stops, and the exception that stops the parent.

A child started here runs in its own session (so its own process group, with no
controlling terminal): Ctrl-C in a terminal, or a signal sent to the worker's process
group, reaches the worker only, and the worker stops the child deliberately. On Linux the
child is also killed by the kernel if its parent dies first (even by SIGKILL), so it is
never left running on its own.
"""

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

__all__ = ["WorkerStopping", "kill_group", "popen_isolated"]

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class WorkerStopping(BaseException):
    """The process running this code was told to stop: the work in hand is to be handed
    back and run again later, not failed. A BaseException, like KeyboardInterrupt, so that
    no `except Exception` on the way can swallow it."""


def popen_isolated(argv: Sequence[str], **options: Any) -> "subprocess.Popen[str]":
    """`subprocess.Popen` of an argument list (never a shell), in a session of its own and
    dying with this process."""
    # An argument list from the caller, no shell involved.
    return subprocess.Popen(  # noqa: S603
        list(argv), start_new_session=True, preexec_fn=_die_with_parent_hook(), **options
    )


def kill_group(process: "subprocess.Popen[str]") -> None:
    """SIGKILL the child and anything it started (its process group), then reap it."""
    # Until it is reaped, the child's pid (its group's id) cannot be reused.
    if process.returncode is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _die_with_parent_hook() -> Callable[[], None] | None:
    """Runs in the forked child before exec: ask the kernel to SIGKILL it when the parent
    thread dies. Everything it calls is resolved here, before the fork."""
    if _LIBC is None:
        return None
    prctl = _LIBC.prctl
    parent, kill, exit_now, parent_of_child = os.getpid(), int(signal.SIGKILL), os._exit, os.getppid

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, kill)
        # The parent may have died between the fork and the prctl call.
        if parent_of_child() != parent:
            exit_now(1)

    return hook
