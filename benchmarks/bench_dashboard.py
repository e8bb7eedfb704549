"""Dashboard page times: the runs list over 10,000 runs, a 200-step run page, the
deployment page during a canary, and the live chart's lag.

In a temporary project: 10,000 runs (two step records each, one a cache hit) recorded
through the metadata store's API, one real 200-step pipeline run, and a real canary
(two model versions behind the gateway at 50/50, client traffic on two threads, the
helpers of ``tests/e2e/rollout_support.py``). ``dockyard dashboard`` runs as a user starts
it (a subprocess under uvicorn); every page is fetched over HTTP on 127.0.0.1 with httpx,
``--repeat`` times, and the median and the worst are printed. Floors measured in the same
run: a static file from the same server (HTTP and framework cost), and the Python API call
behind each page (``page_runs``, ``list_step_runs``, ``rollout.status``).

The live chart polls ``/deployments/NAME/live`` every second; what it shows is at most one
poll interval plus one answer old, so its lag is 1 s + that answer's time (the figures are
read from the gateway when the answer is made).

    .venv/bin/python benchmarks/bench_dashboard.py [--runs 10000] [--repeat 20]

About 1 minute on these machines (most of it recording the runs).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "e2e"), str(ROOT / "tests")]

CHAIN = """
from dockyard import pipeline, step


@step
def inc(x: int = 0) -> int:
    return x + 1


@pipeline
def chain(n: int = 200):
    v = inc()
    for _ in range(n - 1):
        v = inc(v)
"""


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, worst) seconds of ``repeat`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def fill_runs(count: int) -> None:
    from datetime import UTC, datetime, timedelta

    from dockyard.stacks.stack import load_stack

    md = load_stack().metadata_store
    t0 = time.perf_counter()
    start = datetime.now(UTC) - timedelta(hours=1)
    with md.database.transaction():  # type: ignore[attr-defined]
        for i in range(count):
            run = md.create_run("bulk", spec={"invocations": {}}, params={"i": i}, stack="default")
            md.record_step_run(run.id, "load", status="cached", cache_hit=True, started_at=start)
            md.record_step_run(run.id, "train", status="completed", started_at=start)
            md.finish_run(run.id, "completed" if i % 10 else "failed")
    print(f"  recorded {count} runs in {time.perf_counter() - t0:.1f} s", flush=True)


def start_dashboard(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    from support import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockyard", "dashboard", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/static/dashboard.css", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the dashboard did not start in 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from rollout_support import CANARY, Project, Traffic

    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        os.environ["DOCKYARD_HOME"] = str(root)
        os.environ.pop("DOCKYARD_STACK", None)
        os.chdir(root)
        proj = Project(root)
        proj.cli("init")
        (root / "chain.py").write_text(CHAIN)
        proj.cli("run", "chain.py:chain")
        fill_runs(args.runs)
        from dockyard import rollout
        from dockyard.stacks.stack import load_stack

        stack = load_stack()
        md = stack.metadata_store
        chain_id = md.page_runs(pipeline="chain", limit=1).runs[0].run.id
        v1, v2 = proj.register("Good", "Good")
        api = proj.deploy_first("api", v1)
        proc, url = start_dashboard(root, proj.env)
        try:
            with httpx.Client(base_url=url, timeout=30) as c, Traffic(api, threads=2, max_s=300):

                def get(path: str) -> Callable[[], object]:
                    def fetch() -> object:
                        r = c.get(path)
                        assert r.status_code == 200, (path, r.status_code)
                        return r

                    return fetch

                static = timed(get("/static/dashboard.css"), args.repeat)
                rows.append(("static file (HTTP floor)", *_ms(static), "-"))
                first = timed(get("/runs"), args.repeat)
                api_first = timed(lambda: md.page_runs(limit=50), args.repeat)
                rows.append((f"runs list, {args.runs:,} runs, first page", *_ms(first),
                             f"page_runs {api_first[0] * 1000:.1f} ms"))  # fmt: skip
                cursor = None
                for _ in range(100):  # the 101st page: 5,000 runs in
                    cursor = md.page_runs(before=cursor, limit=50).next_cursor
                deep = timed(get(f"/runs?before={cursor}"), args.repeat)
                rows.append(("runs list, page 101 (keyset cursor)", *_ms(deep), "-"))
                failed = timed(get("/runs?status=failed&pipeline=bulk"), args.repeat)
                rows.append(("runs list, filtered: failed runs of a pipeline", *_ms(failed), "-"))
                chain = timed(get(f"/runs/{chain_id}"), args.repeat)
                api_chain = timed(lambda: md.list_step_runs(chain_id), args.repeat)
                rows.append(("200-step run page (timeline)", *_ms(chain),
                             f"list_step_runs {api_chain[0] * 1000:.1f} ms"))  # fmt: skip

                proj.cli("deploy", "api", "--model", f"churn:{v2}", *CANARY, "--steps", "50,100",
                         "--interval", "600s", "--trust-pickle")  # fmt: skip
                proj.wait(lambda: proj.state("api").routes()["weight"] == 50.0, 60, "the canary")
                time.sleep(2)
                page = timed(get("/deployments/api"), args.repeat)
                status = timed(lambda: rollout.status("api", stack=stack), args.repeat)
                rows.append(("deployment page, canary at 50% under traffic", *_ms(page),
                             f"rollout.status {status[0] * 1000:.1f} ms"))  # fmt: skip
                live = timed(get("/deployments/api/live"), args.repeat)
                rows.append(("live figures (JSON + 4 SVG charts)", *_ms(live), "-"))
                rows.append(("live chart lag (1 s poll + answer)",
                             f"{1000 + live[0] * 1000:.0f} ms",
                             f"{1000 + live[1] * 1000:.0f} ms", "target <= 2000 ms"))  # fmt: skip
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
            proj.close()
    print(f"\n| page | median | worst of {args.repeat} | floor / API call |")
    print("| --- | ---: | ---: | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _ms(pair: tuple[float, float]) -> tuple[str, str]:
    return f"{pair[0] * 1000:.1f} ms", f"{pair[1] * 1000:.1f} ms"


if __name__ == "__main__":
    main()
