"""Child processes that stop when their parent stops: on SIGTERM, on Ctrl-C, and when the parent dies outright.

A job that runs in several processes (the experiment's GRPO workers, a ``torchrun`` launch and its ranks) must not
leave any of them training after it was told to stop: they would go on holding their run folders and the CPU or
GPU, and a rerun would find the folders busy. These pieces make that hold:

* :func:`exit_on_sigterm`: SIGTERM raises ``SystemExit(143)`` in the main thread, so ``finally`` blocks and
  ``except BaseException`` clean-ups run (Python's default SIGTERM handling ends the process without them).
* :func:`die_with_parent`: a child process gets SIGTERM from the kernel when its parent dies, even by SIGKILL
  (Linux ``PR_SET_PDEATHSIG``; elsewhere the child only notices when it next talks to the parent).
* :func:`run_stoppable`: a pool worker whose call SIGTERM unwound exits instead of taking more work.
* :func:`stop_process` / :func:`stop_pool`: SIGTERM, a grace period to unwind, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

# How long a stopped child may take to unwind (a launch stops its ranks within torchrun's own 30 s) before SIGKILL.
STOP_GRACE_S = 60.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


# Set once a stop signal (SIGTERM; SIGINT too in a child of die_with_parent) told this process to stop. A plain
# flag, not a threading.Event: the handler may interrupt code that holds the Event's lock.
_stop_requested = False


def _stop_once(stop: Callable[[int], BaseException]) -> Callable[[int, object], None]:
    """A signal handler that raises ``stop(signum)`` for the first stop signal and ignores any later one: a second
    exception raised inside the first one's clean-up would cut it short."""

    def handler(signum: int, frame: object) -> None:
        global _stop_requested
        if _stop_requested:
            return
        _stop_requested = True
        raise stop(signum)

    return handler


def exit_on_sigterm() -> None:
    """Turn the first SIGTERM into ``SystemExit(143)`` in this process (no-op outside the main thread)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_once(lambda signum: SystemExit(128 + signum)))


def run_stoppable(fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn(*args)`` in a pool worker that ends once SIGTERM (or Ctrl-C) has unwound the call.

    Without this a stopped worker returns to its pool for more work: a ``ProcessPoolExecutor`` has already handed
    it its next call (which would start), and when the parent died nobody ever tells it to exit (every worker
    holds the write end of the call queue, so it never reads end-of-file).

    Raises:
        SystemExit: a ``SystemExit`` of ``fn`` that no SIGTERM caused, unchanged.
    """
    try:
        return fn(*args)
    except SystemExit as exc:
        if not _stop_requested:
            raise
        _exit_now(exc.code if isinstance(exc.code, int) else 128 + signal.SIGTERM)
    except KeyboardInterrupt:  # Ctrl-C reaches every process of the terminal's group, this worker too
        _exit_now(128 + signal.SIGINT)


def _exit_now(code: int) -> NoReturn:
    """End the process at once: the call's clean-ups have run, and the pool must not hand it more work."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def die_with_parent(parent_pid: int) -> None:
    """Stop this process (SIGTERM, then :func:`exit_on_sigterm`'s unwinding) when ``parent_pid`` dies.

    Call it first thing in the child (e.g. as a ``ProcessPoolExecutor`` initializer with ``os.getpid()`` of the
    parent). Linux delivers the signal when the thread that started the child ends, so the parent must start its
    children from a thread that lives as long as it does (the main thread).

    Raises:
        SystemExit: the parent had already died when this ran.
    """
    exit_on_sigterm()
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C reaches a child too (the terminal signals the whole group), and its parent then sends SIGTERM:
        # the first of the two stops the child, the second must not cut its clean-up short.
        signal.signal(signal.SIGINT, _stop_once(lambda signum: KeyboardInterrupt()))
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the request above took effect
        raise SystemExit(128 + signal.SIGTERM)


def stop_process(proc: Any, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM ``proc`` (a ``subprocess.Popen`` or ``multiprocessing.Process``), wait up to ``grace_s``, SIGKILL.

    Example:
        >>> import subprocess, sys
        >>> proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        >>> stop_process(proc, grace_s=5); proc.poll() is not None
        True
    """
    stop_processes([proc], grace_s)


def stop_processes(procs: list[Any], grace_s: float = STOP_GRACE_S) -> None:
    """:func:`stop_process` for several at once: all are signalled, then all share one grace period."""
    alive = [p for p in procs if _alive(p)]
    for p in alive:
        p.terminate()
    deadline = time.monotonic() + grace_s
    for p in alive:
        _wait(p, max(0.0, deadline - time.monotonic()))
        if _alive(p):
            p.kill()
            _wait(p, 5.0)


def stop_pool(pool: Any, grace_s: float = STOP_GRACE_S) -> None:
    """Stop the worker processes of a ``concurrent.futures.ProcessPoolExecutor`` and drop its queued calls.

    ``shutdown`` alone waits for every running call to finish; a stopped job must not wait for hours of training.
    """
    # No public handle on the workers before Python 3.14 (ProcessPoolExecutor.terminate_workers).
    workers = list((getattr(pool, "_processes", None) or {}).values())
    # Calls not yet handed to a worker are dropped first; a worker's own call ends as SIGTERM unwinds it.
    pool.shutdown(wait=False, cancel_futures=True)
    stop_processes(workers, grace_s)


def _alive(proc: Any) -> bool:
    return proc.is_alive() if hasattr(proc, "is_alive") else proc.poll() is None


def _wait(proc: Any, timeout: float) -> None:
    if hasattr(proc, "join"):
        proc.join(timeout)
        return
    try:
        proc.wait(timeout)
    except Exception:  # subprocess.TimeoutExpired: still running, the caller decides
        pass
