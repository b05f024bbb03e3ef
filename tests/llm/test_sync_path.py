"""The one sync path into the LLM layer: ``run_sync`` / ``LLMClient.generate_sync`` on the shared loop."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import pytest

import perception_r1
from perception_r1.llm.client import ChatRequest, build_client, sync_client
from perception_r1.llm.config import LLMConfig
from perception_r1.llm.loop import run_sync, shared_loop
from support.fake_openai_server import FakeOpenAIServer


async def whoami() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


def call_from(context: str, fn):
    """Call ``fn()`` from the main thread, a worker thread, or sync code inside a running event loop."""
    if context == "main":
        return fn()
    if context == "thread":
        box: list = []
        worker = threading.Thread(target=lambda: box.append(fn()))
        worker.start()
        worker.join()
        return box[0]

    async def inside():
        return fn()

    return asyncio.run(inside())


@pytest.mark.parametrize(
    "context",
    [
        "main",  # a CLI command
        "thread",  # a data-pipeline worker thread
        "in_loop",  # a notebook cell or an async framework calling sync code (asyncio.run would fail there)
    ],
)
def test_run_sync_uses_one_shared_loop_from_any_context(context):
    assert call_from(context, lambda: run_sync(whoami())) == "perception-r1-llm"
    assert shared_loop() is shared_loop()  # one loop per process, not one per caller


def test_one_client_serves_sync_calls_from_every_context():
    # Before, each sync call built a throw-away client under a fresh asyncio.run; a client (and its connection pool)
    # is bound to one loop, so reusing it across calls was impossible. On the shared loop it is.
    with FakeOpenAIServer() as server:
        cfg = LLMConfig(base_url=server.base_url, timeout_s=5, max_retries=0)
        with sync_client(cfg) as client:
            texts = [
                call_from(context, lambda c=context: client.generate_sync([ChatRequest.user(c)])[0].text)
                for context in ("main", "thread", "in_loop")
            ]
        assert texts == ["main", "thread", "in_loop"]  # the fake server echoes the prompt
        assert len(server.requests) == client.stats.sent == 3


def test_generate_sync_reports_failures_and_closes():
    cfg = LLMConfig(base_url="http://127.0.0.1:9/v1", timeout_s=1, max_retries=0)
    client = build_client(cfg)
    (result,) = client.generate_sync([ChatRequest.user("x")])
    assert (result.ok, result.error) == (False, "connection error")  # failures are results, never exceptions
    client.close_sync()
    assert client.backend._client is None


def test_run_sync_timeout_cancels_the_coroutine():
    finished = threading.Event()
    cancelled = threading.Event()

    async def slow():
        try:
            await asyncio.sleep(30)
            finished.set()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        run_sync(slow(), timeout=0.1)
    assert cancelled.wait(5) and not finished.is_set()  # it does not keep running on the shared loop


def test_run_sync_from_the_shared_loop_itself_raises_instead_of_deadlocking():
    async def reenter():
        return run_sync(whoami())

    with pytest.raises(RuntimeError, match="own loop thread"):
        run_sync(reenter())


# Sync code must reach the LLM layer through run_sync (llm/loop.py) only: a private asyncio.run or event loop
# would bind clients to a loop that dies with the call, and code already inside a loop could not call it at all.
_PRIVATE_LOOP = re.compile(r"asyncio\.run\(|run_until_complete\(|new_event_loop\(|BackgroundLoop\(")


def test_no_module_runs_its_own_event_loop():
    package = Path(perception_r1.__file__).parent
    offenders = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "loop.py" or path.parent.name != "llm"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _PRIVATE_LOOP.search(line) and not line.lstrip().startswith(("#", ">>>"))
    ]
    assert offenders == []
