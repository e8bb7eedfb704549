"""The rollout gateway: the one endpoint clients call while versions change behind it.

A lean ASGI app (no framework: this path is benchmarked) that forwards any method and
path (``/predict``, ``/v2/...``) with its body and end-to-end headers to the backend the
current :class:`~dockyard.rollout.routing.RouteTable` chooses, over one shared
``aiohttp.ClientSession`` with keep-alive pooling, and copies back the status, body and
headers, adding ``x-dockyard-backend: <version>``.

- **Routing** asks ``table_provider()`` on every request, so a weight change, a promote
  or an abort takes effect on the next request.
- **Failover**: when the chosen version answers 5xx or cannot be reached, the same
  request is retried once on the other live version (candidate to stable, and stable to a
  candidate taking traffic); the failure still counts against the first. Errors are
  5xx answers and no answer at all (refused, reset, timed out): a 4xx is the client's
  and never counts against a version.
- **Shadow**: a copy of the request (marked ``x-dockyard-shadow: 1``) goes to the shadow
  backend in a background task the client never waits for (at most ``max_mirrors`` in
  flight; extra copies are dropped and counted); its latency, errors, predictions and
  agreement with the client's answer are recorded.
- **Metrics** per version go to a :class:`~dockyard.rollout.metrics.RolloutMetrics`.

Its own routes, never forwarded:

=====================================  =================================================
``GET /gateway/health``                liveness, and the versions and weights (public)
=====================================  =================================================

and its **control plane**, which answers only on a Unix socket (the deployment's
``gateway.sock``, mode 0600) and only with ``Authorization: Bearer <control token>`` (the
per-deployment secret generated at deploy time and kept in the deployment store): on the
public TCP listener these routes do not exist (404), so whoever reaches the port can send
requests but never steer them::

    GET  /gateway/metrics          this window's figures per version (?scores=1 adds the
                                   score samples)
    POST /gateway/metrics/rotate   close the window, start the next; returns the closed one
    GET  /gateway/routes           the current table
    PUT  /gateway/routes           replace it (when the provider has ``set``)
    POST /gateway/stop             stop serving (the deployment is going down)

Only the controller holds the token, so only it can move traffic or reset the analysis
window it judges. A route table can only come from it, so a client's credentials are
forwarded only to the deployment's own serve processes.

Why aiohttp's client: httpx's default pool held this gateway to a fifth of its
upstream's throughput (encode/httpx#3215); a hand-written HTTP/1.1 transport under httpx
fixed that, at the cost of a parser and pool of our own. Measured against it by
``benchmarks/bench_gateway.py --baseline c670723`` (five runs, 2 CPUs, concurrency 16),
aiohttp's client gave 0.97-1.33x its req/s for 0.73-0.80x the gateway's CPU per request;
mounted under httpx instead it gave 0.62-0.87x, as httpx's client alone costs ~200 us a
request there. Figures: ``benchmarks/README.md``, Gateway. The session keeps no cookies
(``DummyCookieJar``): httpx's client stored a backend's ``set-cookie`` and sent it with
later requests of other clients.

Example::

    ref = RouteTableRef(RouteTable(stable=Backend("3", "http://127.0.0.1:8001")))
    app = create_gateway_app(ref, RolloutMetrics())
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

import aiohttp
import yarl  # aiohttp's URL type, installed with it

from dockyard.errors import RolloutError
from dockyard.rollout.metrics import RolloutMetrics, prediction_label
from dockyard.rollout.routing import Backend, RouteTable

try:  # orjson is part of the serving extra; fall back to the standard library
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
    _dumps: Callable[[Any], bytes] = orjson.dumps
except ImportError:  # pragma: no cover - exercised only without the serving extra
    import json

    _loads = json.loads

    def _dumps(value: Any) -> bytes:
        return json.dumps(value).encode()


__all__ = ["GatewayApp", "agreement", "create_gateway_app", "extract_predictions"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
TableProvider = Callable[[], RouteTable]

# Hop-by-hop headers (RFC 9110 7.6.1) and the ones the client library sets itself.
_DROP_REQUEST = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
# The body is handed back decoded, so content-encoding no longer applies.
_DROP_RESPONSE = _DROP_REQUEST | {b"content-encoding", b"date", b"server"}
_JSON = [(b"content-type", b"application/json")]
_BACKEND_HEADER = b"x-dockyard-backend"
_SHADOW_HEADER = (b"x-dockyard-shadow", b"1")
_V2_BINARY_HEADER = "inference-header-content-length"
# Idle connections are dropped before uvicorn's default 5 s keep-alive closes them.
_KEEPALIVE_S = 4.0
# aiohttp resends these itself when a reused connection turns out closed (RFC 9110 9.2.2).
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


# --- predictions ------------------------------------------------------------------------


def extract_predictions(path: str, body: bytes, headers: Mapping[str, str] | None = None) -> Any:
    """The predictions in a successful ``/predict`` or V2 ``.../infer`` answer, or None.

    ``/predict`` answers carry ``predictions``; V2 answers carry ``outputs[0].data``
    (rows of a 2-D output are regrouped so each row counts as one prediction). With the
    V2 binary extension only the JSON header is read; binary outputs are skipped.
    ``headers`` are the answer's, looked up case-insensitively (as aiohttp's are).
    """
    try:
        if path.endswith("/predict"):
            data = _loads(body)
            return data.get("predictions") if isinstance(data, dict) else None
        if path.endswith("/infer"):
            if headers is not None and _V2_BINARY_HEADER in headers:
                body = body[: int(headers[_V2_BINARY_HEADER])]
            data = _loads(body)
            output = data["outputs"][0]
            values = output.get("data")
            if not isinstance(values, list):
                return None
            shape: Sequence[int] = output.get("shape") or ()
            if len(shape) == 2 and shape[1] > 1 and len(values) == shape[0] * shape[1]:
                width = shape[1]
                return [values[i : i + width] for i in range(0, len(values), width)]
            return values
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    return None


def agreement(primary: Sequence[Any] | None, shadow: Sequence[Any] | None) -> tuple[int, int]:
    """``(agreed, compared)`` predictions between the client's answer and the shadow's."""
    if not isinstance(primary, list) or not isinstance(shadow, list):
        return 0, 0
    agreed = 0
    for a, b in zip(primary, shadow, strict=False):
        la, lb = prediction_label(a), prediction_label(b)
        if la == lb or (
            isinstance(la, float)
            and isinstance(lb, float)
            and math.isclose(la, lb, rel_tol=1e-6, abs_tol=1e-9)
        ):
            agreed += 1
    return agreed, max(len(primary), len(shadow))


# --- the app ----------------------------------------------------------------------------


class _Answer:
    __slots__ = (
        "backend",
        "body",
        "error",
        "headers",
        "latency_ms",
        "predictions",
        "status",
        "timed_out",
    )

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.status = 502
        self.body = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.error: str | None = None  # set when there was no HTTP answer at all
        self.timed_out = False
        self.latency_ms: float | None = None
        self.predictions: Any = None

    @property
    def failed(self) -> bool:
        return self.error is not None or self.status >= 500


class GatewayApp:
    """The gateway ASGI app; build it with :func:`create_gateway_app`."""

    def __init__(
        self,
        table_provider: TableProvider,
        metrics: RolloutMetrics,
        *,
        failover: bool = True,
        timeout_s: float = 30.0,
        max_mirrors: int = 64,
        max_connections: int = 256,
        max_body_bytes: int = 64 * 1024 * 1024,
        control_token: str | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        if not callable(table_provider):
            raise RolloutError(
                "table_provider must be a callable returning the current RouteTable "
                f"(e.g. a RouteTableRef); got {table_provider!r}."
            )
        if timeout_s <= 0 or max_mirrors < 0 or max_connections < 1:
            raise RolloutError(
                "timeout_s must be > 0, max_mirrors >= 0 and max_connections >= 1; got "
                f"{timeout_s!r}, {max_mirrors!r}, {max_connections!r}."
            )
        self.table_provider = table_provider
        self.metrics = metrics
        self.failover = failover
        self.timeout_s = timeout_s
        self.max_mirrors = max_mirrors
        self.max_connections = max_connections
        self.max_body_bytes = max_body_bytes
        self.control_token = control_token
        self.on_stop = on_stop
        self._session: aiohttp.ClientSession | None = None
        self._mirrors: set[asyncio.Task[None]] = set()
        self.mirrors_dropped = 0
        self._turn = 0

    # -- lifecycle --

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self.max_connections, keepalive_timeout=_KEEPALIVE_S
            ),
            # connect: waiting for a free pooled connection plus opening one;
            # sock_read: the longest silence while an answer is awaited or read.
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=self.timeout_s,
                sock_connect=min(self.timeout_s, 5.0),
                sock_read=self.timeout_s,
            ),
            # Never keep a backend's set-cookie: it would go out with other clients' requests.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        # Created in the lifespan; lazily as well (on the running loop, which aiohttp
        # needs) for servers that skip the lifespan.
        if self._session is None:
            self._session = self._new_session()
        return self._session

    async def startup(self) -> None:
        if self._session is None:
            self._session = self._new_session()

    async def shutdown(self) -> None:
        if self._mirrors:
            await asyncio.wait(set(self._mirrors), timeout=1.0)
            for task in self._mirrors:
                task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # pragma: no cover - client creation failing
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- ASGI entry --

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if path.startswith("/gateway/"):
                await self._own_route(scope, receive, send)
            elif not path.startswith("/"):  # e.g. "OPTIONS *": nothing to forward
                await _json(send, 400, {"error": f"request target must be a path, got {path!r}"})
            else:
                await self._proxy(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        # websockets are not proxied; the server closes them

    # -- proxying --

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await self._read_body(receive, send)
        if body is None:
            return
        table = self.table_provider()
        headers = []
        sticky_key = None
        sticky = table.sticky_header.encode("latin-1") if table.sticky_header else None
        for name, value in scope["headers"]:
            if name in _DROP_REQUEST:
                continue
            if name == sticky:
                sticky_key = value.decode("latin-1")
            headers.append((name, value))

        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        method = scope["method"]
        path = scope["path"]
        parse = method == "POST"

        backend = table.choose(sticky_key)
        url = self._pick(backend)
        answer = await self._forward(backend, method, target, path, headers, body, parse, url)
        if answer.failed and len(backend.urls) > 1:
            # Another process of the same version first (a crashed replica restarts behind
            # it); the failure still counts against the version.
            self.metrics.record(backend.version, latency_ms=answer.latency_ms, error=True)
            url = backend.urls[(backend.urls.index(url) + 1) % len(backend.urls)]
            answer = await self._forward(backend, method, target, path, headers, body, parse, url)
        fallback = table.fallback(backend) if self.failover and answer.failed else None
        self.metrics.record(
            backend.version,
            latency_ms=answer.latency_ms,
            error=answer.failed,
            predictions=answer.predictions,
            failover=fallback is not None,
        )
        if fallback is not None:
            # Inference answers have no side effects, so the request is retried once on
            # the other live version; the failure still counts against the first.
            answer = await self._forward(
                fallback, method, target, path, headers, body, parse, self._pick(fallback)
            )
            self.metrics.record(
                fallback.version,
                latency_ms=answer.latency_ms,
                error=answer.failed,
                predictions=answer.predictions,
            )

        shadow = table.shadow
        if shadow is not None and table.should_mirror():
            self._start_mirror(shadow, method, target, path, headers, body, answer)

        if answer.error is not None:
            status = 504 if answer.timed_out else 502
            payload = _dumps(
                {
                    "error": f"version {answer.backend.version} at {answer.backend.url} "
                    f"did not answer: {answer.error}"
                }
            )
            out_headers = [*_JSON, (_BACKEND_HEADER, answer.backend.version.encode())]
            await _respond(send, status, out_headers, payload)
            return
        answer.headers.append((_BACKEND_HEADER, answer.backend.version.encode()))
        await _respond(send, answer.status, answer.headers, answer.body)

    async def _forward(
        self,
        backend: Backend,
        method: str,
        target: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        parse: bool,
        base_url: str | None = None,
    ) -> _Answer:
        answer = _Answer(backend)
        # encoded=True: the client's path and query go out byte for byte, never requoted.
        url = yarl.URL((base_url or backend.url) + target, encoded=True)
        out = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
        started = time.perf_counter()
        try:
            response, answer.body = await self._send(method, url, out, body)
        except TimeoutError as exc:  # aiohttp's timeouts subclass it
            answer.latency_ms = (time.perf_counter() - started) * 1000.0
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                answer.error = (
                    f"no connection within {self.timeout_s:g}s: all max_connections="
                    f"{self.max_connections} busy, or the backend accepted none"
                )
            else:
                answer.error = f"{type(exc).__name__} after {self.timeout_s:g}s"
                answer.timed_out = True
            return answer
        except (aiohttp.ClientError, OSError) as exc:
            answer.error = f"{type(exc).__name__}: {exc}"
            return answer
        answer.latency_ms = (time.perf_counter() - started) * 1000.0
        answer.status = response.status
        answer.headers = [
            (name.lower(), value)
            for name, value in response.raw_headers
            if name.lower() not in _DROP_RESPONSE
        ]
        if parse and response.status == 200:
            answer.predictions = extract_predictions(path, answer.body, response.headers)
        return answer

    async def _send(
        self, method: str, url: yarl.URL, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        # A reused connection the backend closed while it sat idle fails before any
        # answer. aiohttp resends only idempotent requests then; the gateway resends the
        # others once too, as its hand-written transport did: the backend saw nothing,
        # and model services answer POST /predict without side effects.
        for attempt in (0, 1):
            try:
                async with self.session.request(
                    method, url, data=body or None, headers=headers, allow_redirects=False
                ) as response:
                    content = await response.read()
            except aiohttp.ClientConnectorError:
                raise
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                if attempt or method in _IDEMPOTENT:
                    raise
                continue
            return response, content  # status and headers outlive the connection's release
        raise AssertionError("unreachable")  # pragma: no cover

    def _pick(self, backend: Backend) -> str:
        """Round-robin over a version's processes."""
        urls = backend.urls
        if len(urls) == 1:
            return urls[0]
        self._turn += 1
        return urls[self._turn % len(urls)]

    # -- shadow --

    def _start_mirror(
        self,
        shadow: Backend,
        method: str,
        target: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        primary: _Answer,
    ) -> None:
        if len(self._mirrors) >= self.max_mirrors:
            self.mirrors_dropped += 1  # never queue: a slow shadow must not pile up work
            return
        task = asyncio.ensure_future(
            self._mirror(shadow, method, target, path, headers, body, primary.predictions)
        )
        self._mirrors.add(task)
        task.add_done_callback(self._mirrors.discard)

    async def _mirror(
        self,
        shadow: Backend,
        method: str,
        target: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        primary_predictions: Any,
    ) -> None:
        # Marked, so a shadow service can skip side effects (emails, writes) of its own.
        headers = [*headers, _SHADOW_HEADER]
        answer = await self._forward(
            shadow, method, target, path, headers, body, True, self._pick(shadow)
        )
        agreed, compared = agreement(primary_predictions, answer.predictions)
        self.metrics.record_shadow(
            shadow.version,
            latency_ms=answer.latency_ms,
            error=answer.failed,
            predictions=answer.predictions,
            agreed=agreed,
            compared=compared,
        )

    # -- own routes --

    async def _own_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"].rstrip("/")
        if path == "/gateway/health":
            if method != "GET":
                await _respond(
                    send,
                    405,
                    [*_JSON, (b"allow", b"GET")],
                    _dumps({"error": f"{method} is not allowed on {path}"}),
                )
                return
            table = self.table_provider()
            versions = {b.version: 0.0 for b in table.backends()}
            versions[table.stable.version] = 100.0 - (table.weight if table.candidate else 0.0)
            if table.candidate is not None:
                versions[table.candidate.version] = table.weight
            await _json(send, 200, {"status": "ok", "weights": versions})
            return
        allowed = _CONTROL_ROUTES.get(path)
        if allowed is None or not _over_unix_socket(scope):
            await _json(send, 404, {"error": f"no gateway route {path}"})
            return
        if not await self._authorized(scope, send):
            return
        if method not in allowed:
            await _respond(
                send,
                405,
                [*_JSON, (b"allow", ", ".join(allowed).encode())],
                _dumps({"error": f"{method} is not allowed on {path}"}),
            )
            return
        if path == "/gateway/metrics":
            scores = b"scores=1" in (scope.get("query_string") or b"")
            data = self.metrics.snapshot().to_dict(include_scores=scores)
            data["mirrors"] = {"in_flight": len(self._mirrors), "dropped": self.mirrors_dropped}
            await _json(send, 200, data)
        elif path == "/gateway/metrics/rotate":
            await _json(send, 200, self.metrics.rotate().to_dict())
        elif path == "/gateway/routes" and method == "GET":
            await _json(send, 200, self.table_provider().to_dict())
        elif path == "/gateway/routes":
            await self._put_routes(receive, send)
        else:  # /gateway/stop
            await _json(send, 200, {"stopping": True})
            if self.on_stop is not None:
                self.on_stop()

    async def _authorized(self, scope: Scope, send: Send) -> bool:
        if self.control_token is None:
            await _json(send, 403, {"error": "this gateway has no control token: control is off"})
            return False
        expected = f"Bearer {self.control_token}".encode()
        for name, value in scope["headers"]:
            if name == b"authorization" and hmac.compare_digest(value, expected):
                return True
        await _json(send, 401, {"error": "this gateway route needs Authorization: Bearer <token>"})
        return False

    async def _put_routes(self, receive: Receive, send: Send) -> None:
        body = await self._read_body(receive, send)
        if body is None:
            return
        setter = getattr(self.table_provider, "set", None)
        if setter is None:
            await _json(send, 405, {"error": "this gateway's routes are set by its controller"})
            return
        try:
            table = RouteTable.from_dict(_loads(body))
        except (ValueError, RolloutError) as exc:
            await _json(send, 400, {"error": f"not a route table: {exc}"})
            return
        setter(table)
        await _json(send, 200, table.to_dict())

    async def _read_body(self, receive: Receive, send: Send) -> bytes | None:
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _json(send, 413, {"error": f"body over {self.max_body_bytes} bytes"})
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


