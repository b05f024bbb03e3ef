"""A lean plain-HTTP/1.1 keep-alive transport for the ``openai`` SDK's HTTP client (``http://`` endpoints).

Why: the SDK's default connection pool (httpcore) re-checks every pooled connection on every request, through
several layers of socket-attribute lookups. At 64 concurrent judge requests that bookkeeping, not the network,
dominated our client's CPU time (about 2 ms per request on the development machine), which made the judge
1.6-1.8 x slower than a minimal asyncio client against a 250 ms server. This transport keeps a plain LIFO list
of idle connections per host and speaks just HTTP/1.1 with ``Content-Length`` or chunked bodies: what vLLM,
SGLang and llama.cpp servers send. Everything else (auth headers, error mapping, the request/response
objects) stays the SDK's. ``https://`` URLs always use the SDK's default transport.

Kept over a maintained client because of ``benchmarks/bench_judge.py`` (1,024 judge requests, concurrency 64,
250 ms server latency; the same run times a minimal asyncio client, the lean transport, the SDK's default httpx
pool and the SDK's aiohttp client ``openai.DefaultAioHttpClient``, ``http_transport: aiohttp``). The rule: replace
this module if the aiohttp client stays within 1.15 x the minimal client. Measured on the shared 2-core development
machine (2026-11-26, four runs, niced, another job running; walls in seconds, ratio to the minimal client):

=====================  ==================  ==================  ==================  ==================
client                 run 1               run 2               run 3               run 4
=====================  ==================  ==================  ==================  ==================
minimal asyncio        4.47                4.60                4.27                4.31
lean (this module)     7.49 (1.67 x)       5.34 (1.16 x)       4.99 (1.17 x)       4.92 (1.14 x)
SDK aiohttp client     9.11 (2.04 x)       6.18 (1.34 x)       7.10 (1.66 x)       6.54 (1.52 x)
SDK default (httpx)    15.11 (3.38 x)      8.13 (1.77 x)       10.30 (2.41 x)      9.34 (2.17 x)
=====================  ==================  ==================  ==================  ==================

The aiohttp client never came within 1.15 x (1.34-2.04 x; 1.16-1.42 x the wall of this module in the same run),
so this module stays; ``http_transport: aiohttp`` remains available and the benchmark keeps comparing it.

Errors are raised as ``httpx2`` exceptions so that the SDK maps them as usual (timeouts to
``APITimeoutError``, the rest to ``APIConnectionError``). A connection is reused only after a complete
response; a cancelled or failed exchange closes it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2

_MAX_IDLE_PER_HOST = 512
_NO_BODY_STATUS = (204, 304)

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _NoResponse(Exception):
    """The server closed a connection before sending any byte of the response."""


class LeanAsyncTransport(httpx2.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 transport over asyncio streams (plain ``http://`` only).

    Args:
        connect_timeout_s: Bound on opening a TCP connection.
    """

    def __init__(self, connect_timeout_s: float = 10.0) -> None:
        self.connect_timeout_s = connect_timeout_s
        self._idle: dict[tuple[str, int], list[Conn]] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send ``request`` on an idle (or new) connection and return the complete response."""
        url = request.url
        if url.scheme != "http":
            raise httpx2.UnsupportedProtocol(f"LeanAsyncTransport only speaks http://, not {url.scheme}://")
        key = (url.host, url.port or 80)
        body = await request.aread()
        payload = _request_head(request, body) + body
        for attempt in (1, 2):
            conn, reused = await self._acquire(key, request)
            try:
                status, headers, content, keep = await _exchange(conn, payload)
            except _NoResponse as exc:
                conn[1].close()
                if reused and attempt == 1:  # a keep-alive connection the server had closed: try a fresh one
                    continue
                raise httpx2.RemoteProtocolError(str(exc), request=request) from None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                conn[1].close()
                raise httpx2.ReadError(f"{type(exc).__name__}: {exc}", request=request) from None
            except BaseException:  # cancelled (timeout): the connection state is unknown, never reuse it
                conn[1].close()
                raise
            if keep:
                idle = self._idle.setdefault(key, [])
                if len(idle) < _MAX_IDLE_PER_HOST:
                    idle.append(conn)
                else:
                    conn[1].close()
            else:
                conn[1].close()
            return httpx2.Response(status, headers=headers, content=content, request=request)
        raise AssertionError("unreachable")

    async def _acquire(self, key: tuple[str, int], request: httpx2.Request) -> tuple[Conn, bool]:
        idle = self._idle.get(key, [])
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return (reader, writer), True
            writer.close()
        try:
            conn = await asyncio.wait_for(asyncio.open_connection(key[0], key[1]), self.connect_timeout_s)
        except asyncio.TimeoutError:
            raise httpx2.ConnectTimeout(f"connecting to {key[0]}:{key[1]} timed out", request=request) from None
        except OSError as exc:
            raise httpx2.ConnectError(f"cannot connect to {key[0]}:{key[1]}: {exc}", request=request) from None
        return conn, False

    async def aclose(self) -> None:
        """Close every idle connection."""
        for conns in self._idle.values():
            for _, writer in conns:
                writer.close()
        self._idle.clear()


def _request_head(request: httpx2.Request, body: bytes) -> bytes:
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), request.url.raw_path)]
    names = set()
    for name, value in request.headers.raw:
        names.add(name.lower())
        lines.append(name + b": " + value)
    if b"host" not in names:
        lines.append(b"Host: " + request.url.netloc)
    if b"content-length" not in names and b"transfer-encoding" not in names:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _exchange(conn: Conn, payload: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    """Send one request and read the whole response: (status, headers, body, keep_alive)."""
    reader, writer = conn
    writer.write(payload)
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise _NoResponse("server closed the connection without a response") from None
        raise
    lines = head[:-4].split(b"\r\n")
    version, status_text = lines[0].split(b" ", 1)
    status = int(status_text[:3])
    pairs = (line.split(b":", 1) for line in lines[1:] if b":" in line)
    headers = [(name.strip(), value.strip()) for name, value in pairs]
    fields = {name.lower(): value for name, value in headers}
    keep = version == b"HTTP/1.1" and fields.get(b"connection", b"").lower() != b"close"
    if status in _NO_BODY_STATUS or 100 <= status < 200:
        content = b""
    elif fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        content = await _read_chunked(reader)
    elif b"content-length" in fields:
        content = await reader.readexactly(int(fields[b"content-length"]))
    else:
        content, keep = await reader.read(), False  # body delimited by connection close
    # The body is already decoded from the transfer encoding: do not let the client decode it again.
    headers = [(n, v) for n, v in headers if n.lower() != b"transfer-encoding"]
    return status, headers, content, keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def lean_http_client(timeout_s: float, **kwargs: Any) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` on :class:`LeanAsyncTransport`, ready to pass as the SDK's ``http_client``."""
    return httpx2.AsyncClient(transport=LeanAsyncTransport(), timeout=timeout_s, **kwargs)
