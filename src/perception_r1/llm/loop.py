"""A private event loop on a daemon thread, so that synchronous code can drive async clients.

Async HTTP clients are bound to the loop they were first used on. Running them on one private loop lets a sync
caller (a TRL reward, a CLI command, a data-pipeline worker thread) use them from anywhere: the main thread,
another thread, or code that is itself inside a running event loop (where ``asyncio.run`` would fail).
"""

from __future__ import annotations

import asyncio
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
        return asyncio.run_coroutine_threadsafe(coro, self._ensure()).result(timeout)

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` run on the private loop, from any other event loop, without blocking it."""
        if self._loop is not None and asyncio.get_running_loop() is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._ensure()))

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


async def _cancel_all() -> None:
    """Cancel every other task of the running loop, wait for them to finish, then close async generators."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()
