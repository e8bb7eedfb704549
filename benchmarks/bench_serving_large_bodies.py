"""Serving: other clients' latency while large, legal JSON bodies arrive (issue #8, item 5).

What it measures: a scikit-learn ``LogisticRegression`` on 30 features is served by
``dockyard.serving.create_app`` under uvicorn (uvloop, httptools, one worker) in its own
process. Small clients send single-row ``POST /predict`` requests over ``--small``
keep-alive connections in a closed loop for ``--seconds``, alone first, then while
``--large`` other connections each post 7 MB bodies (12,000 rows, legal: under the 8 MiB
limit) in a closed loop. It prints the small requests' p50/p90/p99 both ways, and how
many large bodies were answered, for the server as configured now (large bodies decoded
in the decoder process above ``offload_body_bytes``, 256 KiB) and with decoding inline
(``offload_body_bytes=0``: every body parsed and validated on the event loop, as before).

    .venv/bin/python benchmarks/bench_serving_large_bodies.py            # ~1 min
    .venv/bin/python benchmarks/bench_serving_large_bodies.py --seconds 20 --rounds 2

The dockyard under test is whatever ``import dockyard`` finds (one from before
offloading decodes everything inline in both rows): to measure a commit,
``git archive COMMIT src | tar -x -C DIR`` and run with ``PYTHONPATH=DIR/src``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _loadgen import free_port, read_status, request_bytes, spawn, wait_listening  # noqa: E402

N_FEATURES = 30
LARGE_ROWS = 12_000


def _model() -> tuple[Any, Any]:
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=2000, n_features=N_FEATURES, random_state=0)
    return LogisticRegression(max_iter=500).fit(x, y), np.asarray(x)


def serve(port: int, offload: int) -> None:
    import uvicorn

    from dockyard.registry.signature import infer_signature
    from dockyard.runtime import ModelRuntime
    from dockyard.serving import ServeConfig, create_app

    model, x = _model()
    rt = ModelRuntime(model, infer_signature(x, model.predict(x)), name="bench", version=1)
    try:
        config = ServeConfig(offload_body_bytes=offload)
    except TypeError:  # a dockyard from before offloading: everything inline
        config = ServeConfig()
    app = create_app([rt], config)
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools"
    )


def _bodies() -> tuple[bytes, bytes]:
    import numpy as np
    import orjson

    rng = np.random.default_rng(0)
    small = orjson.dumps({"instances": rng.normal(size=(1, N_FEATURES)).tolist()})
    large = orjson.dumps({"instances": rng.normal(size=(LARGE_ROWS, N_FEATURES)).tolist()})
    return small, large


async def _closed_loop(
    port: int, payload: bytes, stop: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            writer.write(payload)
            await writer.drain()
            status = await read_status(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def measure(port: int, seconds: float, small: int, large: int) -> dict[str, Any]:
    small_body, large_body = _bodies()
    small_req = request_bytes("POST", "/predict", small_body)
    large_req = request_bytes("POST", "/predict", large_body)
    assert len(large_body) < 8 * 1024 * 1024, len(large_body)
    # warm-up (the first large body also starts the decoder process)
    await _closed_loop(port, small_req, time.perf_counter() + 0.5, [], [])
    if large:
        await _closed_loop(port, large_req, time.perf_counter() + 0.1, [], [])
    stop = time.perf_counter() + seconds
    small_lat: list[float] = []
    large_lat: list[float] = []
    errors: list[int] = []
    tasks = [_closed_loop(port, small_req, stop, small_lat, errors) for _ in range(small)]
    tasks += [_closed_loop(port, large_req, stop, large_lat, errors) for _ in range(large)]
    await asyncio.gather(*tasks)
    small_lat.sort()

    def pct(p: float) -> float:
        return small_lat[min(len(small_lat) - 1, int(len(small_lat) * p))] * 1000

    return {
        "requests": len(small_lat),
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "large": len(large_lat),
        "large_ms": statistics.median(large_lat) * 1000 if large_lat else float("nan"),
        "large_mb": len(large_body) / 1e6,
        "errors": len(errors),
    }


def run(offload: int, args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    port = free_port()
    proc = spawn(__file__, "--serve", str(port), "--offload", str(offload))
    try:
        wait_listening(port, timeout=60)
        out = []
        for r in range(args.rounds):
            for label, large in (("alone", 0), (f"with {args.large} x 7 MB", args.large)):
                figures = asyncio.run(measure(port, args.seconds, args.small, large))
                out.append((f"{label} (round {r + 1})", figures))
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--small", type=int, default=4, help="small-request connections")
    parser.add_argument("--large", type=int, default=8, help="large-body connections")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--offload", type=int, default=256 * 1024, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.offload)
        return
    import dockyard

    print(f"dockyard from {Path(dockyard.__file__).parent}")
    started = time.perf_counter()
    rows = []
    for name, offload in (("offload (256 KiB)", 256 * 1024), ("inline (before)", 0)):
        for label, figures in run(offload, args):
            rows.append((name, label, figures))
    print(
        f"\nsmall requests: 1 row, {args.small} connections; large: {LARGE_ROWS} rows "
        f"({rows[-1][2]['large_mb']:.1f} MB) each, {args.large} connections, closed loops\n"
    )
    print(
        f"{'decoding':18} {'small clients':26} {'reqs':>6} {'p50 ms':>8} {'p90 ms':>8} "
        f"{'p99 ms':>8} {'large':>6} {'large p50 ms':>13} {'errors':>6}"
    )
    for name, label, f in rows:
        print(
            f"{name:18} {label:26} {f['requests']:6d} {f['p50']:8.2f} {f['p90']:8.2f} "
            f"{f['p99']:8.2f} {f['large']:6d} {f['large_ms']:13.1f} {f['errors']:6d}"
        )
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
