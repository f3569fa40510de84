"""Child processes that only their parent stops, and the exception that stops the parent.

A child started here runs in its own session (so its own process group, with no
controlling terminal): Ctrl-C in a terminal, or a signal sent to the worker's process
group, reaches the worker only, and the worker stops the child deliberately. Where
util-linux's `setpriv` is installed (every Debian, so our image) the child is also killed
by the kernel if its parent dies first, even by SIGKILL (`PR_SET_PDEATHSIG`), so it is
never left running on its own. `setpriv` sets that flag and execs the command, which
costs about a millisecond; a `preexec_fn` would force a full fork of the worker instead
(about 10 ms per command for a 110 MB process), and is unsafe in a process with threads.

A memory cap goes the same way, through util-linux's `prlimit`, as RLIMIT_DATA: the
private writable memory the child maps (heap, malloc, thread stacks). Not RLIMIT_AS: V8
reserves address space it never touches (Node's VmSize is about 1.4 GB while its RSS is
300 MB), so an address-space cap near real use stops Node from starting. Not RLIMIT_RSS:
Linux ignores it. RLIMIT_DATA leaves reservations out (they are not writable) and so tracks
what the child really uses. A child over the cap sees its allocations fail.
"""

import errno
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from contextlib import suppress
from functools import cache
from typing import Any

__all__ = ["WorkerStopping", "kill_group", "popen_isolated", "popen_piped"]


class WorkerStopping(BaseException):
    """The process running this code was told to stop: the work in hand is to be handed
    back and run again later, not failed. A BaseException, like KeyboardInterrupt, so that
    no `except Exception` on the way can swallow it."""


def popen_isolated(
    argv: Sequence[str], *, memory_limit_bytes: int | None = None, **options: Any
) -> "subprocess.Popen[str]":
    """`subprocess.Popen` of an argument list (never a shell), in a session of its own and
    dying with this process, its writable memory capped at `memory_limit_bytes` if given.
    A program that cannot be found (or `prlimit`, for a cap) raises FileNotFoundError, as
    Popen would."""
    command = [
        *_die_with_parent_prefix(),
        *_memory_cap_prefix(memory_limit_bytes),
        _which(argv[0]),
        *argv[1:],
    ]
    # An argument list from the caller, no shell involved.
    return subprocess.Popen(command, start_new_session=True, **options)  # noqa: S603


def popen_piped(
    argv: Sequence[str], *, memory_limit_bytes: int | None = None
) -> "subprocess.Popen[str]":
    """`popen_isolated` with no input, and standard output and error as text pipes (UTF-8,
    undecodable bytes replaced): how our tools are run and read."""
    return popen_isolated(
        argv,
        memory_limit_bytes=memory_limit_bytes,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    )


def kill_group(process: "subprocess.Popen[str]") -> None:
    """SIGKILL the child and anything it started (its process group), then reap it."""
    # Until it is reaped, the child's pid (its group's id) cannot be reused.
    if process.returncode is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _which(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    return found


def _memory_cap_prefix(limit_bytes: int | None) -> tuple[str, ...]:
    """`prlimit --data=N --`, which sets RLIMIT_DATA and execs the command. In bytes:
    util-linux 2.38's prlimit crashes on a suffixed size such as `512M`."""
    if limit_bytes is None:
        return ()
    return (_which("prlimit"), f"--data={limit_bytes}", "--")


@cache
def _die_with_parent_prefix() -> tuple[str, ...]:
    """`setpriv --pdeathsig KILL --`, once it has been seen to work here; else nothing."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return ()
    prefix = (setpriv, "--pdeathsig", "KILL", "--")
    check = subprocess.run(  # noqa: S603
        [*prefix, setpriv, "--version"], capture_output=True, check=False
    )
    return prefix if check.returncode == 0 else ()
