"""The gateway's transport to its backends (one shared aiohttp client) on the wire.

The gateway forwards over aiohttp's client, which replaced a hand-written HTTP/1.1
transport (see ``dockyard.rollout.gateway``). These tests hold the client, as the gateway
configures it, to what that transport guaranteed: each drives the gateway's ASGI app
against a raw asyncio server on 127.0.0.1 that counts its connections, so a test can see
whether a connection was reused, replaced or dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from dockyard.rollout import Backend, RolloutMetrics, RouteTable, RouteTableRef
from dockyard.rollout import gateway as gateway_module
from dockyard.rollout.gateway import create_gateway_app
from support import free_port

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def serve(handler: Handler, host: str = "127.0.0.1") -> tuple[asyncio.Server, str, list[int]]:
    """A server calling ``handler(reader, writer, n)`` for its n-th connection (from 1)."""
    connections: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        try:
            await handler(reader, writer, len(connections))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the gateway closed the connection: what some tests check for
        finally:
            writer.close()

    port = free_port()
    server = await asyncio.start_server(on_connect, host, port)
    return server, f"http://{host}:{port}", connections


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One whole request (head and body) as the gateway sent it."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


async def answer_all(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    while True:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()


@asynccontextmanager
async def gateway(url: str, **options: object) -> AsyncIterator[httpx.AsyncClient]:
    """A client for a gateway whose only backend (version "1") is ``url``."""
    table = RouteTableRef(RouteTable(stable=Backend("1", url)))
    app = create_gateway_app(table, RolloutMetrics(), **options)  # type: ignore[arg-type]
    await app.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client
    finally:
        await app.shutdown()


def test_reuses_connections_and_resends_a_post_on_one_closed_while_idle() -> None:
    # Why: a backend may close an idle connection just as the gateway reuses it. The
    # backend saw nothing, so the request must go out again on a new connection, POST
    # included (aiohttp alone resends only idempotent methods).
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        if n == 1:  # the first connection answers once, then dies without answering
            await read_request(reader)
            return
        await answer_all(reader, writer, n)

    async def main() -> None:
        server, url, connections = await serve(handler)
        async with gateway(url) as client:
            answers = [await client.post("/x", content=b"abc") for _ in range(4)]
        server.close()
        assert [(r.status_code, r.text) for r in answers] == [(200, "ok")] * 4
        assert len(connections) == 2  # one reused, one replaced after the silent close

    asyncio.run(main())


def test_failures_become_502_or_504_naming_the_cause() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        await asyncio.sleep(1)

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)  # then closes, on every connection

    async def main() -> None:
        async with gateway(f"http://127.0.0.1:{free_port()}") as client:
            refused = await client.get("/")
        answers = {}
        for name, handler in (("silent", silent), ("garbage", garbage), ("hangs_up", hangs_up)):
            server, url, _ = await serve(handler)
            async with gateway(url, timeout_s=0.2) as client:
                answers[name] = await client.post("/predict", content=b"{}")
            server.close()
        assert refused.status_code == 502
        assert "ClientConnectorError: Cannot connect" in refused.json()["error"]
        assert answers["silent"].status_code == 504  # answered nothing in time
        assert "SocketTimeoutError after 0.2s" in answers["silent"].json()["error"]
        assert answers["garbage"].status_code == 502
        assert "ClientResponseError" in answers["garbage"].json()["error"]
        assert answers["hangs_up"].status_code == 502
        assert "ServerDisconnectedError" in answers["hangs_up"].json()["error"]

    asyncio.run(main())


def test_a_head_answer_has_no_body_and_the_connection_stays_usable() -> None:
    # Why: a HEAD answer announces the length of a body that never comes. A client that
    # waited for it would hang; one that left the connection expecting it would read the
    # next answer as that body.
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            request = await read_request(reader)
            if request.startswith(b"HEAD "):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\nx-model-version: 1\r\n\r\n")
            else:
                writer.write(OK)
            await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(handler)
        async with gateway(url, timeout_s=2.0) as client:
            head = await client.head("/echo")
            after = await client.get("/echo")
        server.close()
        assert head.status_code == 200 and head.content == b""
        assert head.headers["x-model-version"] == "1"
        assert after.text == "ok"
        assert len(connections) == 1

    asyncio.run(main())


def test_a_chunked_answer_is_read_whole_and_sent_on_with_its_length() -> None:
    parts = [b"part0;", b"part1;" * 1000, b"part2;"]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in parts:
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)  # chunks arrive in separate reads
        writer.write(b"0\r\n\r\n")
        await answer_all(reader, writer, n)

    async def main() -> None:
        server, url, connections = await serve(handler)
        async with gateway(url) as client:
            streamed = await client.get("/stream")
            after = await client.get("/stream")
        server.close()
        assert streamed.content == b"".join(parts)
        assert streamed.headers["content-length"] == str(len(b"".join(parts)))
        assert "transfer-encoding" not in streamed.headers
        assert after.text == "ok" and len(connections) == 1  # reused after the last chunk

    asyncio.run(main())


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    # Why: servers close idle keep-alive connections (uvicorn after 5 s); the request
    # after the pause must go out on a new connection, without an error.
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        try:  # a 0.1 s keep-alive timeout
            await asyncio.wait_for(read_request(reader), 0.1)
        except TimeoutError:
            return
        writer.write(OK)
        await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(handler)
        async with gateway(url) as client:
            first = await client.post("/predict", content=b"{}")
            await asyncio.sleep(0.4)
            second = await client.post("/predict", content=b"{}")
        server.close()
        assert [first.text, second.text] == ["ok", "ok"]
        assert len(connections) == 2

    asyncio.run(main())


def test_an_idle_connection_is_not_reused_after_the_keepalive_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Why: the gateway drops idle connections before the server would (4 s against
    # uvicorn's 5 s), so it never writes to one the server is closing at that moment.
    monkeypatch.setattr(gateway_module, "_KEEPALIVE_S", 0.2)

    async def main() -> None:
        server, url, connections = await serve(answer_all)
        async with gateway(url) as client:
            await client.get("/")
            await client.get("/")  # within the expiry: same connection
            await asyncio.sleep(0.5)
            late = await client.get("/")
        server.close()
        assert late.text == "ok"
        assert len(connections) == 2

    asyncio.run(main())


def test_pool_timeout_when_every_connection_is_busy() -> None:
    # Why: past max_connections a request waits for a free connection, but not forever:
    # after the timeout it fails with a 502 that says why, while the busy one finishes.
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(12):  # 1.2 s in all; never silent for the 0.3 s read timeout
            writer.write(b"1\r\nx\r\n")
            await writer.drain()
            await asyncio.sleep(0.1)
        writer.write(b"0\r\n\r\n")
        await answer_all(reader, writer, n)

    async def main() -> None:
        server, url, connections = await serve(trickle)
        async with gateway(url, max_connections=1, timeout_s=0.3) as client:
            busy = asyncio.ensure_future(client.get("/slow"))
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            waited = await client.get("/fast")
            elapsed = time.perf_counter() - started
            slow = await busy
        server.close()
        assert waited.status_code == 502
        assert "no connection within 0.3s: all max_connections=1 busy" in waited.json()["error"]
        assert 0.25 <= elapsed < 1.1  # the pool timeout, not the busy answer's end
        assert slow.status_code == 200 and slow.content == b"x" * 12
        assert len(connections) == 1

    asyncio.run(main())


def test_a_cancelled_request_leaves_no_broken_connection_in_the_pool() -> None:
    # Why: a request cancelled mid-answer (a client gone, a shadow copy stopped at
    # shutdown) leaves its connection with an answer still coming; reused, that answer
    # would be read as the next request's.
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            request = await read_request(reader)
            if request.startswith(b"GET /slow "):
                await asyncio.sleep(0.3)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate")
            else:
                writer.write(OK)
            await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(handler)
        async with gateway(url) as client:
            cancelled = asyncio.ensure_future(client.get("/slow"))
            await asyncio.sleep(0.1)
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            after = [(await client.get("/fast")).text]
            await asyncio.sleep(0.4)  # past the moment the late answer was written
            after.append((await client.get("/fast")).text)
        server.close()
        assert after == ["ok", "ok"]
        assert len(connections) == 2  # the cancelled one was closed, not pooled

    asyncio.run(main())


def test_a_backends_cookies_never_reach_other_clients() -> None:
    # Why: the gateway's client is shared by every caller; a cookie jar in it would send
    # one user's session cookie, set by a backend, with the next user's request.
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            request = await read_request(reader)
            cookies = [
                line for line in request.split(b"\r\n") if line.lower().startswith(b"cookie:")
            ]
            seen.append(b"; ".join(cookies))
            writer.write(
                b"HTTP/1.1 200 OK\r\nset-cookie: session=alice\r\ncontent-length: 0\r\n\r\n"
            )
            await writer.drain()

    async def main() -> None:
        # By host name: aiohttp's own cookie jar would ignore cookies from an IP address.
        server, url, _ = await serve(handler, "localhost")
        async with gateway(url) as client:
            first = await client.get("/")
            client.cookies.clear()  # the next caller is someone else
            await client.get("/")
            await client.get("/", headers={"cookie": "mine=1"})
        server.close()
        assert first.headers["set-cookie"] == "session=alice"  # passed on to its caller
        assert seen == [b"", b"", b"cookie: mine=1"]

    asyncio.run(main())


def test_the_path_and_query_go_to_the_backend_byte_for_byte() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            seen.append((await read_request(reader)).split(b"\r\n")[0])
            writer.write(OK)
            await writer.drain()

    async def main() -> None:
        server, url, _ = await serve(handler)
        async with gateway(url) as client:
            await client.get("/v2/models/a%2Fb/%7e/infer?x=%20y&z=%2B&q=%3d")
        server.close()
        assert seen == [b"GET /v2/models/a%2Fb/%7e/infer?x=%20y&z=%2B&q=%3d HTTP/1.1"]

    asyncio.run(main())
