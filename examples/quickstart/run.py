"""The quickstart's main job, end to end on the embedded defaults (no server, no Docker).

1. the iris data lands in the lake and a pipeline trains a classifier on it; 2. a rerun is
served from the cache;
3. the model is registered and made ``production``; 4. ``dockyard serve`` answers real
requests; 5. a second version, trained with other parameters by the same pipeline, is
rolled out as a canary behind the gateway while traffic flows, printing each decision;
6. new rows land in the data lake and a batch job scores them with ``iris@production``;
7. a stream consumer scores events with ``iris@production`` on the embedded in-memory bus
(or the broker ``DOCKYARD_QUICKSTART_BUS`` names), a poison message lands in the dead-letter
topic, and dockyard's own events of the quickstart are printed.

``bash scripts/quickstart.sh`` installs dockyard and runs this file.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
from sklearn.datasets import load_iris

from dockyard import load_stack
from dockyard.lake import open as open_lake
from dockyard.registry import get_model_version, training_datasets

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import FEATURES, land_raw_data, training  # the example's own module

ROWS = [
    [5.1, 3.5, 1.4, 0.2],
    [6.4, 3.2, 4.5, 1.5],
    [6.7, 3.0, 5.2, 2.3],
    [5.9, 3.0, 4.2, 1.5],
    [6.3, 2.5, 5.0, 1.9],
    [4.9, 3.1, 1.5, 0.1],
]


def dockyard(*args: str, stream: bool = False) -> str:
    """Run the dockyard CLI as a user would; print its output when asked to."""
    cmd = [sys.executable, "-m", "dockyard", *args]
    if stream:
        subprocess.run(cmd, check=True)
        return ""
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready in {timeout:.0f} s")


def train_and_register() -> int:
    print("== 1. Train: the pipeline runs on the embedded stack (in-process, SQLite, local lake)")
    print(f"   the training data is lake://raw/iris@{land_raw_data()} (a Delta table)")
    run = training(C=0.5)
    for name, s in run.steps.items():
        print(f"   {name:<10} {s.status:<10} {1000 * (s.duration_s or 0):7.1f} ms")
    metrics = run.steps["evaluate"].outputs["metrics"].load()
    print(f"   run {run.id[:8]}: accuracy={metrics['accuracy']:.3f} f1={metrics['f1_macro']:.3f}")

    print("== 2. Run again: every step is a cache hit")
    again = training(C=0.5)
    hits = sum(s.cache_hit for s in again.steps.values())
    print(f"   run {again.id[:8]}: {hits}/{len(again.steps)} steps from cache")

    print("== 3. Register: the model version carries its run, metrics and signature")
    version = run.steps["register"].outputs["version"].load()
    load_stack().registry_store.set_alias("iris", "production", version)
    record = get_model_version("iris@production")
    columns = ", ".join(record.signature.column_names) if record.signature else "-"
    print(f"   iris:{record.version} is production (run {record.run_id[:8]}, inputs: {columns})")
    trained_on = ", ".join(use.ref for use in training_datasets(record))
    print(f"   its lineage: trained on {trained_on}")
    return int(version)


def serve_and_ask() -> None:
    print("== 4. Serve: dockyard serve iris@production, and a few real requests")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dockyard", "serve", "iris@production", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/v2/health/ready")
        answer = httpx.post(f"{base}/predict", json={"instances": ROWS[:3]}).json()
        print(f"   POST /predict {ROWS[:3]} -> {answer}")
        records = [dict(zip(FEATURES, ROWS[3], strict=True))]
        answer = httpx.post(f"{base}/predict", json={"records": records}).json()
        print(f"   POST /predict records -> {answer}")
        v2 = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROWS[4]}]}
        answer = httpx.post(f"{base}/v2/models/iris/infer", json=v2).json()
        print(f"   POST /v2/models/iris/infer -> outputs {answer['outputs']}")
        bad = httpx.post(f"{base}/predict", json={"instances": [[1.0, "x", 2.0, 3.0]]})
        print(f"   a bad request gets {bad.status_code}: {bad.json()['error']}")
    finally:
        server.terminate()
        server.wait(timeout=30)


class Traffic(threading.Thread):
    """Steady client traffic to the gateway, bounded in count and time."""

    def __init__(self, url: str, max_requests: int = 20_000, max_seconds: float = 300) -> None:
        super().__init__(daemon=True)
        self.url, self.max_requests, self.max_seconds = url, max_requests, max_seconds
        self.stop = threading.Event()
        self.sent = self.failed = 0
        self.by_version: dict[str, int] = {}

    def run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(timeout=5.0) as client:
            while not self.stop.is_set() and self.sent < self.max_requests:
                if time.monotonic() > deadline:
                    break
                self.sent += 1
                try:
                    r = client.post(self.url, json={"instances": [random.choice(ROWS)]})
                    r.raise_for_status()
                    version = r.headers.get("x-model-version", "?")
                    self.by_version[version] = self.by_version.get(version, 0) + 1
                except httpx.HTTPError:
                    self.failed += 1
                time.sleep(0.005)


def canary(stable: int) -> None:
    print("== 5. Canary: version 2, trained with C=0.05 by the same pipeline, goes live by steps")
    run = training(C=0.05)
    candidate = run.steps["register"].outputs["version"].load()
    print(f"   trained and registered iris:{candidate}")
    port = free_port()
    dockyard("deploy", "iris-api", "--model", "iris@production", "--port", str(port), "--wait")
    gateway = f"http://127.0.0.1:{port}"
    wait_ready(f"{gateway}/gateway/health")
    print(f"   iris-api serves iris:{stable} behind the gateway on {gateway}")
    traffic = Traffic(f"{gateway}/predict")
    traffic.start()
    try:
        dockyard(
            "deploy", "iris-api", "--model", f"iris:{candidate}", "--strategy", "canary",
            "--steps", "20,50,100", "--interval", "3s", "--min-requests", "40",
            "--max-error-rate", "0.02", "--max-p99-ms", "250", "--max-divergence", "0.35",
            "--wait", "--timeout", "180",
            stream=True,
        )  # fmt: skip
    finally:
        traffic.stop.set()
        traffic.join(timeout=10)
    print("   decisions, as recorded:")
    print("   " + dockyard("rollout", "history", "iris-api").strip().replace("\n", "\n   "))
    now = get_model_version("iris@production").version
    print(
        f"   client traffic: {traffic.sent} requests, {traffic.failed} failed, "
        f"answered by version {traffic.by_version}; iris@production is now iris:{now}"
    )
    dockyard("deployments", "down", "iris-api")


def batch_scoring() -> None:
    print("== 6. Batch: new rows land in the lake; a batch job scores them with iris@production")
    rows = pd.DataFrame(load_iris().data, columns=FEATURES)
    rows.insert(0, "flower_id", range(len(rows)))
    lake = open_lake()
    version = lake.write("curated/iris", rows, mode="overwrite")
    print(f"   wrote {len(rows)} rows to the lake as curated/iris (version {version})")
    summary = dockyard(
        "batch", "run", "iris@production", "--input", "lake://curated/iris",
        "--output", "lake://predictions/iris", "--id-column", "flower_id",
    )  # fmt: skip
    print("   " + summary.strip().replace("\n", "\n   "))
    head = dockyard("lake", "head", "predictions/iris", "-n", "3")
    print("   " + head.strip().replace("\n", "\n   "))


def stream_scoring() -> None:
    print("== 7. Events: a stream consumer scores events with iris@production")
    from dockyard.events import Outgoing, consume, open_bus

    bus_url = os.environ.get("DOCKYARD_QUICKSTART_BUS", "memory://quickstart")
    suffix = f"{os.getpid()}"
    topic, out, dead = f"iris.events.{suffix}", f"iris.predictions.{suffix}", f"iris.dead.{suffix}"
    rows = load_iris().data
    events = [
        {"id": i, "features": dict(zip(FEATURES, map(float, rows[i % len(rows)]), strict=True))}
        for i in range(300)
    ]

    async def publish() -> None:
        async with await open_bus(bus_url) as bus:
            for name in (topic, out, dead):  # a reader group before anything is published
                await bus.create_group(name, "quickstart")
            messages = [Outgoing(json.dumps(e).encode(), key=str(e["id"])) for e in events]
            messages.append(Outgoing(b"{not json", key="poison"))
            await bus.publish_many(topic, messages)

    asyncio.run(publish())
    started = time.perf_counter()
    stats = consume(
        "iris@production", bus=bus_url, input=topic, output=out, group="quickstart",
        dead_letter=dead, max_batch=64, max_messages=len(events) + 1, idle_exit_s=5.0,
    )  # fmt: skip
    took = time.perf_counter() - started
    print(
        f"   {stats.scored} events scored in {stats.model_calls} model calls "
        f"({stats.scored / took:,.0f} events/s on {bus_url.split('://')[0]}), "
        f"{stats.dead_lettered} dead-lettered"
    )

    async def read() -> tuple[list[dict], list[str]]:
        async with await open_bus(bus_url) as bus:
            got = await bus.consume(out, "quickstart", "reader", max_messages=3, timeout=2.0)
            letters = await bus.consume(dead, "quickstart", "reader", timeout=2.0)
            return [json.loads(m.payload) for m in got], [
                m.headers.get("dead-letter-reason", "?") for m in letters
            ]

    predictions, reasons = asyncio.run(read())
    for p in predictions:
        print(f"   prediction: id {p['id']} -> {p['prediction']} (iris:{p['version']})")
    print(f"   dead letter: {reasons[0] if reasons else 'none'}")
    print("   dockyard's own events of this quickstart (dockyard events tail):")
    tail = dockyard("events", "tail", "--no-follow", "-n", "8")
    print("   " + tail.strip().replace("\n", "\n   "))


def main() -> None:
    stable = train_and_register()
    serve_and_ask()
    canary(stable)
    batch_scoring()
    stream_scoring()


if __name__ == "__main__":
    main()
