"""Stream scoring through Redis Streams: events/s and end-to-end latency.

In a temporary project (a logistic regression on 4 features registered as ``bench``),
measured in one run, on topics of their own in Redis database 10:

1. **Throughput.** ``--events`` events published first, then consumed until all are
   scored by ``dockyard.events.consume`` (the shared runtime's validation, dead-letter
   checks, confirmed publish before ack) with batching (``--max-batch 64``) and without
   (``--max-batch 1``), against a hand-written redis-py loop doing the same work in the
   same process: ``XREADGROUP`` (COUNT 64 or 1), ``json.loads``, ``model.predict`` on a
   stacked array, a pipelined ``XADD`` of the predictions and ``XACK``. Best of
   ``--repeat``. Targets: >= 5,000 events/s batched and >= 60% of the hand-written loop.
2. **Latency.** ``python -m dockyard consume`` in a subprocess while this process offers
   ``--rate`` events/s (2,000) for ``--seconds``; latency is the output entry's Redis id
   (server milliseconds at ``XADD``) minus its input entry's id: from publish to the
   prediction stored, on one clock. p50 / p99 (target: p99 <= 50 ms).
3. ``--buses nats://...,amqp://...``: throughput of the dockyard consumer on those too
   (no hand-written loop there).

    .venv/bin/python benchmarks/bench_events.py [--events 20000] [--repeat 3]
        [--rate 2000] [--seconds 5] [--buses nats://127.0.0.1:4222,amqp://guest:guest@127.0.0.1:5672/]

Bounded: well under a minute at the defaults on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

REDIS = "redis://127.0.0.1:6379/10"
FEATURES = ["f0", "f1", "f2", "f3"]


def setup(root: Path) -> Any:
    os.environ["DOCKYARD_HOME"] = str(root)
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from dockyard.registry import register_model
    from dockyard.stacks.stack import clear_cache

    clear_cache()
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(2_000, 4)), columns=FEATURES)
    model = LogisticRegression().fit(x, (x.f0 + x.f1 > 0).astype(int))
    register_model("bench", model, sample=x)
    return model


def payloads(n: int) -> list[bytes]:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(n, 4)).round(4).tolist()
    return [
        json.dumps({"id": i, "features": dict(zip(FEATURES, row, strict=True))}).encode()
        for i, row in enumerate(values)
    ]


async def publish(url: str, topic: str, items: list[bytes], groups: list[str]) -> None:
    from dockyard.events import Outgoing, open_bus

    async with await open_bus(url) as bus:
        for g in groups:
            await bus.create_group(topic, g)
        for start in range(0, len(items), 1000):
            chunk = items[start : start + 1000]
            await bus.publish_many(
                topic, [Outgoing(p, f"{topic}-{start + k}") for k, p in enumerate(chunk)]
            )


async def delete(url: str, *topics: str) -> None:
    from dockyard.events import open_bus

    async with await open_bus(url) as bus:
        for t in topics:
            await bus.delete_topic(t, groups=["scorers", "hand", "check"])


def dockyard_run(url: str, n: int, max_batch: int) -> float:
    """Seconds for ``dockyard.events.consume`` to score ``n`` waiting events (from the
    model loaded and the bus connected, as the hand-written loop starts with both)."""
    from dockyard.events import consume

    base = f"bench{uuid.uuid4().hex[:8]}"
    asyncio.run(publish(url, f"{base}.in", payloads(n), ["scorers"]))
    asyncio.run(_create_group(url, f"{base}.out"))  # RabbitMQ keeps only bound messages
    started = [0.0]

    def on_start(config: Any, runtime: Any) -> None:  # model loaded: the stream starts
        started[0] = time.perf_counter()

    try:
        stats = consume(
            "bench",
            bus=url,
            input=f"{base}.in",
            output=f"{base}.out",
            name="bench-1",
            max_batch=max_batch,
            max_messages=n,
            idle_exit_s=10,
            on_start=on_start,
        )
        took = time.perf_counter() - started[0]
        assert stats.scored == n, stats
        return took
    finally:
        asyncio.run(delete(url, f"{base}.in", f"{base}.out", f"{base}.in.dead"))


async def _create_group(url: str, topic: str) -> None:
    from dockyard.events import open_bus

    async with await open_bus(url) as bus:
        await bus.create_group(topic, "check")


def hand_written(n: int, count: int, model: Any) -> float:
    """The same work on redis-py directly: XREADGROUP, parse, predict, XADD, XACK."""
    import redis.asyncio as aioredis

    base = f"hand{uuid.uuid4().hex[:8]}"
    src, dst = f"{base}.in", f"{base}.out"
    asyncio.run(publish(REDIS, src, payloads(n), ["hand"]))

    async def loop() -> float:
        r = aioredis.Redis.from_url(REDIS)
        try:
            done = 0
            started = time.perf_counter()
            for _ in range(10 * n):  # bounded: ends when all are scored
                if done >= n:
                    break
                reply = await r.xreadgroup("hand", "h1", {src: ">"}, count=count, block=1000)
                if not reply:
                    continue
                entries = reply[0][1]
                bodies = [json.loads(fields[b"data"]) for _, fields in entries]
                x = np.array([[b["features"][f] for f in FEATURES] for b in bodies])
                with warnings.catch_warnings():  # fitted on a DataFrame, given an array
                    warnings.simplefilter("ignore", UserWarning)
                    pred = model.predict(x)
                pipe = r.pipeline(transaction=False)
                for b, p in zip(bodies, pred.tolist(), strict=True):
                    pipe.xadd(dst, {b"data": json.dumps({"id": b["id"], "prediction": p})})
                pipe.xack(src, "hand", *[eid for eid, _ in entries])
                await pipe.execute()
                done += len(entries)
            return time.perf_counter() - started
        finally:
            await r.delete(src, dst)
            await r.aclose()

    return asyncio.run(loop())


def latency(root: Path, rate: int, seconds: float) -> tuple[float, float, int]:
    """p50 and p99 ms from publish to prediction stored, at ``rate`` events/s offered."""
    import redis

    base = f"lat{uuid.uuid4().hex[:8]}"
    src, dst = f"{base}.in", f"{base}.out"
    env = {**os.environ, "DOCKYARD_HOME": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockyard", "consume", "bench", "--bus", REDIS, "--in", src,
         "--out", dst, "--name", "lat-1", "--exit-when-idle", "2"],
        env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    first = proc.stdout.readline() if ready else ""
    if not first.startswith("Consuming"):
        proc.kill()
        raise SystemExit(f"the consumer did not start: {first}{proc.communicate()[0]}")
    r = redis.Redis.from_url(REDIS)
    items = payloads(int(rate * seconds))
    step = 0.01  # publish rate/100 events every 10 ms
    per_step = max(1, int(rate * step))
    started = time.monotonic()
    for k, start in enumerate(range(0, len(items), per_step)):
        pause = started + k * step - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        pipe = r.pipeline(transaction=False)
        for p in items[start : start + per_step]:
            pipe.xadd(src, {b"data": p, b"headers": b"{}"})
        pipe.execute()
    try:
        proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    lat = []
    for eid, fields in r.xrange(dst):
        body = json.loads(fields[b"data"])
        out_ms = int(eid.split(b"-")[0])
        in_ms = int(body["input"]["message_id"].split("-")[0])
        lat.append(out_ms - in_ms)
    r.delete(src, dst, f"{src}.dead")
    r.close()
    arr = np.array(lat)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99)), len(lat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rate", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--buses", default="", help="more bus URLs, comma-separated")
    args = parser.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = setup(root)
        rows: dict[str, float] = {}
        for label, fn in (
            ("hand-written batched (COUNT 64)", lambda: hand_written(n, 64, model)),
            ("dockyard batched (--max-batch 64)", lambda: dockyard_run(REDIS, n, 64)),
            ("hand-written unbatched (COUNT 1)", lambda: hand_written(n // 4, 1, model) * 4),
            ("dockyard unbatched (--max-batch 1)", lambda: dockyard_run(REDIS, n // 4, 1) * 4),
        ):
            best = min(fn() for _ in range(args.repeat))
            rows[label] = n / best
            print(f"{label:40s} {n / best:10,.0f} events/s", flush=True)
        for url in filter(None, args.buses.split(",")):
            best = min(dockyard_run(url, n, 64) for _ in range(args.repeat))
            print(f"dockyard batched on {url.split('://')[0]:21s} {n / best:10,.0f} events/s")
        batched = rows["dockyard batched (--max-batch 64)"]
        ratio = batched / rows["hand-written batched (COUNT 64)"]
        unbatched = rows["dockyard unbatched (--max-batch 1)"]
        ratio_1 = unbatched / rows["hand-written unbatched (COUNT 1)"]
        print(f"ratio batched   dockyard / hand-written: {ratio:.2f} (floor 0.60)")
        print(f"ratio unbatched dockyard / hand-written: {ratio_1:.2f}")
        print(f"batched events/s: {batched:,.0f} (floor 5,000)")
        p50, p99, count = latency(root, args.rate, args.seconds)
        print(
            f"latency at {args.rate:,} events/s offered ({count:,} events): "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms (target p99 <= 50 ms)"
        )


if __name__ == "__main__":
    main()
