"""A private event loop on a daemon thread, so that synchronous code can drive async clients.

Async HTTP clients are bound to the loop they were first used on. Running them on one private loop lets a sync
caller (a TRL reward, a CLI command, a data-pipeline worker thread) use them from anywhere: the main thread,
another thread, or code that is itself inside a running event loop (where ``asyncio.run`` would fail).

The one way for synchronous code to use the LLM layer is :func:`run_sync` (and, built on it,
:meth:`perception_r1.llm.client.LLMClient.generate_sync` / ``close_sync``): every such call runs on the same
process-wide loop (:func:`shared_loop`), so a client built once can serve any number of sync calls from any
thread, and no caller builds a throw-away client per ``asyncio.run``. Async code that owns another loop (verl's
reward loop) awaits the same loop through ``shared_loop().arun``, so it shares those clients without blocking.

Example:
    >>> async def answer() -> int:
    ...     return 42
    >>> run_sync(answer())
    42
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """Lazily started event loop thread.

    Args:
        name: Thread name (shows up in stack dumps).
    """

    def __init__(self, name: str = "perception-r1-loop") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or not self._thread or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self.name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the private loop and block until it finishes.

        Raises:
            RuntimeError: when called from the private loop's own thread (it would deadlock).
        """
        if self._thread is not None and threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(f"{self.name}: run() called from its own loop thread; await the coroutine instead")
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure())
        try:
            return future.result(timeout)
        except BaseException:
            # Ctrl-C or a timeout in the caller: cancel the task too, so that it does not keep running (and
            # holding connections) on a loop that outlives this call.
            future.cancel()
            raise

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` from another event loop: it runs on the private loop, the caller's loop stays free.

        For async callers that own their loop (verl's reward loop): clients bound to the private loop serve them
        without blocking their loop, and many such awaits proceed concurrently. Cancelling the caller cancels
        the coroutine on the private loop too.
        """
        loop = self._ensure()
        if asyncio.get_running_loop() is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def close(self, cleanup: Coroutine[Any, Any, Any] | None = None) -> None:
        """Optionally run ``cleanup`` on the loop, then stop it and join the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop, self._thread = None, None
        if loop is None:
            if cleanup is not None:
                cleanup.close()
            return
        try:
            if cleanup is not None:
                asyncio.run_coroutine_threadsafe(cleanup, loop).result(30)
        finally:  # a failing or hanging cleanup must not leave the loop thread running
            if loop.is_running():
                # Cancel what is still running (a run() interrupted by Ctrl-C leaves its task behind) and let it
                # unwind on the loop, so its finally blocks close HTTP connections while the loop still exists:
                # otherwise they are collected later and print "Event loop is closed" tracebacks.
                try:
                    asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(30)
                except BaseException:  # noqa: BLE001 - best effort; the loop is stopped below either way
                    pass
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None and thread is not threading.current_thread():
                thread.join(30)
            if not loop.is_running():
                loop.close()


_SHARED: BackgroundLoop | None = None
_SHARED_LOCK = threading.Lock()


def shared_loop() -> BackgroundLoop:
    """The process-wide loop behind :func:`run_sync`, created on first use (never at import).

    It is closed at interpreter exit (open tasks are cancelled so that their connections close cleanly).
    """
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = BackgroundLoop("perception-r1-llm")
            atexit.register(_SHARED.close)
        return _SHARED


def run_sync(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the shared LLM loop and block until it is done: the one sync entry to the LLM layer.

    Works from the main thread, from worker threads and from code inside a running event loop.

    Args:
        coro: The coroutine (e.g. ``client.agenerate(requests)`` or ``judge.ajudge(cases)``).
        timeout: Seconds to wait; on expiry the coroutine is cancelled and ``TimeoutError`` raised.

    Returns:
        The coroutine's result (its exception is raised in the caller).

    Raises:
        RuntimeError: when called from a coroutine already running on the shared loop (await it instead).
    """
    return shared_loop().run(coro, timeout)


async def _cancel_all() -> None:
    """Cancel every other task of the running loop, wait for them to finish, then close async generators."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()
