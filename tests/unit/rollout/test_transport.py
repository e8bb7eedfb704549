"""The gateway's lean HTTP/1.1 transport against raw asyncio servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from dockyard.rollout.transport import LeanHTTPTransport
from support import free_port

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.Server, str, list[int]]:
    connections: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        await handler(reader, writer, len(connections))

    port = free_port()
    server = await asyncio.start_server(on_connect, "127.0.0.1", port)
    return server, f"http://127.0.0.1:{port}", connections


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def test_reuses_connections_and_retries_one_closed_while_idle() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        if n == 1:  # the first connection answers once, then dies without answering
            await read_request(reader)
            writer.close()
            return
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(OK)
            await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(handler)
        async with httpx.AsyncClient(transport=LeanHTTPTransport()) as client:
            answers = [await client.post(url + "/x", content=b"abc") for _ in range(4)]
        server.close()
        assert [r.text for r in answers] == ["ok"] * 4
        assert len(connections) == 2  # one reused, one replaced after the silent close

    asyncio.run(main())


def test_errors_are_httpx_errors() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        await asyncio.sleep(1)

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async def main() -> None:
        transport = LeanHTTPTransport()
        async with httpx.AsyncClient(transport=transport, timeout=0.2) as client:
            with pytest.raises(httpx.ConnectError, match="cannot connect"):
                await client.get(f"http://127.0.0.1:{free_port()}/")
            server, url, _ = await serve(silent)
            with pytest.raises(httpx.ReadTimeout):
                await client.get(url)
            server.close()
            server, url, _ = await serve(garbage)
            with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
                await client.get(url)
            server.close()

    asyncio.run(main())
