"""Stopping a worker in the middle of a long task, promptly and without losing the task.

Celery's warm shutdown waits for running tasks, and a pool process told to stop dies
(billiard turns SIGTERM into SystemExit; SIGINT is ignored); neither suits a video
encode that may last many minutes and can simply be run again. So a task that can be
handed back runs inside `interruptible()`: in a pool process, SIGINT or SIGTERM during
it raises `WorkerStopping` in the task, once. The code on its way kills its subprocess
(see `app.utils.subprocesses`) and hands the job back, and the task asks Celery to put
its message back on the queue. Outside such a block, pool processes behave as Celery's
always do.

Ctrl-C in a terminal, or a signal to the worker's whole process group, reaches the pool
processes directly. A signal to the main process only (`docker stop`, `kill <pid>`)
starts Celery's shutdown, and `stop_interruptible_tasks` passes it on as SIGINT to the
pool processes running tasks; other (short) tasks ignore it and finish, as a warm
shutdown promises.
"""

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from celery.worker import state as worker_state

from app.utils.subprocesses import WorkerStopping

__all__ = [
    "WorkerStopping",
    "interruptible",
    "mark_pool_process",
    "stop_interruptible_tasks",
]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_in_pool_process = False


def mark_pool_process() -> None:
    """Call in each pool process (Celery's `worker_process_init`). Elsewhere (the main
    process of a solo pool, the API, tests) `interruptible()` changes nothing: the signals
    belong to whoever handles them there."""
    global _in_pool_process
    _in_pool_process = True


@contextmanager
def interruptible() -> Iterator[None]:
    """Within this block a stop signal raises `WorkerStopping`. Only the first does: the
    code handling it (handing the job back) is not interrupted again."""
    # Python runs signal handlers in the main thread, where prefork runs its tasks.
    if not _in_pool_process or threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def on_stop_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise WorkerStopping(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, on_stop_signal) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_interruptible_tasks() -> None:
    """In the worker's main process, as it starts shutting down: pass the stop on to the
    pool processes running tasks (outside `interruptible()` they ignore SIGINT)."""
    for request in tuple(worker_state.active_requests):
        pid = request.worker_pid
        if pid and pid != os.getpid():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
