"""Serving throughput: ``dockyard`` model service vs a minimal hand-written FastAPI app.

Starts, each in its own process on 127.0.0.1, one uvicorn worker each (uvloop, httptools):

- ``baseline``: a minimal FastAPI app, ``POST /predict`` -> ``model.predict`` inline;
- ``dockyard (no batching)``: :func:`dockyard.serving.create_app` with batching off;
- ``dockyard (batching)``: the same with adaptive micro-batching on (32 rows, 2 ms);

all serving the same scikit-learn ``LogisticRegression`` trained on iris, and drives each
with single-row requests (``{"instances": [[...]]}``) at concurrency 16 and 64 from a
closed-loop asyncio load generator (keep-alive connections, raw HTTP/1.1 by default, from
``_loadgen.py``, so the generator costs little CPU; ``--client httpx`` uses an
``httpx.AsyncClient`` instead).
Rounds alternate between targets so drift hits all alike. It also measures the floor: raw
``model.predict`` calls per second on one row and on batches of 32 rows.

    .venv/bin/python benchmarks/bench_serving.py [--seconds 4] [--rounds 2]

Bounded: about 2 concurrencies x 4 targets x rounds x (seconds + 0.5) + 15 s.
"""

# No "from __future__ import annotations": FastAPI must resolve the local Request hint.
import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))

from _loadgen import free_port, load, spawn, summarize, wait_listening  # noqa: E402

ROW = [5.1, 3.5, 1.4, 0.2]
BODY = json.dumps({"instances": [ROW]}).encode()
V2_BODY = json.dumps(
    {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
).encode()


def train():  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=500).fit(x, y), x, y


# --- the servers ------------------------------------------------------------------------


def run_baseline(port: int) -> None:
    import numpy as np
    import orjson
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    model, _, _ = train()
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        rows = np.asarray((await request.json())["instances"], dtype=float)
        predictions = model.predict(rows).tolist()
        body = orjson.dumps({"predictions": predictions, "model": "iris", "version": 1})
        return Response(body, media_type="application/json", headers={"x-model-version": "1"})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                loop="uvloop", http="httptools")  # fmt: skip


def run_dockyard(port: int, batching: bool) -> None:
    import uvicorn

    from dockyard.registry.signature import infer_signature
    from dockyard.serving import ModelRuntime, ServeConfig, create_app

    model, x, y = train()
    runtime = ModelRuntime(model, infer_signature(x, y), name="iris", version=1)
    app = create_app([runtime], ServeConfig(batching=batching))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                loop="uvloop", http="httptools")  # fmt: skip


# --- the httpx load generator (the raw one is _loadgen.load) ----------------------------


async def load_httpx(port: int, path: str, body: bytes, seconds: float, concurrency: int):  # type: ignore[no-untyped-def]
    import httpx

    latencies: list[float] = []
    failures = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = await client.post(path, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                failures += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, failures, time.perf_counter() - started


def measure(client: str, port: int, path: str, body: bytes, seconds: float, conc: int) -> dict:
    if client == "httpx":
        return summarize(*asyncio.run(load_httpx(port, path, body, seconds, conc)))
    return asyncio.run(load(port, path, body, seconds, conc))


def floor(seconds: float = 1.0) -> dict[str, float]:
    import numpy as np

    model, x, _ = train()
    out = {}
    for name, batch in (("1 row", np.asarray([ROW])), ("32 rows", x[:32].copy())):
        model.predict(batch)
        calls = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            model.predict(batch)
            calls += 1
        out[name] = calls / (time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per round and target")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw")
    parser.add_argument("--baseline", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dockyard", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batching", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        return run_baseline(args.baseline)
    if args.dockyard:
        return run_dockyard(args.dockyard, args.batching == "on")

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass

    ports = {name: free_port() for name in ("baseline", "off", "on")}
    procs = [
        spawn(HERE, "--baseline", str(ports["baseline"])),
        spawn(HERE, "--dockyard", str(ports["off"]), "--batching", "off"),
        spawn(HERE, "--dockyard", str(ports["on"]), "--batching", "on"),
    ]
    targets = [
        ("hand-written FastAPI", ports["baseline"], "/predict", BODY),
        ("dockyard, no batching", ports["off"], "/predict", BODY),
        ("dockyard, batching", ports["on"], "/predict", BODY),
        ("dockyard V2, batching", ports["on"], "/v2/models/iris/infer", V2_BODY),
    ]
    results: dict[tuple[str, int], list[dict]] = {}
    try:
        for port in ports.values():
            wait_listening(port)
        for _, port, path, body in targets:  # warm up every path
            measure(args.client, port, path, body, 0.5, 16)
        for conc in args.concurrency:
            for _ in range(args.rounds):
                for name, port, path, body in targets:
                    results.setdefault((name, conc), []).append(
                        measure(args.client, port, path, body, args.seconds, conc)
                    )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
    floors = floor()

    print(
        f"\nServing, single-row requests, {args.rounds} x {args.seconds:g} s per target, "
        f"{args.client} load generator, 1 uvicorn worker each, {os.cpu_count()} CPUs\n"
    )
    print("| conc | target                 |   req/s | vs hand-written | p50 ms | p99 ms | fail |")
    print("| ---: | ---------------------- | ------: | --------------: | -----: | -----: | ---: |")
    for conc in args.concurrency:
        base = statistics.fmean(r["rps"] for r in results[("hand-written FastAPI", conc)])
        for name, *_ in targets:
            rounds = results[(name, conc)]
            rps = statistics.fmean(r["rps"] for r in rounds)
            p50 = statistics.fmean(r["p50_ms"] for r in rounds)
            p99 = statistics.fmean(r["p99_ms"] for r in rounds)
            fails = sum(r["errors"] for r in rounds)
            print(
                f"| {conc:>4} | {name:<22} | {rps:>7.0f} | {rps / base:>14.2f}x "
                f"| {p50:>6.2f} | {p99:>6.2f} | {fails:>4} |"
            )
    print(
        f"\nfloor, raw model.predict in one thread: {floors['1 row']:.0f} calls/s on 1 row; "
        f"{floors['32 rows']:.0f} calls/s on 32 rows ({floors['32 rows'] * 32:.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
