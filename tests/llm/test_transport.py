"""LeanAsyncTransport: HTTP/1.1 framing variants and connection reuse, against a scripted raw socket server."""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest

from perception_r1.llm.transport import LeanAsyncTransport

BODY = json.dumps({"choices": [{"message": {"content": "hi"}}]}).encode()


def reply(kind: str) -> bytes:
    if kind == "length":
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
    if kind == "chunked":
        half = len(BODY) // 2
        chunks = b"%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (
            half,
            BODY[:half],
            len(BODY) - half,
            BODY[half:],
        )
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
    if kind == "close":
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY  # body delimited by closing
    if kind == "http10":
        return b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
    raise ValueError(kind)


async def serve(script: list[str]):
    """Answer each request with the next scripted kind; 'drop' closes without replying; 'length+close' replies
    and then closes the (keep-alive) connection, like a server whose idle timeout expired."""
    connections = []

    async def handle(reader, writer):
        connections.append(1)
        while script:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = int(
                next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
            )
            await reader.readexactly(length)
            kind = script.pop(0)
            if kind == "drop":
                break
            writer.write(reply(kind.split("+")[0]))
            await writer.drain()
            if kind.endswith("+close") or kind in ("close", "http10"):
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], connections


@pytest.mark.parametrize(
    ("script", "n_requests", "connections"),
    [
        (["length", "length", "length"], 3, 1),  # keep-alive: one connection for all requests
        (["chunked", "chunked"], 2, 1),  # chunked bodies with extensions and trailers, then reuse
        (["close", "length"], 2, 2),  # Connection: close -> the next request opens a new connection
        (["http10", "length"], 2, 2),  # HTTP/1.0 reply is not kept alive
        (["length+close", "length"], 2, 2),  # server closed an idle keep-alive connection: silently reconnect
    ],
)
def test_framing_and_reuse(script, n_requests, connections):
    async def go():
        server, port, conns = await serve(list(script))
        async with server, httpx2.AsyncClient(transport=LeanAsyncTransport()) as client:
            texts = []
            for _ in range(n_requests):
                response = await client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"x": 1})
                texts.append(response.json()["choices"][0]["message"]["content"])
                await asyncio.sleep(0.05)  # let a closing server's FIN arrive before the next request
            return texts, len(conns)

    texts, opened = asyncio.run(go())
    assert texts == ["hi"] * n_requests
    assert opened == connections


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://127.0.0.1:9/v1/x", httpx2.ConnectError),  # nothing listens
        ("https://127.0.0.1:9/v1/x", httpx2.UnsupportedProtocol),  # TLS is left to the SDK's transport
    ],
)
def test_errors_are_httpx_errors(url, error):
    async def go():
        async with httpx2.AsyncClient(transport=LeanAsyncTransport()) as client:
            await client.post(url, json={})

    with pytest.raises(error):
        asyncio.run(go())


def test_fresh_connection_dropped_without_reply_is_a_protocol_error():
    async def go():
        server, port, _ = await serve(["drop"])
        async with server, httpx2.AsyncClient(transport=LeanAsyncTransport()) as client:
            await client.post(f"http://127.0.0.1:{port}/v1/x", json={})

    with pytest.raises(httpx2.RemoteProtocolError, match="without a response"):
        asyncio.run(go())
