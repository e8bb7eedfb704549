"""Pipeline orchestration overhead, measured against plain function calls in one run.

    .venv/bin/python benchmarks/bench_pipelines.py

Prints, for each capability, the figure, its floor (the same work without dockyard),
and the target from the foundation issue. Everything runs on the embedded stack (SQLite
in WAL mode + local folder), with every step's record and artifact persisted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _project() -> Path:
    root = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    os.environ["DOCKYARD_HOME"] = str(root)
    os.chdir(root)
    return root


def _chain(n: int):
    from dockyard import pipeline, step

    @step
    def inc(x: int) -> int:
        return x + 1

    @step
    def start() -> int:
        return 0

    @pipeline
    def chain() -> None:
        x = start()
        for _ in range(n - 1):
            x = inc(x)

    def plain() -> int:
        x = 0
        for _ in range(n - 1):
            x = x + 1
        return x

    return chain, plain


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def per_step_overhead(n: int) -> tuple[float, float]:
    chain, plain = _chain(n)
    fresh = chain.with_options(enable_cache=False)
    fresh()  # warm: schema, imports, code fingerprints
    t_pipe = statistics.median(best_of(fresh, 1) for _ in range(5))
    t_plain = best_of(plain, 5)
    return t_pipe, t_plain


def cached_rerun(n: int) -> float:
    chain, _ = _chain(n)
    chain()
    return statistics.median(best_of(chain, 1) for _ in range(5))


def import_time() -> tuple[float, float, list[str]]:
    code = (
        "import sys, time; t=time.perf_counter(); import dockyard; "
        "print(time.perf_counter()-t); "
        "print(','.join(m for m in ('pandas','numpy','sklearn','fastapi','dask','sqlalchemy') if m in sys.modules))"
    )
    runs = []
    heavy = ""
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True
        ).stdout.split("\n")
        runs.append(float(out[0]))
        heavy = out[1]
    floor = []
    for _ in range(5):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import time; t=time.perf_counter(); import json; print(time.perf_counter()-t)",
            ],
            capture_output=True,
            text=True,
        ).stdout
        floor.append(float(out))
    return min(runs), min(floor), [m for m in heavy.split(",") if m]


def parallel_sleep() -> float:
    from dockyard import pipeline, step
    from dockyard.stacks.config import DEFAULT_STACK_CONFIG, ProjectConfig

    config = ProjectConfig.load(Path(os.environ["DOCKYARD_HOME"]))
    config.register(
        "par", {**DEFAULT_STACK_CONFIG, "orchestrator": {"flavor": "local-parallel", "workers": 4}}
    )
    config.save()

    @step(enable_cache=False)
    def nap(i: int) -> int:
        time.sleep(1.0)
        return i

    @pipeline
    def naps() -> None:
        for i in range(4):
            nap(i=i)

    run = naps.with_options(stack="par")
    return best_of(run, 2)


def runs_list(count: int) -> tuple[float, float]:
    from datetime import UTC, datetime

    from dockyard.stacks.stack import load_stack

    md = load_stack().metadata_store
    existing = len(md.list_runs(limit=count + 1))
    t0 = time.perf_counter()
    for i in range(existing, count):
        run = md.create_run("bulk", spec={"invocations": {}}, params={"i": i}, stack="default")
        md.finish_run(run.id, "completed")
    print(
        f"    (inserted {count - existing} runs in {time.perf_counter() - t0:.1f} s at {datetime.now(UTC):%H:%M:%S})"
    )
    cmd = [sys.executable, "-m", "dockyard", "runs", "list"]
    env = {**os.environ, "COLUMNS": "120"}
    t_cli = best_of(lambda: subprocess.run(cmd, capture_output=True, env=env, check=True), 5)
    t_floor = best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 5)
    return t_cli, t_floor


def main() -> None:
    _project()
    rows = []
    for n in (20, 100):
        t_pipe, t_plain = per_step_overhead(n)
        per_step = (t_pipe - t_plain) / n
        rows.append((f"{n}-step chain, per-step overhead", f"{per_step * 1000:.2f} ms",
                     f"plain calls {t_plain * 1e6:.0f} us total", "< 2 ms",
                     f"{per_step * 1000 / 2:.2f}x of target"))  # fmt: skip
    t_cached = cached_rerun(20)
    rows.append(("20-step chain, fully cached rerun", f"{t_cached * 1000:.1f} ms", "-", "< 50 ms",
                 f"{t_cached * 1000 / 50:.2f}x of target"))  # fmt: skip
    t_imp, t_floor, heavy = import_time()
    rows.append(("import dockyard", f"{t_imp * 1000:.1f} ms", f"import json {t_floor * 1000:.2f} ms",
                 "< 150 ms", f"heavy modules loaded: {heavy or 'none'}"))  # fmt: skip
    t_par = parallel_sleep()
    rows.append(("4 x sleep(1 s) on local-parallel, 4 workers", f"{t_par:.3f} s", "1.000 s (one sleep)",
                 "< 1.1 s", f"{t_par:.2f}x of floor"))  # fmt: skip
    t_cli, t_py = runs_list(10_000)
    rows.append(("dockyard runs list, 10,000 runs stored", f"{t_cli * 1000:.0f} ms",
                 f"python -c pass {t_py * 1000:.0f} ms", "< 500 ms", f"{t_cli / t_py:.1f}x of floor"))  # fmt: skip

    width = [max(len(r[i]) for r in rows) for i in range(5)]
    head = ("capability", "measured", "floor", "target", "ratio")
    print("  ".join(h.ljust(w) for h, w in zip(head, width, strict=True)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)))


if __name__ == "__main__":
    main()
