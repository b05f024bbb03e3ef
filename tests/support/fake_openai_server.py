"""A small fault-injecting OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks.

It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length`` bodies) to serve ``GET /v1/models``,
``POST /v1/chat/completions`` and ``GET /stats`` (chat requests received and in flight, so that a test can poll a
standalone server, e.g. to kill a client after K calls). Written on raw asyncio streams so that it needs no web
framework and its own overhead stays far below the latencies it simulates.

Faults are chosen per request, in this order:
    1. ``script``: a list of fault names consumed one per request (then "ok");
    2. a ``FAULT:<name>`` marker in the last user message (each attempt of that request gets the fault, or
       ``FAULT:<name>xN`` for only the first N attempts of identical requests);
    3. ``fault_rate``: with this probability (seeded) a transient fault drawn from ``fault_kinds``.

Fault names: ``ok``, ``slow`` (``slow_s`` extra delay, then ok), ``hang`` (sleeps ``hang_s``: the client must
time out), ``400``, ``401`` (not retryable), ``401_echo`` (a 401 whose message quotes the API key and the
request's ``Authorization`` header, as some gateways do), ``429``, ``500``, ``503``, ``reset`` (the
connection is closed without a reply), ``invalid_json``
(status 200 with a malformed body). Content faults (too few verdicts, echoed injection) are the business of the
``responder``: a function from the request body to the reply text.

Example:
    >>> with FakeOpenAIServer(responder=lambda body: "hi") as server:  # doctest: +SKIP
    ...     server.base_url
    'http://127.0.0.1:40123/v1'

Run standalone (used by ``benchmarks/bench_judge.py`` to keep the server off the client's GIL), with ``tests/``
on the import path (:func:`standalone_env` gives such an environment)::

    PYTHONPATH=tests python -m support.fake_openai_server --port 8011 --latency-ms 250 --fault-rate 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextvars
import json
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Responder = Callable[[dict[str, Any]], str]
TRANSIENT_FAULTS = ("429", "500", "503", "reset", "hang")
_MARKER = re.compile(r"FAULT:([a-z_0-9]+?)(?:x(\d+))?\b")
# Headers of the request being answered; each connection is served by its own task, so a context variable is
# per request.
_HEADERS: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("headers", default=None)
_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def standalone_env() -> dict[str, str]:
    """This process's environment with ``tests/`` first on ``PYTHONPATH``, for ``python -m support.<module>``.

    Returns:
        A copy of ``os.environ``; the fakes are not installed with the package, so a child process finds them only
        through this path.
    """
    tests_dir = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (tests_dir, env.get("PYTHONPATH", "")) if p)
    return env


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message of a chat request body (text parts joined)."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
    return ""


def echo_responder(body: dict[str, Any]) -> str:
    """Default responder: echo the last user message."""
    return last_user_text(body)


class FakeOpenAIServer:
    """Fault-injecting OpenAI-compatible server running on its own event-loop thread.

    Args:
        responder: Request body -> reply text (default: echo the last user message).
        latency_s: Fixed delay before every reply.
        script: Fault names consumed one per request, in arrival order.
        fault_rate: Probability of a random transient fault per request (see ``fault_kinds``).
        fault_kinds: Faults drawn when ``fault_rate`` fires.
        seed: Seed of the fault draws.
        slow_s: Extra delay of the ``slow`` fault.
        hang_s: Delay of the ``hang`` fault (longer than the client's timeout).
        port: Port to bind on 127.0.0.1 (0: a free one).
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency_s: float = 0.0,
        script: list[str] | None = None,
        fault_rate: float = 0.0,
        fault_kinds: tuple[str, ...] = TRANSIENT_FAULTS,
        seed: int = 0,
        slow_s: float = 0.5,
        hang_s: float = 30.0,
        port: int = 0,
    ) -> None:
        self.responder = responder or echo_responder
        self.latency_s = latency_s
        self.script = collections.deque(script or [])
        self.fault_rate = fault_rate
        self.fault_kinds = fault_kinds
        self.slow_s = slow_s
        self.hang_s = hang_s
        self.port = port or free_port()
        self._rng = random.Random(seed)
        self._marker_counts: collections.Counter[str] = collections.Counter()
        self.requests: list[dict[str, Any]] = []  # every chat request body received, in order
        self.faults: collections.Counter[str] = collections.Counter()  # faults served, by name
        self.in_flight = 0
        self.max_in_flight = 0  # highest number of chat requests being processed at once
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``http://127.0.0.1:PORT/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeOpenAIServer:
        """Start serving on a background thread; returns when the socket is listening."""
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024)
                )
            except OSError as exc:  # e.g. the port is taken: report it at once instead of timing out
                failure.append(exc)
                return
            finally:
                ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"fake-openai-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            self._thread.join(1)
            self._loop = None
            if not loop.is_running():
                loop.close()
            reason = f": {failure[0]}" if failure else ""
            raise RuntimeError(f"fake OpenAI server on port {self.port} did not start{reason}")
        return self

    def stop(self) -> None:
        """Close the listening socket and open connections, then stop the loop thread."""
        if self._loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def serve_forever(self, ready: Callable[[], None] | None = None) -> None:
        """Serve on the current loop until cancelled (standalone mode).

        Args:
            ready: Called once the socket is bound and listening (a parent process waits for its signal, so it
                must not come before the bind).
        """
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024)
        if ready is not None:
            ready()
        async with server:
            await server.serve_forever()

    # ----------------------------------------------------------------- faults
    def choose_fault(self, body: dict[str, Any]) -> str:
        """Pick the fault for one request (script, then content marker, then random draw)."""
        if self.script:
            return self.script.popleft()
        marker = _MARKER.search(last_user_text(body))
        if marker:
            name, times = marker.group(1), marker.group(2)
            key = json.dumps(body.get("messages"), sort_keys=True)
            self._marker_counts[key] += 1
            if times is None or self._marker_counts[key] <= int(times):
                return name
            return "ok"
        if self.fault_rate and self._rng.random() < self.fault_rate:
            return self._rng.choice(self.fault_kinds)
        return "ok"

    # ----------------------------------------------------------------- HTTP
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                method, path, body = request
                keep_open = await self._respond(method, path, body, writer)
                if not keep_open:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # client went away, or the server is stopping: nothing to answer
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _respond(self, method: str, path: str, raw: bytes, writer: asyncio.StreamWriter) -> bool:
        if method == "GET" and path.rstrip("/") == "/stats":
            await _write(writer, 200, {"requests": len(self.requests), "in_flight": self.in_flight})
            return True
        if method == "GET" and path.rstrip("/").endswith("/models"):
            await _write(writer, 200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
            return True
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            await _write(writer, 404, {"error": {"message": f"no route {method} {path}"}})
            return True
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            await _write(writer, 400, {"error": {"message": "request body is not JSON"}})
            return True
        self.requests.append(body)
        fault = self.choose_fault(body)
        self.faults[fault] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency_s + (self.slow_s if fault == "slow" else 0.0))
            if fault == "hang":
                await asyncio.sleep(self.hang_s)
        finally:
            self.in_flight -= 1
        if fault == "reset":
            writer.transport.abort()
            return False
        if fault == "401_echo":
            authorization = (_HEADERS.get() or {}).get("authorization", "")
            token = authorization.partition(" ")[2] or authorization
            message = f"Incorrect API key provided: {token} (header 'Authorization: {authorization}')"
            await _write(writer, 401, {"error": {"message": message, "type": "invalid_request_error"}})
            return True
        if fault in ("400", "401", "429", "500", "503"):
            headers = {"Retry-After": "0"} if fault == "429" else {}
            await _write(writer, int(fault), {"error": {"message": f"injected {fault}"}}, headers)
            return True
        if fault == "invalid_json":
            await _write_raw(writer, 200, b'{"id": "x", "choices": [{"message": ')
            return True
        text = self.responder(body)
        await _write(writer, 200, _completion(body, text))
        return True


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes] | None:
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    _HEADERS.set(headers)
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    return method, path, body


