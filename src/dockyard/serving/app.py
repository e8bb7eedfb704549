"""The model microservice: Open Inference Protocol (KServe V2) REST, ``/predict``, metrics.

``create_app(runtimes, config)`` returns a FastAPI app serving one or more model versions.

=======================================  ===============================================
``GET  /v2/health/live``, ``/ready``     liveness; readiness (503 once draining)
``GET  /v2``                             server metadata
``GET  /v2/models/{name}[/versions/{v}]``  model metadata; ``.../ready`` its readiness
``POST /v2/models/{name}[/versions/{v}]/infer``  V2 inference, JSON or binary tensors
``POST /predict``                        ``{"instances": [[...]]}`` or ``{"records": [...]}``
``GET  /metrics``                        Prometheus text format
``GET  /docs``, ``/openapi.json``        the API's documentation
=======================================  ===============================================

``/v2/models/{name}/...`` without a version uses the first runtime given for that name.
``/predict`` uses the only model served, or ``?model=NAME[&version=N]``.

The inference routes are the hot path: they are plain ASGI endpoints that read and parse
the body themselves (orjson, no pydantic; :mod:`dockyard.serving.bodies`), inline for
small bodies and in a child process for large ones (``offload_body_bytes``,
:mod:`dockyard.serving.decoder`), so a large body never stalls the event loop. The OpenAPI
document describes each served version's inputs from its signature
(:mod:`dockyard.serving.openapi`); ``/docs`` loads no CDN (:mod:`dockyard.serving.docs`).

Failures answer ``{"error": "..."}``: 400 for input that does not fit (malformed JSON,
missing input, wrong shape, datatype or value, values beyond what the model can compute
with), 401 without the bearer token, 404 for an unknown model or version, 405 with
``Allow`` for another method, 413 for a body over ``max_body_bytes``, 415 for a content
type that is not JSON, 500 (naming the model version) when the model itself raises. Failed
model calls are logged with their traceback, at most ``failure_tracebacks_per_minute``
per version (:mod:`dockyard.serving.failures`); no line is written per request.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from dockyard import __version__
from dockyard.errors import InvalidInputError, ServingError
from dockyard.runtime.batching import MicroBatcher, ModelThreads
from dockyard.runtime.model import ModelRuntime
from dockyard.runtime.v2 import (
    HEADER_LENGTH,
    OutputTensor,
    encode_infer_response,
    parse_header_length,
)
from dockyard.runtime.validation import batch_rows
from dockyard.serving.bodies import Decoded, Target, decode, decode_infer, decode_predict
from dockyard.serving.config import ServeConfig
from dockyard.serving.decoder import BodyDecoder
from dockyard.serving.docs import add_docs_routes
from dockyard.serving.failures import FailureLog
from dockyard.serving.metrics import ServiceMetrics
from dockyard.serving.openapi import (
    ErrorResponse,
    Liveness,
    ModelMetadata,
    ModelReadiness,
    Readiness,
    ServerMetadata,
    build_openapi,
)

__all__ = ["ServeConfig", "create_app"]

log = logging.getLogger(__name__)


# --- errors and metrics ----------------------------------------------------------------


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, kind: str = "client") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


def _error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


# --- the service -----------------------------------------------------------------------

_JSON = b"application/json"
_JSON_TYPES = frozenset({"application/json", "text/json"})


class _Service:
    """The state behind the routes: runtimes by name and version, batchers, metrics."""

    def __init__(self, runtimes: Sequence[ModelRuntime], config: ServeConfig) -> None:
        if not runtimes:
            raise ServingError("create_app needs at least one ModelRuntime to serve")
        self.config = config
        self.models: dict[str, dict[int, ModelRuntime]] = {}
        self.default: dict[str, ModelRuntime] = {}
        for rt in runtimes:
            if config.predict_proba and not rt.predict_proba:
                rt = ModelRuntime(
                    rt.model,
                    rt.signature,
                    name=rt.name,
                    version=rt.version,
                    predict_proba=True,
                    adapter=type(rt.adapter),
                )
            versions = self.models.setdefault(rt.name, {})
            if rt.version in versions:
                raise ServingError(f"model {rt.name} version {rt.version} is given twice")
            versions[rt.version] = rt
            self.default.setdefault(rt.name, rt)
        self.metrics = ServiceMetrics()
        self.executor: ModelThreads | None = None
        self.batchers: dict[str, MicroBatcher] = {}
        self.observers: dict[str, Any] = {}
        self.targets = {
            rt.label: Target(rt.name, rt.version, rt.output_name, rt.signature)
            for versions in self.models.values()
            for rt in versions.values()
        }
        self.decoder: BodyDecoder | None = None
        self.offload_above = config.offload_body_bytes or config.max_body_bytes
        self.failures = FailureLog(log, config.failure_tracebacks_per_minute)
        self.draining = False
        self._token = config.token.encode() if config.token else None
        self.inline = self._inline_models()

    def _inline_models(self) -> set[str]:
        """The versions whose calls run on the event loop: measured to take less than
        ``inline_below_ms`` on a full batch (timed once, here at start-up)."""
        limit = self.config.inline_below_ms / 1000
        rows = self.config.max_batch_size if self.config.batching else 1
        fast = set()
        for versions in self.models.values():
            for rt in versions.values():
                seconds = rt.time_call(rows) if limit > 0 else None
                if seconds is not None and seconds < limit:
                    fast.add(rt.label)
                log.info(
                    "model %s: %s per call on %d rows; runs %s",
                    rt.label,
                    "unmeasured" if seconds is None else f"{seconds * 1000:.2f} ms",
                    rows,
                    "on the event loop" if rt.label in fast else "on a model thread",
                )
        return fast

    # --- lookups -----------------------------------------------------------------------

    def resolve(self, name: str, version: str | None = None) -> ModelRuntime:
        versions = self.models.get(name)
        if versions is None:
            raise _HTTPError(
                404,
                f"unknown model {name[:100]!r}; this server serves: {', '.join(self.models)}",
                "not_found",
            )
        if version is None:
            return self.default[name]
        digits = version.isascii() and version.isdigit()  # "³".isdigit() too
        rt = versions.get(int(version)) if digits and len(version) < 19 else None
        if rt is None:
            served = ", ".join(str(v) for v in versions)
            raise _HTTPError(
                404,
                f"model {name!r} has no version {version[:40]!r}; served versions: {served}",
                "not_found",
            )
        return rt

    def resolve_plain(self, query: dict[str, str]) -> ModelRuntime:
        name = query.get("model")
        if name is None:
            if len(self.models) > 1:
                raise _HTTPError(
                    400,
                    f"this server serves several models ({', '.join(self.models)}); "
                    "choose one with ?model=NAME",
                )
            name = next(iter(self.models))
        return self.resolve(name, query.get("version"))

    def check_auth(self, authorization: bytes | str | None) -> None:
        if self._token is None:
            return
        if isinstance(authorization, str):
            authorization = authorization.encode("latin-1", "replace")
        scheme, _, token = (authorization or b"").partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self._token):
            raise _HTTPError(
                401,
                "missing or wrong bearer token: send the header 'Authorization: Bearer <token>'",
                "auth",
            )

    def batcher(self, rt: ModelRuntime) -> MicroBatcher:
        batcher = self.batchers.get(rt.label)
        if batcher is None:
            if self.executor is None:
                self.executor = ModelThreads(self.config.model_threads)
            observe = self.observers[rt.label] = self.metrics.batch_observer(
                rt.name, str(rt.version)
            )
            batcher = self.batchers[rt.label] = MicroBatcher(
                rt.predict_batch,
                max_batch_size=self.config.max_batch_size,
                max_latency_ms=self.config.max_latency_ms,
                enabled=self.config.batching,
                executor=self.executor,
                inline=rt.label in self.inline,
                on_batch=observe,
            )
        return batcher

    async def close(self) -> None:
        """Stop the batchers and model threads; the next request starts new ones."""
        batchers, self.batchers = self.batchers, {}
        for batcher in batchers.values():
            await batcher.close()
        if self.executor is not None:
            self.executor.shutdown()
            self.executor = None
        decoder, self.decoder = self.decoder, None
        if decoder is not None:
            await asyncio.get_running_loop().run_in_executor(None, decoder.close)
        self.failures.flush()

    # --- the hot path ------------------------------------------------------------------

    async def read_body(self, content_length: bytes | None, receive: Any) -> bytes:
        limit = self.config.max_body_bytes
        if content_length is not None:
            if not content_length.isdigit():
                raise _HTTPError(400, "Content-Length must be a non-negative integer")
            if int(content_length) > limit:
                raise _HTTPError(
                    413,
                    f"request body of {int(content_length)} bytes is over the limit of {limit}",
                    "too_large",
                )
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _HTTPError(400, "the client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise _HTTPError(
                        413, f"request body is over the limit of {limit} bytes", "too_large"
                    )
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def run(self, rt: ModelRuntime, batch: Any) -> np.ndarray:
        batcher = self.batcher(rt)
        if batcher.inline and self.executor and batch_rows(batch) > self.config.max_batch_size:
            # Measured short on max_batch_size rows, not on this many: a model thread.
            result = await self.executor.run(rt.predict_batch, batch)
            self.observers[rt.label](batch_rows(batch))
            return result  # type: ignore[no-any-return]
        return await batcher.submit(batch)  # type: ignore[no-any-return]

    def offload(self, body: bytes, header_length: int | None) -> bool:
        """Whether ``body`` is decoded in the decoder process (see ServeConfig); the
        routes call it only for a body over ``offload_body_bytes``."""
        limit = self.config.offload_body_bytes
        if not limit or len(body) <= limit:
            return False
        if header_length is None:
            return True
        # Binary numbers are views of the body (np.frombuffer), checked by vectorized
        # numpy: inline. A large JSON header, or BYTES tensors (decoded one element at a
        # time), go out.
        return header_length > limit or b'"BYTES"' in body[:header_length]

    async def decode(self, rt: ModelRuntime, job: tuple[Any, ...]) -> Any:
        """Decode a large body in the decoder process (inline if it cannot start)."""
        if self.decoder is None:
            self.decoder = BodyDecoder()
        target = self.targets[rt.label]
        try:
            future = self.decoder.run(target, job)
        except OSError as exc:  # no process can be started here: serve anyway
            log.warning(
                "cannot start the request decoder process (%s): large bodies are decoded "
                "on the event loop from now on",
                exc,
            )
            self.offload_above = self.config.max_body_bytes
            return decode(rt.validator, target, job)
        return await future

    async def handle(
        self, route: str, scope: dict[str, Any], receive: Any
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """Run one inference request; never raises (every failure is an answer)."""
        started = time.perf_counter()
        content_type = content_length = authorization = header_length = None
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value
            elif key == b"content-length":
                content_length = value
            elif key == b"authorization":
                authorization = value
            elif key == b"inference-header-content-length":
                header_length = value
        rt: ModelRuntime | None = None
        headers: list[tuple[bytes, bytes]] = [(b"content-type", _JSON)]
        kind = "client"
        try:
            self.check_auth(authorization)
            if route == "predict":
                query = _query(scope)
                rt = self.resolve_plain(query)
            else:
                params = scope["path_params"]
                rt = self.resolve(params["name"], params.get("version"))
            headers.append((b"x-model-version", str(rt.version).encode()))
            body = await self.read_body(content_length, receive)
            _check_content_type(content_type, binary_ok=route != "predict")
            if route == "predict":
                payload = await self._predict(rt, body)
            else:
                payload = await self._infer(rt, body, header_length, headers)
            status = 200
        except _HTTPError as exc:
            status, payload, kind = exc.status, _error_body(exc.message), exc.kind
        except InvalidInputError as exc:
            status, payload = 400, _error_body(str(exc))
        except ServingError as exc:
            status, payload, kind = 500, _error_body(str(exc)), "model"
            self.failures.failure(rt.label if rt else route, str(exc), exc.__cause__ or exc)
        except Exception as exc:  # a bug of ours: still an answer, and the server stays up
            where = f"model {rt.name} version {rt.version}" if rt else "the model server"
            status, kind = 500, "server"
            message = f"internal error in {where}: {type(exc).__name__}: {exc}"
            payload = _error_body(message)
            self.failures.failure(rt.label if rt else route, message, exc)
        headers.append((b"content-length", str(len(payload)).encode()))
        self.metrics.observe(
            rt.name if rt else "",
            str(rt.version) if rt else "",
            route,
            status,
            time.perf_counter() - started,
            kind,
        )
        return status, payload, headers

    async def _predict(self, rt: ModelRuntime, body: bytes) -> bytes:
        if len(body) > self.offload_above and self.offload(body, None):
            batch = await self.decode(rt, ("predict", body))
        else:
            batch = decode_predict(rt.validator, self.targets[rt.label], body)
        result = await self.run(rt, batch)
        return orjson.dumps(
            {"predictions": _jsonable(result), "model": rt.name, "version": rt.version},
            option=orjson.OPT_SERIALIZE_NUMPY,
        )

    async def _infer(
        self,
        rt: ModelRuntime,
        body: bytes,
        header_length: bytes | None,
        headers: list[tuple[bytes, bytes]],
    ) -> bytes:
        length = parse_header_length(
            header_length.decode("latin-1") if header_length is not None else None, len(body)
        )
        decoded: Decoded
        if len(body) > self.offload_above and self.offload(body, length):
            decoded = await self.decode(rt, ("infer", body, length))
        else:
            decoded = decode_infer(rt.validator, self.targets[rt.label], body, length)
        result = await self.run(rt, decoded.batch)
        payload, json_size = encode_infer_response(
            model_name=rt.name,
            model_version=str(rt.version),
            request_id=decoded.request_id,
            outputs=[OutputTensor(rt.output_name, result, rt.output_datatype(result))],
            binary=(rt.output_name,) if decoded.binary_output else (),
        )
        if json_size is not None:
            headers[0] = (b"content-type", b"application/octet-stream")
            headers.append((HEADER_LENGTH.encode(), str(json_size).encode()))
        return payload


def _jsonable(result: np.ndarray) -> Any:
    if result.dtype.kind in "fiub" and result.dtype.isnative:
        return np.ascontiguousarray(result)
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in result.tolist()]


def _query(scope: dict[str, Any]) -> dict[str, str]:
    raw = scope.get("query_string", b"")
    if not raw:
        return {}
    from urllib.parse import parse_qsl

    return dict(parse_qsl(raw.decode("latin-1")))


def _check_content_type(value: bytes | None, *, binary_ok: bool) -> None:
    if value is None:
        return
    base = value.split(b";", 1)[0].strip().lower().decode("latin-1")
    if (
        base in _JSON_TYPES
        or base.endswith("+json")
        or (binary_ok and base == "application/octet-stream")
    ):
        return
    accepted = "application/json" + (" or application/octet-stream" if binary_ok else "")
    raise _HTTPError(
        415,
        f"unsupported content type {base[:60]!r}: send {accepted} "
        "(with curl: -H 'content-type: application/json')",
    )


class _Endpoint:
    """A raw ASGI endpoint for an inference route (no per-request pydantic or DI)."""

    def __init__(self, service: _Service, route: str) -> None:
        self.service = service
        self.route = route

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        status, body, headers = await self.service.handle(self.route, scope, receive)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


_INFER_PREFIX = "/v2/models/"
_INFER_SUFFIX = "/infer"


class _ServiceApp(FastAPI):
    """FastAPI for every route but the inference ones, which skip its middleware stack
    and router: those cost ~16-21 us a request here, as much as all of our own
    validation, batching and encoding (``benchmarks/README.md``, Serving). The inference
    endpoints never raise (every failure is an answer), so the error middleware has
    nothing to catch; the routes stay registered for the documentation and for the 405s
    other methods get."""

    dockyard_hot: dict[str, _Endpoint]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:  # type: ignore[override]
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path == "/predict":
                scope["path_params"] = {}
                await self.dockyard_hot["predict"](scope, receive, send)
                return
            if path.startswith(_INFER_PREFIX) and path.endswith(_INFER_SUFFIX):
                parts = path[len(_INFER_PREFIX) : -len(_INFER_SUFFIX)].split("/")
                params = None
                if len(parts) == 1 and parts[0]:
                    params = {"name": parts[0]}
                elif len(parts) == 3 and parts[0] and parts[1] == "versions" and parts[2]:
                    params = {"name": parts[0], "version": parts[2]}
                if params is not None:
                    scope["path_params"] = params
                    await self.dockyard_hot["infer"](scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


# --- the app ---------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Input that does not fit the model"},
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token"},
    404: {"model": ErrorResponse, "description": "Unknown model or version"},
}


def create_app(runtimes: Sequence[ModelRuntime], config: ServeConfig | None = None) -> FastAPI:
    """Build the HTTP service for ``runtimes``.

    Args:
        runtimes: the model versions to serve. For each name, the first one given is the
            default answering ``/v2/models/{name}/infer`` and ``/predict``.
        config: service options (batching, limits, auth...).

    Raises:
        ServingError: no runtimes, or the same model version twice.
    """
    config = config or ServeConfig()
    service = _Service(runtimes, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.draining = False
        if threading.current_thread() is threading.main_thread():  # we own the process
            _drain_on_signals(service)
            # Everything alive now (frameworks, the models) lives as long as the process:
            # keep it out of the cyclic GC's full passes, which otherwise stall every
            # request for ~100 ms under load (gc.freeze, as Instagram's Django servers do).
            gc.collect()
            gc.freeze()
        yield
        service.draining = True
        await service.close()

    app = _ServiceApp(
        title="dockyard model service",
        version=__version__,
        description="Open Inference Protocol (KServe V2) REST and a plain JSON route, "
        f"serving {', '.join(sorted(service.targets))}.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load a CDN: ours are served from this server
        redoc_url=None,
    )
    app.state.dockyard = service
    _add_routes(app, service)
    add_docs_routes(app)
    _add_error_handlers(app)
    app.openapi = lambda: build_openapi(  # type: ignore[method-assign]
        app, service.models, service.default, token=config.token is not None
    )
    return app


def _drain_on_signals(service: _Service) -> None:
    """Readiness goes false the moment SIGTERM/SIGINT arrives, before the server stops.

    The ASGI server (uvicorn) has installed its own handlers by the time the lifespan
    starts; each is wrapped so the app marks itself draining first, then hands the signal
    on (after ``drain_seconds``, so load balancers see "not ready" while requests are
    still served). The server restores its handlers when it exits.
    """
    delay = service.config.drain_seconds
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            first = not service.draining
            service.draining = True
            if first and delay > 0:
                timer = threading.Timer(delay, previous, (signum, frame))
                timer.daemon = True
                timer.start()
            else:
                previous(signum, frame)

        signal.signal(sig, handler)


def _json(content: Any, status: int = 200, version: int | None = None) -> Response:
    headers = {"x-model-version": str(version)} if version is not None else None
    return Response(orjson.dumps(content), status, headers, media_type="application/json")


def _add_routes(app: _ServiceApp, service: _Service) -> None:
    app.dockyard_hot = {
        "predict": _Endpoint(service, "predict"),
        "infer": _Endpoint(service, "infer"),
    }
    hot = [
        Route("/predict", app.dockyard_hot["predict"], methods=["POST"]),
        Route("/v2/models/{name}/infer", app.dockyard_hot["infer"], methods=["POST"]),
        Route(
            "/v2/models/{name}/versions/{version}/infer",
            app.dockyard_hot["infer"],
            methods=["POST"],
        ),
    ]
    app.router.routes[:0] = hot  # first: the same endpoints when reached through FastAPI

    @app.get("/v2/health/live", response_model=Liveness, tags=["health"])
    async def live() -> Response:
        """The server process is up."""
        return _json({"live": True})

    @app.get(
        "/v2/health/ready",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Draining or not ready"}},
        tags=["health"],
    )
    async def ready() -> Response:
        """Every model is ready; false (503) once the server is shutting down."""
        ok = not service.draining
        return _json({"ready": ok}, 200 if ok else 503)

    @app.get("/v2", response_model=ServerMetadata, tags=["metadata"])
    async def server_metadata() -> Response:
        """Server name, version and protocol extensions."""
        return _json(
            {"name": "dockyard", "version": __version__, "extensions": ["binary_tensor_data"]}
        )

    def model_metadata(request: Request, name: str, version: str | None) -> Response:
        service.check_auth(request.headers.get("authorization"))
        rt = service.resolve(name, version)
        meta = rt.metadata()
        if version is None:
            meta["versions"] = [str(v) for v in service.models[name]]
        return _json(meta, version=rt.version)

    def model_ready(request: Request, name: str, version: str | None) -> Response:
        service.check_auth(request.headers.get("authorization"))
        rt = service.resolve(name, version)
        ok = not service.draining
        return _json({"name": name, "ready": ok}, 200 if ok else 503, rt.version)

    ready_503: dict[int | str, dict[str, Any]] = {
        503: {"model": ModelReadiness, "description": "Draining"}
    }

    @app.get(
        "/v2/models/{name}", response_model=ModelMetadata, responses=_ERRORS, tags=["metadata"]
    )
    async def get_model(request: Request, name: str) -> Response:
        """Metadata of a model's default version (its inputs, outputs and versions)."""
        return model_metadata(request, name, None)

    @app.get(
        "/v2/models/{name}/ready",
        response_model=ModelReadiness,
        responses={**_ERRORS, **ready_503},
        tags=["health"],
    )
    async def get_model_ready(request: Request, name: str) -> Response:
        """Whether the model's default version is ready."""
        return model_ready(request, name, None)

    @app.get(
        "/v2/models/{name}/versions/{version}",
        response_model=ModelMetadata,
        responses=_ERRORS,
        tags=["metadata"],
    )
    async def get_model_version(request: Request, name: str, version: str) -> Response:
        """Metadata of one model version."""
        return model_metadata(request, name, version)

    @app.get(
        "/v2/models/{name}/versions/{version}/ready",
        response_model=ModelReadiness,
        responses={**_ERRORS, **ready_503},
        tags=["health"],
    )
    async def get_model_version_ready(request: Request, name: str, version: str) -> Response:
        """Whether one model version is ready."""
        return model_ready(request, name, version)

    @app.get("/metrics", tags=["metrics"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics: requests, errors, latency and batch sizes per model version."""
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _add_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, _HTTPError):
            return _json({"error": exc.message}, exc.status)
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404:
            detail = f"not found: {request.url.path[:200]}"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            detail = f"method {request.method} not allowed on {request.url.path[:200]}" + (
                f"; use {allowed}" if allowed else ""
            )
        response = _json({"error": detail}, exc.status_code)
        response.headers.update(exc.headers or {})  # the Allow of a 405 (RFC 9110)
        return response

    async def validation_error(request: Request, exc: Exception) -> Response:
        return _json({"error": f"invalid request: {exc}"}, 422)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s", request.url.path)
        return _json({"error": f"internal error: {type(exc).__name__}"}, 500)

    app.add_exception_handler(_HTTPError, http_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, server_error)
