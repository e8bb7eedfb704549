"""Hand-written servers that ``bench_serving.py`` measures dockyard against.

uvicorn factories, started as ``uvicorn _servers:NAME --factory --app-dir benchmarks``
(an import string, so ``--workers N`` works); each worker loads the fitted model from the
pickle at ``$DOCKYARD_BENCH_MODEL`` (written by the benchmark: the same fitted object
that dockyard serves).

- :func:`floor`: a raw ASGI app answering a constant JSON body (the HTTP floor of
  uvicorn + httptools);
- :func:`leanest`: a raw ASGI app that reads the body, ``orjson.loads``, builds a numpy
  array, calls ``model.predict`` inline on the event loop and answers ``orjson.dumps``
  (the leanest hand-written model server);
- :func:`fastapi_app`: a minimal FastAPI app with the same model (the memory baseline).

They answer ``POST /predict`` with ``{"instances": [[...]]}`` whatever the path, and do no
validation beyond what numpy and the model do.
"""

# No "from __future__ import annotations": FastAPI must resolve the local Request hint.
import os
import pickle
import warnings
from typing import Any

MODEL_ENV = "DOCKYARD_BENCH_MODEL"

_HEADERS = [(b"content-type", b"application/json")]


def _model() -> Any:
    # The model was fitted on a DataFrame; hand-written servers pass numpy arrays, which
    # makes scikit-learn warn "X does not have valid feature names" on every call.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    with open(os.environ[MODEL_ENV], "rb") as f:
        return pickle.load(f)


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def floor() -> Any:
    """The HTTP floor: every request gets the same constant answer."""
    body = b'{"predictions":[1],"model":"bench","version":1}'
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    answer = {"type": "http.response.body", "body": body}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await _lifespan(receive, send) if scope["type"] == "lifespan" else None
        await _read_body(receive)
        await send(start)
        await send(answer)

    return app


def leanest() -> Any:
    """Raw ASGI, orjson and ``model.predict`` inline: the leanest hand-written server."""
    import numpy as np
    import orjson

    model = _model()
    predict = model.predict

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await _lifespan(receive, send) if scope["type"] == "lifespan" else None
        rows = np.asarray(orjson.loads(await _read_body(receive))["instances"], dtype=float)
        body = orjson.dumps(
            {"predictions": predict(rows), "model": "bench", "version": 1},
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def fastapi_app() -> Any:
    """A minimal FastAPI app, as a user writes one: ``POST /predict``, predict inline."""
    import numpy as np
    import orjson
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    model = _model()
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        rows = np.asarray((await request.json())["instances"], dtype=float)
        body = orjson.dumps({"predictions": model.predict(rows).tolist(), "model": "bench"})
        return Response(body, media_type="application/json")

    return app


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