async def _write(writer: asyncio.StreamWriter, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
    await _write_raw(writer, status, json.dumps(obj).encode(), headers)


async def _write_raw(
    writer: asyncio.StreamWriter, status: int, payload: bytes, headers: dict[str, str] | None = None
) -> None:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    head = (
        f"HTTP/1.1 {status} {_STATUS_TEXT.get(status, 'Status')}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n{extra}\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()


def main(argv: list[str] | None = None) -> None:
    """Standalone server (``python -m support.fake_openai_server``): the judge responder unless ``--responder``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang-s", type=float, default=30.0)
    parser.add_argument("--responder", choices=["judge", "echo", "curation"], default="judge")
    args = parser.parse_args(argv)
    responder: Responder = echo_responder
    if args.responder == "judge":
        from support.fake_judge import truthful_judge

        responder = truthful_judge
    elif args.responder == "curation":
        from support.fake_curation import curation_responder

        responder = curation_responder
    server = FakeOpenAIServer(
        responder,
        latency_s=args.latency_ms / 1000,
        fault_rate=args.fault_rate,
        seed=args.seed,
        hang_s=args.hang_s,
        port=args.port,
    )
    asyncio.run(server.serve_forever(ready=lambda: print(f"listening on {server.base_url}", flush=True)))


if __name__ == "__main__":
    main()
