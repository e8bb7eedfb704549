"""A lean keep-alive HTTP/1.1 transport for the gateway's shared ``httpx.AsyncClient``.

httpx's default pool (httpcore) costs more CPU per request than the small model service
it fronts, and degrades as concurrency grows (encode/httpx#3215): at concurrency 16 it
held the gateway to a fifth of the upstream's throughput on a 2-core machine. This
transport keeps httpx as the client API (requests, responses, exceptions, timeouts) and
replaces only the wire: one ``asyncio.Protocol`` per connection, responses parsed by
``httptools`` (llhttp, the parser uvicorn uses), idle connections reused last-in
first-out and dropped before the server's keep-alive timeout.

Plain ``http://`` only; ``https://`` requests go to httpx's own transport. Without
``httptools`` installed, :func:`default_transport` returns httpx's transport.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import httpx

try:
    import httptools
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
    httptools = None

__all__ = ["LeanHTTPTransport", "default_transport"]


class _Stale(Exception):
    """A reused connection was closed by the server before it answered."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[None] | None = None
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.received = False
        self.keep_alive = False
        self.head = False
        self.closed = False
        self.idle_since = 0.0

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # pragma: no cover - we never ask to upgrade
            self._fail(httpx.RemoteProtocolError("unexpected protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            if not self.received:
                self.waiter.set_exception(_Stale())
            else:
                self.waiter.set_exception(
                    httpx.RemoteProtocolError("the server closed the connection mid-response")
                )

    # -- httptools callbacks --

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.head:  # no body follows a HEAD answer; the parser cannot know that
            self.keep_alive = False
            self._done()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.status < 200:  # 1xx interim answer: the real one follows
            self.headers, self.body = [], []
            return
        self.keep_alive = self.parser.should_keep_alive()
        self._done()

    # -- use --

    def _done(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.close()

    def _timed_out(self) -> None:
        self._fail(httpx.ReadTimeout("the server did not answer in time"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, payload: bytes, timeout: float | None, head: bool) -> None:
        self.status, self.headers, self.body = 0, [], []
        self.received, self.keep_alive, self.head = False, False, head
        self.waiter = self.loop.create_future()
        self.transport.write(payload)  # type: ignore[union-attr]
        timer = self.loop.call_later(timeout, self._timed_out) if timeout else None
        try:
            await self.waiter
        finally:
            if timer is not None:
                timer.cancel()
            self.waiter = None


class LeanHTTPTransport(httpx.AsyncBaseTransport):
    """A pooled HTTP/1.1 transport for ``httpx.AsyncClient(transport=...)``.

    Args:
        max_connections: Open connections at most, over all hosts; a request past the
            limit waits (up to the client's pool timeout).
        max_idle: Idle keep-alive connections kept per host.
        keepalive_expiry: Seconds an idle connection is trusted; keep it below the
            server's keep-alive timeout (uvicorn's default is 5 s).
    """

    def __init__(
        self, *, max_connections: int = 256, max_idle: int = 256, keepalive_expiry: float = 4.0
    ) -> None:
        if httptools is None:  # pragma: no cover
            raise RuntimeError("LeanHTTPTransport needs httptools (pip install httptools)")
        self._idle: dict[tuple[bytes, int], deque[_Connection]] = {}
        self._limit = asyncio.Semaphore(max_connections)
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._fallback: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            if self._fallback is None:
                self._fallback = httpx.AsyncHTTPTransport()
            return await self._fallback.handle_async_request(request)
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        key = (url.raw_host, url.port or 80)
        payload = _serialize(request)
        head = request.method == "HEAD"
        try:
            await asyncio.wait_for(self._limit.acquire(), timeouts.get("pool"))
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in time", request=request) from None
        try:
            for attempt in range(2):
                conn, reused = await self._checkout(key, timeouts.get("connect"), request)
                try:
                    await conn.exchange(payload, timeouts.get("read"), head)
                except _Stale:
                    conn.close()
                    if reused and attempt == 0:
                        continue  # the server had closed it while idle; it saw nothing
                    raise httpx.RemoteProtocolError(
                        "the server closed the connection without answering", request=request
                    ) from None
                except httpx.TransportError as exc:
                    conn.close()
                    exc.request = request
                    raise
                except BaseException:  # cancelled mid-request: the connection is unusable
                    conn.close()
                    raise
                response = httpx.Response(
                    conn.status,
                    headers=conn.headers,
                    content=b"".join(conn.body),
                    extensions={"http_version": b"HTTP/1.1"},
                    request=request,
                )
                self._checkin(key, conn)
                return response
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._limit.release()

    async def _checkout(
        self, key: tuple[bytes, int], connect_timeout: float | None, request: httpx.Request
    ) -> tuple[_Connection, bool]:
        idle = self._idle.get(key)
        if idle:
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if not conn.closed and now - conn.idle_since < self._expiry:
                    return conn, True
                conn.close()
        loop = asyncio.get_running_loop()
        host = key[0].decode("ascii")
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(loop), host, key[1]),
                connect_timeout,
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"connecting to {host}:{key[1]} timed out", request=request
            ) from None
        except OSError as exc:
            raise httpx.ConnectError(
                f"cannot connect to {host}:{key[1]}: {exc}", request=request
            ) from None
        return conn, False

    def _checkin(self, key: tuple[bytes, int], conn: _Connection) -> None:
        if not conn.keep_alive or conn.closed:
            conn.close()
            return
        idle = self._idle.setdefault(key, deque())
        if len(idle) >= self._max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        if self._fallback is not None:
            await self._fallback.aclose()


def _serialize(request: httpx.Request) -> bytes:
    parts = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    parts.append(request.content)
    return b"".join(parts)


def default_transport(max_connections: int) -> httpx.AsyncBaseTransport | None:
    """The lean transport when httptools is installed, else None (httpx's own)."""
    if httptools is None:  # pragma: no cover
        return None
    return LeanHTTPTransport(max_connections=max_connections, max_idle=max_connections)
