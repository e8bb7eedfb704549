"""Gateway overhead: req/s and p50/p99 through the rollout gateway vs straight to the model.

Starts, each in its own process on 127.0.0.1:

- an upstream: a minimal FastAPI + uvicorn app serving ``POST /predict`` with a small
  scikit-learn iris model (the same shape of answer as ``dockyard serve``);
- the gateway (``dockyard.rollout.create_gateway_app``) in front of it, one uvicorn worker;

then drives both with the same closed-loop load generator (``_loadgen.load``: raw asyncio
HTTP/1.1 over keep-alive connections, so the generator costs little CPU) at concurrency
16, alternating direct and gateway rounds so drift hits both alike. Finally it measures
how long an ``abort`` (``PUT /gateway/routes`` back to stable only) takes to reach 100%
stable traffic under load.

    .venv/bin/python benchmarks/bench_gateway.py [--seconds 5] [--rounds 2] [--concurrency 16]

Bounded: about (2 x rounds x seconds) + 15 s in all.
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

from _loadgen import free_port, load, read_response, request_bytes, spawn, wait_listening  # noqa: E402

# --- the processes ----------------------------------------------------------------------


def run_upstream(port: int, version: int) -> None:
    import numpy as np
    import orjson
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    app = FastAPI()
    headers = {"x-model-version": str(version)}

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        rows = np.asarray((await request.json())["instances"], dtype=float)
        predictions = model.predict(rows).tolist()
        body = orjson.dumps({"predictions": predictions, "model": "iris", "version": version})
        return Response(body, media_type="application/json", headers=headers)

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


def run_gateway(port: int, stable_url: str) -> None:
    import uvicorn

    from dockyard.rollout import (
        Backend,
        RolloutMetrics,
        RouteTable,
        RouteTableRef,
        create_gateway_app,
    )

    ref = RouteTableRef(RouteTable(stable=Backend("1", stable_url)))
    app = create_gateway_app(ref, RolloutMetrics())
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


# --- the abort under load ---------------------------------------------------------------

BODY = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()


async def abort_time(
    gateway_port: int, stable_url: str, candidate_url: str
) -> tuple[float, float, float]:
    """Abort under load: (PUT answered, last request sent to the candidate started,
    last candidate answer received), each in seconds after the abort was sent."""
    table = {"stable": {"version": "1", "url": stable_url}}
    with_candidate = {**table, "candidate": {"version": "2", "url": candidate_url}, "weight": 50}

    async def put(routes: dict) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway_port)
        writer.write(request_bytes("PUT", "/gateway/routes", json.dumps(routes).encode()))
        status, _, body = await read_response(reader)
        writer.close()
        if status != 200:
            raise RuntimeError(f"PUT /gateway/routes answered {status}: {body!r}")

    await put(with_candidate)
    payload = request_bytes("POST", "/predict", BODY)
    last_started = last_answered = 0.0
    candidate_answers = 0
    done = asyncio.Event()

    async def worker() -> None:
        nonlocal last_started, last_answered, candidate_answers
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway_port)
        while not done.is_set():
            started = time.perf_counter()
            writer.write(payload)
            _, headers, _ = await read_response(reader)
            if headers.get("x-dockyard-backend") == "2":
                candidate_answers += 1
                last_started = max(last_started, started)
                last_answered = max(last_answered, time.perf_counter())
        writer.close()

    workers = [asyncio.ensure_future(worker()) for _ in range(16)]
    await asyncio.sleep(1.0)
    if not candidate_answers:
        raise RuntimeError("the candidate got no traffic before the abort")
    sent = time.perf_counter()
    await put(table)
    acknowledged = time.perf_counter() - sent
    await asyncio.sleep(1.0)
    done.set()
    await asyncio.gather(*workers)
    return acknowledged, max(0.0, last_started - sent), max(0.0, last_answered - sent)


def table_row(name: str, r: dict[str, float]) -> str:
    return (
        f"| {name:<16} | {r['rps']:>8.0f} | {r['p50_ms']:>7.2f} | {r['p99_ms']:>7.2f} "
        f"| {int(r['requests']):>8} | {int(r['errors']):>4} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per round and target")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--version", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--gateway", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stable-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        return run_upstream(args.upstream, args.version)
    if args.gateway:
        return run_gateway(args.gateway, args.stable_url)

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass

    def predict(port: int, seconds: float) -> dict[str, float]:
        return asyncio.run(load(port, "/predict", BODY, seconds, args.concurrency))

    up_port, up2_port, gw_port = free_port(), free_port(), free_port()
    stable_url = f"http://127.0.0.1:{up_port}"
    procs = [
        spawn(HERE, "--upstream", str(up_port)),
        spawn(HERE, "--gateway", str(gw_port), "--stable-url", stable_url),
    ]
    try:
        wait_listening(up_port)
        wait_listening(gw_port)
        predict(up_port, 1.0)  # warm up both paths
        predict(gw_port, 1.0)
        direct, gateway = [], []
        for _ in range(args.rounds):
            direct.append(predict(up_port, args.seconds))
            gateway.append(predict(gw_port, args.seconds))

        procs.append(spawn(HERE, "--upstream", str(up2_port), "--version", "2"))
        wait_listening(up2_port)
        abort = asyncio.run(abort_time(gw_port, stable_url, f"http://127.0.0.1:{up2_port}"))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)

    def mean(rounds: list[dict[str, float]]) -> dict[str, float]:
        return {k: statistics.fmean(r[k] for r in rounds) for k in rounds[0]} | {
            "requests": sum(r["requests"] for r in rounds),
            "errors": sum(r["errors"] for r in rounds),
        }

    d, g = mean(direct), mean(gateway)
    print(
        f"\nGateway overhead, concurrency {args.concurrency}, {args.rounds} x {args.seconds:g} s "
        f"per target, {os.cpu_count()} CPUs\n"
    )
    print("| target           |    req/s | p50 ms  | p99 ms  | requests | fail |")
    print("| ---------------- | -------: | ------: | ------: | -------: | ---: |")
    print(table_row("direct upstream", d))
    print(table_row("through gateway", g))
    print(
        f"\nthroughput ratio gateway/direct: {g['rps'] / d['rps']:.2f} (target >= 0.70)\n"
        f"added p50 latency: {g['p50_ms'] - d['p50_ms']:.2f} ms (target < 2 ms); "
        f"added p99: {g['p99_ms'] - d['p99_ms']:.2f} ms\n"
        f"abort under load (PUT /gateway/routes): acknowledged in {abort[0] * 1000:.1f} ms; "
        f"last request routed to the candidate started {abort[1] * 1000:.1f} ms after it; "
        f"last candidate answer (in flight at the abort) {abort[2] * 1000:.1f} ms after it"
    )
    for i, (a, b) in enumerate(zip(direct, gateway, strict=True), 1):
        print(
            f"  round {i}: direct {a['rps']:.0f} req/s p50 {a['p50_ms']:.2f} ms | "
            f"gateway {b['rps']:.0f} req/s p50 {b['p50_ms']:.2f} ms"
        )


if __name__ == "__main__":
    main()
