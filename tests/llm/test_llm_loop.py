"""BackgroundLoop: sync access to async code from threads and from inside running loops."""

from __future__ import annotations

import asyncio
import threading

import pytest

from perception_r1.llm.loop import BackgroundLoop


async def whoami() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


@pytest.mark.parametrize(
    "caller",
    [
        "main",  # plain synchronous caller
        "thread",  # a worker thread (e.g. a data-pipeline pool)
        "in_loop",  # synchronous code called from inside a running event loop (asyncio.run would fail)
    ],
)
def test_run_from_any_context(caller):
    loop = BackgroundLoop("bg-test")
    try:
        if caller == "main":
            result = loop.run(whoami())
        elif caller == "thread":
            box = []
            t = threading.Thread(target=lambda: box.append(loop.run(whoami())))
            t.start()
            t.join()
            result = box[0]
        else:

            async def inside():
                return loop.run(whoami())

            result = asyncio.run(inside())
        assert result == "bg-test"
    finally:
        loop.close()


def test_run_from_own_thread_raises_instead_of_deadlocking():
    loop = BackgroundLoop("bg-self")

    async def reenter():
        return loop.run(whoami())

    try:
        with pytest.raises(RuntimeError, match="own loop thread"):
            loop.run(reenter())
    finally:
        loop.close()


def test_close_runs_cleanup_and_loop_restarts():
    loop = BackgroundLoop("bg-close")
    flag = []

    async def cleanup():
        flag.append(True)

    assert loop.run(whoami()) == "bg-close"
    loop.close(cleanup())
    assert flag == [True]
    assert loop.run(whoami()) == "bg-close"  # lazily restarted
    loop.close()


def test_close_stops_the_thread_when_cleanup_fails():
    loop = BackgroundLoop("bg-close-fail")

    async def failing_cleanup():
        raise OSError("cannot close the client")

    loop.run(whoami())
    thread = loop._thread
    with pytest.raises(OSError, match="cannot close"):
        loop.close(failing_cleanup())
    assert thread is not None and not thread.is_alive()  # the loop thread is not leaked


def test_arun_awaits_on_the_private_loop_without_blocking_the_callers_loop():
    import asyncio
    import threading

    from perception_r1.llm.loop import BackgroundLoop

    background = BackgroundLoop("test-arun")
    try:

        async def work(i):
            await asyncio.sleep(0.2)
            return i, threading.current_thread().name

        async def main():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)

            task = asyncio.create_task(ticker())
            results = await asyncio.gather(*(background.arun(work(i)) for i in range(20)))
            task.cancel()
            return results, ticks

        results, ticks = asyncio.run(main())
    finally:
        background.close()
    assert [i for i, _ in results] == list(range(20))
    assert {name for _, name in results} == {"test-arun"}  # ran on the private loop's thread
    assert ticks >= 5  # the caller's loop kept running while it waited


def test_arun_cancellation_reaches_the_private_loop():
    import asyncio

    from perception_r1.llm.loop import BackgroundLoop

    background = BackgroundLoop("test-arun-cancel")
    state = {}

    async def slow():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise

    async def main():
        task = asyncio.create_task(background.arun(slow()))
        await asyncio.sleep(0.1)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(0.1)

    try:
        asyncio.run(main())
    finally:
        background.close()
    assert state == {"cancelled": True}