#: Control routes and the methods each allows (the first is the main one).
_CONTROL_ROUTES: dict[str, tuple[str, ...]] = {
    "/gateway/metrics": ("GET",),
    "/gateway/metrics/rotate": ("POST",),
    "/gateway/routes": ("GET", "PUT"),
    "/gateway/stop": ("POST",),
}


def _over_unix_socket(scope: Scope) -> bool:
    """Whether the request came over a Unix socket (uvicorn: no port, no client)."""
    server = scope.get("server")
    return scope.get("client") is None and isinstance(server, tuple | list) and server[1] is None


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, payload: Any) -> None:
    await _respond(send, status, list(_JSON), _dumps(payload))


def create_gateway_app(
    table_provider: TableProvider,
    metrics: RolloutMetrics,
    *,
    failover: bool = True,
    timeout_s: float = 30.0,
    max_mirrors: int = 64,
    max_connections: int = 256,
    max_body_bytes: int = 64 * 1024 * 1024,
    control_token: str | None = None,
    on_stop: Callable[[], None] | None = None,
) -> GatewayApp:
    """Build the gateway ASGI app.

    Args:
        table_provider: Called on every request; returns the current
            :class:`~dockyard.rollout.routing.RouteTable` (a
            :class:`~dockyard.rollout.routing.RouteTableRef` is one).
        metrics: Where per-version figures are recorded.
        failover: Retry a request the candidate failed (5xx, no answer) on stable.
        timeout_s: Time limit for a backend's answer.
        max_mirrors: Shadow copies in flight at most; extra ones are dropped.
        max_connections: Pooled keep-alive connections to the backends at most.
        max_body_bytes: Largest request body accepted (413 beyond).
        control_token: Bearer token of the control routes (served on a Unix socket
            only); None turns control off (an in-process controller needs none).
        on_stop: Called by ``POST /gateway/stop``.

    Returns:
        An ASGI app; serve it with uvicorn (its lifespan opens and closes the pool).
    """
    return GatewayApp(
        table_provider,
        metrics,
        failover=failover,
        timeout_s=timeout_s,
        max_mirrors=max_mirrors,
        max_connections=max_connections,
        max_body_bytes=max_body_bytes,
        control_token=control_token,
        on_stop=on_stop,
    )
