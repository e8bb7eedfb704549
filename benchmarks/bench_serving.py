"""Serving: ``dockyard serve`` against hand-written servers, throughput, latency and memory.

What it measures (the serving issue's method): a scikit-learn ``LogisticRegression`` on 30
features (``make_classification``, fitted on a pandas DataFrame with named columns) is
registered with ``dockyard.register_model`` in a temporary project (``DOCKYARD_HOME``) and
served by the real CLI, as a user runs it, next to hand-written servers
(``benchmarks/_servers.py``) serving the same fitted object, each its own process on
127.0.0.1, uvicorn with uvloop and httptools:

=========  ==================================================================
``floor``    raw ASGI app answering a constant (the HTTP floor), 2 workers
``leanest``  raw ASGI app, orjson, ``model.predict`` inline, 2 workers
``on``       ``dockyard serve bench:1 --workers 2`` (batching on, the default)
``off``      ``dockyard serve bench:1 --workers 2 --no-batching``
``on-1w``    ``dockyard serve bench:1 --workers 1`` (``--one-worker``)
``off-1w``   ``dockyard serve bench:1 --workers 1 --no-batching`` (``--one-worker``)
``fastapi``  minimal FastAPI app, predict inline, 2 workers (memory baseline; and
             ``fastapi-1w``, 1 worker)
=========  ==================================================================

The dockyard under test is whatever ``import dockyard`` finds (the report names it): to
measure a commit while ``src/`` is being edited, ``git archive HEAD src | tar -x -C DIR``
and run with ``PYTHONPATH=DIR/src``.

Every target gets single-row ``POST /predict`` requests (``{"instances": [[30 floats]]}``)
from ``wrk -t2`` (``-t1`` at concurrency 1: wrk needs a connection per thread) at
concurrency 1, 16 and 64, ``--seconds`` each, ``--rounds`` rounds alternating targets so
drift hits all alike; ``--client loadgen`` uses the raw asyncio generator of
``_loadgen.py`` instead. It prints req/s, p50 and p99 per target and concurrency, then the
ratios the issue sets targets for, with PASS/FAIL.

Memory: after their traffic, the RSS (``/proc/PID/status``) and PSS of each server's whole
process tree (parent, workers, multiprocessing's resource tracker): ``dockyard serve``
with 1 and 2 workers against the FastAPI app with 1 and 2 workers; the native-extension
packages mapped into each parent tell whether it holds a model copy.

Each row also gives the server tree's CPU time per request (``/proc/PID/stat``), which
other work on the machine disturbs less than req/s; the ratios are given both ways.

``--micro``: the costs of the hot path's parts in this process, in CPU time (predict on
numpy vs a DataFrame, validation, DataFrame construction, JSON, the thread hop), and one
request through each ASGI app in process, without a socket.
``--profile``: py-spy (``pip install py-spy``) samples one ``dockyard serve --workers 1``
under wrk load, at c=64 with batching and c=16 without, and prints where the time goes.

    .venv/bin/python benchmarks/bench_serving.py                  # ~3 min: 2 rounds x 4 s
    .venv/bin/python benchmarks/bench_serving.py --one-worker --micro --profile  # ~6 min
    .venv/bin/python benchmarks/bench_serving.py --targets on off --concurrency 64

Bounded: about targets x concurrencies x rounds x (seconds + 0.3) s, plus ~60 s of
start-up and memory, ~80 s for ``--micro``, ~2 x (``--profile-seconds`` + 15) s for
``--profile``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _loadgen import free_port, load, process_tree, tree_cpu, wait_listening  # noqa: E402

BIN = Path(sys.executable).parent
DOCKYARD = str(BIN / "dockyard")
N_FEATURES = 30

# --- the model and the project ----------------------------------------------------------


@dataclass
class Setup:
    dir: Path  # temporary: the dockyard project (DOCKYARD_HOME), the model pickle, logs
    model: Any
    frame: Any  # the training DataFrame
    row: list[float]
    body: bytes
    signature: dict[str, Any]
    lua: Path
    model_file: Path


def make_setup(workdir: Path) -> Setup:
    """Train, register the model in a fresh project, write the pickle and wrk's script."""
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(
        n_samples=5000, n_features=N_FEATURES, n_informative=12, random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(N_FEATURES)])
    model = LogisticRegression(max_iter=1000).fit(frame, y)
    project = workdir / "project"
    project.mkdir()
    os.environ["DOCKYARD_HOME"] = str(project)
    os.environ.pop("DOCKYARD_STACK", None)
    import dockyard

    record = dockyard.register_model("bench", model, sample=frame, stack=dockyard.load_stack())
    model_file = workdir / "model.pkl"
    model_file.write_bytes(pickle.dumps(model))
    row = [round(float(v), 6) for v in x[-1]]
    body = json.dumps({"instances": [row]}).encode()
    lua = workdir / "predict.lua"
    lua.write_text(WRK_SCRIPT.replace("BODY", body.decode()))
    return Setup(
        workdir,
        model,
        frame,
        row,
        body,
        record.signature.to_dict() if record.signature else {},
        lua,
        model_file,
    )


# The done() hook prints exact figures (latencies in µs) as one JSON line.
WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = [==[BODY]==]
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %.0f, "duration_us": %.0f, "non2xx": %.0f, "socket_errors": %.0f, '
    .. '"p50_us": %.0f, "p90_us": %.0f, "p99_us": %.0f, "max_us": %.0f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""

# --- the servers ------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    describe: str
    argv: list[str]
    workers: int
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    memory: dict[str, Any] = field(default_factory=dict)

    def start(self, setup: Setup) -> None:
        self.port = free_port()
        self.log = setup.dir / f"{self.name}.log"
        env = {
            **os.environ,
            "DOCKYARD_HOME": str(setup.dir / "project"),
            "DOCKYARD_BENCH_MODEL": str(setup.model_file),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        }
        argv = [a.replace("PORT", str(self.port)) for a in self.argv]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                argv, cwd=setup.dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, body: bytes, timeout: float = 120.0) -> None:
        """Every worker has started (uvicorn logs it) and a prediction answers 200."""
        assert self.proc is not None
        assert self.log is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            if self.log.read_text().count("Application startup complete") >= self.workers:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log.read_text()}")
        wait_listening(self.port)
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/predict",
            body,
            {"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            if answer.status != 200:
                raise RuntimeError(f"{self.name}: /predict answered {answer.status}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this server started
            self.proc.wait(timeout=5)


def _uvicorn(factory: str, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", f"_servers:{factory}", "--factory",
        "--app-dir", str(HERE), "--workers", str(workers), "--loop", "uvloop",
        "--http", "httptools", "--no-access-log", "--log-level", "info",
        "--host", "127.0.0.1", "--port", "PORT",
    ]  # fmt: skip


def _dockyard(workers: int, batching: bool) -> list[str]:
    argv = [DOCKYARD, "serve", "bench:1", "--port", "PORT", "--workers", str(workers)]
    return argv + ([] if batching else ["--no-batching"])


def server(name: str) -> Server:
    table = {
        "floor": ("raw ASGI, constant answer (HTTP floor)", _uvicorn("floor", 2), 2),
        "leanest": ("raw ASGI, orjson, predict inline", _uvicorn("leanest", 2), 2),
        "fastapi": ("FastAPI app, predict inline", _uvicorn("fastapi_app", 2), 2),
        "fastapi-1w": ("FastAPI app, predict inline", _uvicorn("fastapi_app", 1), 1),
        "on": ("dockyard serve, batching on", _dockyard(2, True), 2),
        "off": ("dockyard serve --no-batching", _dockyard(2, False), 2),
        "on-1w": ("dockyard serve --workers 1, batching on", _dockyard(1, True), 1),
        "off-1w": ("dockyard serve --workers 1 --no-batching", _dockyard(1, False), 1),
    }
    describe, argv, workers = table[name]
    return Server(name, describe, argv, workers)


def start_all(servers: list[Server], setup: Setup) -> None:
    for s in servers:
        s.start(setup)
    for s in servers:
        s.wait_ready(setup.body)


# --- the load -------------------------------------------------------------------------


def run_wrk(port: int, concurrency: int, seconds: int, lua: Path, raw: Any = None) -> dict:
    threads = min(2, concurrency)
    argv = [
        "wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--latency",
        "-s", str(lua), f"http://127.0.0.1:{port}/predict",
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    if raw is not None:
        raw.write(f"$ {' '.join(argv)}\n{out.stdout}{out.stderr}\n")
    match = re.search(r"^RESULT (.*)$", out.stdout, re.M)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    r = json.loads(match.group(1))
    return {
        "requests": r["requests"],
        "errors": r["non2xx"] + r["socket_errors"],
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
    }


def measure(client: str, port: int, conc: int, seconds: int, setup: Setup, raw: Any) -> dict:
    if client == "wrk":
        return run_wrk(port, conc, seconds, setup.lua, raw)
    return asyncio.run(load(port, "/predict", setup.body, seconds, conc))


# --- micro-benchmarks -------------------------------------------------------------------


# CPU time of this process, all threads: other work on the (small, shared) benchmark
# machine does not inflate the figures the way it inflates wall time.
_clock = time.process_time


def _per_call(fn: Any, budget: float = 0.25) -> float:
    """Best of 5 of the mean CPU time of one call (µs)."""
    n = 1
    while True:
        started = _clock()
        for _ in range(n):
            fn()
        if _clock() - started > budget / 5:
            break
        n *= 2
    best = float("inf")
    for _ in range(5):
        started = _clock()
        for _ in range(n):
            fn()
        best = min(best, (_clock() - started) / n)
    return best * 1e6


def _hop_costs() -> dict[str, float]:
    """A no-op's round trip event loop -> thread -> event loop (µs), three ways."""
    import queue
    import threading

    import uvloop

    results: dict[str, float] = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()

        def work() -> None:
            while (job := jobs.get()) is not None:
                job.get_loop().call_soon_threadsafe(job.set_result, None)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        n = 20000

        async def simple() -> None:
            for _ in range(n):
                f = loop.create_future()
                jobs.put(f)
                await f

        async def executor() -> None:
            for _ in range(n // 4):
                await loop.run_in_executor(None, int)

        async def inline() -> None:
            for _ in range(n):
                await asyncio.sleep(0)

        for name, coro, count in (
            ("SimpleQueue thread + call_soon_threadsafe (as ModelThreads)", simple, n),
            ("loop.run_in_executor", executor, n // 4),
            ("await asyncio.sleep(0) (one loop turn, no thread)", inline, n),
        ):
            await coro()  # warm up
            started = _clock()
            await coro()
            results[name] = (_clock() - started) / count * 1e6
        jobs.put(None)

    uvloop.run(main())
    return results


def _asgi_costs(setup: Setup) -> list[tuple[str, float]]:
    """One ``POST /predict`` through an ASGI app in this process, no socket (µs per request,
    sequential, on uvloop): where HTTP serving's own costs are, without wrk's noise."""
    import _servers
    import uvloop
    from fastapi import FastAPI
    from starlette.routing import Route

    os.environ[_servers.MODEL_ENV] = str(setup.model_file)
    body = setup.body
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/predict", "raw_path": b"/predict", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    message = {"type": "http.request", "body": body, "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return message

    async def send(msg: dict[str, Any]) -> None:
        if msg["type"] == "http.response.start":
            statuses.append(msg["status"])

    constant = _servers.floor()
    behind_fastapi = FastAPI()

    class Endpoint:  # an instance, not a function: Starlette calls it as an ASGI app
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await constant(scope, receive, send)

    behind_fastapi.router.routes.insert(0, Route("/predict", Endpoint(), methods=["POST"]))
    apps: list[tuple[str, Any]] = [
        ("raw ASGI constant app (floor)", constant),
        ("the same endpoint as a Route first in a FastAPI app (as dockyard's)", behind_fastapi),
        ("leanest raw ASGI app (orjson, numpy, predict inline)", _servers.leanest()),
    ]
    try:
        from dockyard.registry.signature import Signature
        from dockyard.runtime import ModelRuntime
        from dockyard.serving import ServeConfig, create_app

        sig = Signature.from_dict(setup.signature)

        class NoNames:  # the same model, seen without feature names: gets numpy
            def __init__(self, model: Any) -> None:
                self.predict = model.predict

        for label, model in (("DataFrame to the model", setup.model),
                             ("numpy to the model", NoNames(setup.model))):  # fmt: skip
            for batching in (False, True):
                rt = ModelRuntime(model, sig, name="bench", version=1)
                app = create_app([rt], ServeConfig(batching=batching))
                on = "on" if batching else "off"
                apps.append((f"dockyard create_app, batching {on}, {label}", app))
    except ImportError as exc:  # the serving modules moved
        print(f"(dockyard app not timed in process: {exc})")

    out: list[tuple[str, float]] = []

    async def main() -> None:
        for name, app in apps:

            async def one(app: Any = app) -> None:
                await app(dict(scope), receive, send)

            for _ in range(200):
                await one()
            best = float("inf")
            n = 1000
            for _ in range(5):
                started = _clock()
                for _ in range(n):
                    await one()
                best = min(best, (_clock() - started) / n)
            if set(statuses) != {200}:
                raise RuntimeError(f"{name}: answered {sorted(set(statuses))}")
            statuses.clear()
            out.append((f"ASGI in process: {name}", best * 1e6))

    uvloop.run(main())
    return out


def micro(setup: Setup) -> list[tuple[str, float]]:
    import warnings

    import numpy as np
    import orjson
    import pandas as pd
    import sklearn

    model, columns = setup.model, list(setup.frame.columns)
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    one = np.asarray([setup.row])
    many = setup.frame.to_numpy()[:32].copy()
    one_df = pd.DataFrame(one, columns=columns)
    many_df = pd.DataFrame(many, columns=columns)
    coef, intercept, classes = model.coef_.ravel(), model.intercept_[0], model.classes_
    rows = orjson.loads(setup.body)["instances"]
    out: list[tuple[str, float]] = []

    def add(name: str, fn: Any) -> None:
        out.append((name, _per_call(fn)))

    add("model.predict, 1 row, numpy", lambda: model.predict(one))
    add("model.predict, 1 row, DataFrame", lambda: model.predict(one_df))
    add("model.predict, 32 rows, numpy", lambda: model.predict(many))
    add("model.predict, 32 rows, DataFrame", lambda: model.predict(many_df))
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        add("model.predict, 1 row, numpy, assume_finite", lambda: model.predict(one))
    add("pd.DataFrame(1x30 array, columns=names)", lambda: pd.DataFrame(one, columns=columns))
    index = pd.Index(columns)
    add(
        "pd.DataFrame(1x30 array, columns=a cached Index)",
        lambda: pd.DataFrame(one, index=None, columns=index),
    )
    add("pd.DataFrame(32x30 array, columns=names)", lambda: pd.DataFrame(many, columns=columns))
    add(
        "pure numpy: classes[(x @ coef + b) > 0], 1 row",
        lambda: classes[(one @ coef + intercept > 0).astype(int)],
    )
    from dockyard.registry.signature import Signature
    from dockyard.runtime import Validator

    validator = Validator(Signature.from_dict(setup.signature))
    add("Validator.rows_to_batch([row]) (validation)", lambda: validator.rows_to_batch(rows))
    add("orjson.loads(body)", lambda: orjson.loads(setup.body))
    add("np.asarray(rows, dtype=float)", lambda: np.asarray(rows, dtype=float))
    answer = model.predict(one)
    add(
        "orjson.dumps(answer, OPT_SERIALIZE_NUMPY)",
        lambda: orjson.dumps(
            {"predictions": answer, "model": "bench", "version": 1},
            option=orjson.OPT_SERIALIZE_NUMPY,
        ),
    )
    for name, us in _hop_costs().items():
        out.append((f"hop: {name}", us))
    return out + _asgi_costs(setup)


# --- profile ------------------------------------------------------------------------------

# Where a sample's time goes: the deepest frame matching a rule (file part, qualified
# function name) names its bucket; for one frame, the last matching rule wins. The file
# parts are loose ("dockyard/.*batching") so the rules survive modules moving.
BUCKETS: list[tuple[str, str, str]] = [
    ("event loop: uvloop C code, socket reads/writes", r"(uvloop|asyncio)/", r".*"),
    ("uvicorn (other)", r"uvicorn/", r".*"),
    ("uvicorn httptools protocol (parse, send)", r"uvicorn/protocols/http/", r".*"),
    ("Starlette/FastAPI routing & middleware", r"(starlette|fastapi)/", r".*"),
    ("dockyard handle() (own code)", r"dockyard/", r".*"),
    ("dockyard handle() (own code)", r"dockyard/", r"_Endpoint\.__call__$"),
    ("body read", r"dockyard/", r"read_body$"),
    ("_predict: orjson.loads/dumps + checks", r"dockyard/", r"_predict$"),
    ("validation (Validator.rows_to_batch)", r"dockyard/.*validation", r".*"),
    ("batcher (MicroBatcher)", r"dockyard/.*batching", r"^MicroBatcher\.|^_settle$"),
    ("ModelThreads hop (queue, thread wake-ups)", r"dockyard/.*batching", r"^ModelThreads\.|^_resolve$"),
    ("ModelThreads hop (queue, thread wake-ups)", r"(threading|queue)\.py", r".*"),
    ("predict wrapper (ModelRuntime, PredictAdapter)", r"dockyard/runtime/(model|adapters)", r".*"),
    ("concat/split batches", r"dockyard/.*validation", r"(concat_batches|split_batch|batch_rows)$"),
    ("DataFrame construction (ModelRuntime.model_input)", r"(pandas|narwhals)/", r".*"),
    ("sklearn predict: input checks (validate_data, check_array, feature names)", r"sklearn/", r".*"),
    ("sklearn predict: math", r"sklearn/", r"(decision_function|safe_sparse_dot)$"),
    ("prometheus metrics", r"prometheus_client/", r".*"),
    ("prometheus metrics", r"dockyard/", r"_Metrics\.observe$"),
    ("response: numpy -> JSON", r"dockyard/", r"^_jsonable$"),
]  # fmt: skip
# pandas (or narwhals) under sklearn's checks is sklearn reading the DataFrame back.
_PANDAS_UNDER_SKLEARN = "sklearn predict: reading the DataFrame back (pandas, narwhals)"


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:]*)(?::(?P<line>\d+))?\)$")


def _frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for part in stack.split(";"):
        m = _FRAME.match(part.strip())
        out.append((m.group("func"), m.group("file")) if m else (part.strip(), ""))
    return out


def _bucket(frames: list[tuple[str, str]]) -> str:
    bucket = "other"
    for func, file in frames:
        for name, file_re, func_re in BUCKETS:
            if re.search(file_re, file) and re.search(func_re, func):
                if name.startswith("DataFrame construction") and bucket.startswith("sklearn"):
                    name = _PANDAS_UNDER_SKLEARN
                elif name.startswith("sklearn predict: input") and bucket == _PANDAS_UNDER_SKLEARN:
                    continue
                bucket = name
    return bucket


def summarize_profile(raw_file: Path, top: int = 20) -> str:
    """py-spy's collapsed stacks (``--format raw --threads``) as a readable breakdown."""
    samples: list[tuple[str, list[tuple[str, str]], int]] = []
    for line in raw_file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = _frames(stack)
        if frames and frames[0][0].startswith("thread ("):  # "thread (TID): NAME"
            thread, frames = frames[0][0].partition(": ")[2] or frames[0][0], frames[1:]
        else:
            thread = "?"
        samples.append((thread, frames, int(count)))
    total = sum(c for *_, c in samples) or 1
    lines = [f"{total} samples"]
    by_thread: Counter[str] = Counter()
    for thread, _, c in samples:
        by_thread[thread] += c
    lines.append(
        "by thread: " + ", ".join(f"{t} {c / total:.0%}" for t, c in by_thread.most_common())
    )
    buckets: Counter[str] = Counter()
    thread_buckets: defaultdict[str, Counter[str]] = defaultdict(Counter)
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    for thread, frames, c in samples:
        b = _bucket(frames)
        buckets[b] += c
        thread_buckets[thread][b] += c
        if frames:
            own[_label(frames[-1])] += c
        for label in {_label(f) for f in frames if not _SCAFFOLD.search(f"{f[0]} ({f[1]})")}:
            cumulative[label] += c
    lines.append("\nbreakdown (each sample to the deepest matching part of the hot path):")
    for b, c in buckets.most_common():
        per = "; ".join(f"{t} {tb[b] / total:.1%}" for t, tb in thread_buckets.items() if tb[b])
        lines.append(f"  {c / total:6.1%}  {b}   [{per}]")
    lines.append(f"\ntop {top} by self time:")
    lines += [f"  {c / total:6.1%}  {f}" for f, c in own.most_common(top)]
    lines.append(f"\ntop {top} by cumulative time:")
    lines += [f"  {c / total:6.1%}  {f}" for f, c in cumulative.most_common(top)]
    return "\n".join(lines)


# Frames every sample of a thread sits under (start-up, the loop's runner, the thread).
_SCAFFOLD = re.compile(
    r"typer/|click/|threading\.py|asyncio/runners|uvicorn/(main|server|_compat)\.py|"
    r"dockyard/cli/|dockyard/__main__|serving/server\.py|^<module>|^\(dockyard\)|"
    r"^<frozen|runpy\.py|bin/dockyard"
)


def _label(frame: tuple[str, str]) -> str:
    func, file = frame
    short = re.sub(r".*site-packages/", "", file)
    short = re.sub(r".*/(lib/python3[.\d]*|src)/", "", short)
    return f"{func} ({short})" if short else func


def profile(setup: Setup, seconds: int, rate: int, raw: Any, gil: bool = False) -> str:
    pyspy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if pyspy is None:
        return "py-spy is not installed: .venv/bin/pip install py-spy"
    report = []
    for name, conc in (("on-1w", 64), ("off-1w", 16)):
        s = server(name)
        s.start(setup)
        try:
            s.wait_ready(setup.body)
            assert s.proc is not None
            run_wrk(s.port, conc, 2, setup.lua)  # warm up
            out = setup.dir / f"profile-{name}-c{conc}.txt"
            spy = subprocess.Popen(
                [pyspy, "record", "-p", str(s.proc.pid), "-r", str(rate), "-d", str(seconds),
                 "--nonblocking", "--threads", "--format", "raw", "-o", str(out),
                 *(["--gil"] if gil else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            time.sleep(0.5)
            load_ = run_wrk(s.port, conc, seconds, setup.lua, raw)
            _, err = spy.communicate(timeout=seconds + 60)
            if not out.exists():
                report.append(f"{name}: py-spy wrote nothing:\n{err}")
                continue
            tag = f"{name}_c{conc}{'_gil' if gil else ''}"
            kept = Path(tempfile.gettempdir()) / f"bench_serving_profile_{tag}.txt"
            shutil.copy(out, kept)
            report.append(
                f"\n### profile: {s.describe}, c={conc}, py-spy {rate} Hz for {seconds} s"
                f"{' (--gil: GIL holder only)' if gil else ''} "
                f"(under profiling: {load_['rps']:.0f} req/s, p99 {load_['p99_ms']:.1f} ms); "
                f"raw stacks in {kept}\n" + summarize_profile(out)
            )
        finally:
            s.stop()
    return "\n".join(report)


# --- the report ---------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(args: argparse.Namespace, servers: list[Server], results: dict) -> list[str]:
    import dockyard

    lines = [
        f"\ndockyard from {Path(dockyard.__file__).parent}",
        f"\nServing, single-row POST /predict, 30-feature LogisticRegression; "
        f"{args.rounds} x {args.seconds} s per target and concurrency; client "
        f"{'wrk -t2 (-t1 at c=1)' if args.client == 'wrk' else 'raw asyncio loadgen'}; "
        f"{os.cpu_count()} CPUs; load average at the end {os.getloadavg()[0]:.1f}\n",
        "| target  | server                                   | conc |   req/s | "
        "rounds req/s    | p50 ms | p99 ms | CPU µs/req | errors |",
        "| ------- | ---------------------------------------- | ---: | ------: | "
        "--------------- | -----: | -----: | ---------: | -----: |",
    ]

    def figure(name: str, conc: int, key: str) -> float:
        rounds = results.get((name, conc))
        return statistics.fmean(r[key] for r in rounds) if rounds else float("nan")

    for s in servers:
        for conc in args.concurrency:
            rounds = results[(s.name, conc)]
            spread = " / ".join(f"{r['rps']:.0f}" for r in rounds)
            lines.append(
                f"| {s.name:<7} | {s.describe:<40} | {conc:>4} | {figure(s.name, conc, 'rps'):>7.0f} "
                f"| {spread:<15} | {figure(s.name, conc, 'p50_ms'):>6.2f} "
                f"| {figure(s.name, conc, 'p99_ms'):>6.2f} | {figure(s.name, conc, 'cpu_us'):>10.0f} "
                f"| {sum(r['errors'] for r in rounds):>6} |"
            )
    names = {s.name for s in servers}
    lines.append("\nTargets:")

    def ratio(a: str, b: str, conc: int) -> float:
        return figure(a, conc, "rps") / figure(b, conc, "rps")

    def by_cpu(a: str, b: str, conc: int) -> str:
        """The same ratio from the servers' CPU per request (less sensitive to other load)."""
        return f" [by CPU/request: {figure(b, conc, 'cpu_us') / figure(a, conc, 'cpu_us'):.2f}x]"

    for on, off in (("on", "off"), ("on-1w", "off-1w")):
        if {on, off} <= names:
            for conc in args.concurrency:
                r = ratio(on, off, conc)
                lines.append(
                    f"  batching on / off ({on} / {off}) at c={conc}: {r:.2f}x "
                    f"(target >= 0.95) {_verdict(r >= 0.95)}{by_cpu(on, off, conc)}"
                )
    if {"off", "leanest"} <= names:
        for conc in args.concurrency:
            r = ratio("off", "leanest", conc)
            lines.append(
                f"  no batching / leanest at c={conc}: {r:.2f}x (target >= 0.90) "
                f"{_verdict(r >= 0.9)}{by_cpu('off', 'leanest', conc)}"
            )
    if {"on", "leanest"} <= names and 64 in args.concurrency:
        r = ratio("on", "leanest", 64)
        p99 = figure("on", 64, "p99_ms")
        lines.append(
            f"  batching / leanest at c=64: {r:.2f}x (target >= 2.5) {_verdict(r >= 2.5)}; "
            f"p99 {p99:.1f} ms (target < 20) {_verdict(p99 < 20)}{by_cpu('on', 'leanest', 64)}"
        )
    if "floor" in names:
        for conc in args.concurrency:
            lines.append(
                f"  for scale, HTTP floor at c={conc}: {figure('floor', conc, 'rps'):.0f} req/s"
            )
    return lines


def memory_report(servers: dict[str, Server]) -> list[str]:
    lines = [
        "\nMemory after traffic (MB; RSS per process, tree = parent + workers + "
        "resource tracker; PSS counts shared pages once):\n",
        "| server     | parent RSS | worker RSS (each)   | tree RSS | tree PSS | procs | "
        "native packages in the parent |",
        "| ---------- | ---------: | ------------------- | -------: | -------: | ----: | --- |",
    ]
    for name, s in servers.items():
        m = s.memory
        workers = ", ".join(f"{w['rss']:.0f}" for w in m["workers"])
        lines.append(
            f"| {name:<10} | {m['parent']['rss']:>10.0f} | {workers:<19} | {m['tree_rss']:>8.0f} "
            f"| {m['tree_pss']:>8.0f} | {m['n']:>5} | {', '.join(m['parent_native'])} |"
        )
    mem = {n: s.memory for n, s in servers.items()}
    lines.append("\nTargets:")
    if {"on-1w", "fastapi-1w"} <= mem.keys():
        r = mem["on-1w"]["tree_rss"] / mem["fastapi-1w"]["tree_rss"]
        lines.append(
            f"  one worker: dockyard {mem['on-1w']['tree_rss']:.0f} MB / FastAPI "
            f"{mem['fastapi-1w']['tree_rss']:.0f} MB = {r:.2f}x (target <= 1.15) {_verdict(r <= 1.15)}"
        )
    if {"on", "fastapi"} <= mem.keys():
        d, f = mem["on"], mem["fastapi"]
        r = d["worker_rss"] / f["worker_rss"]
        lines.append(
            f"  --workers 2, per worker: dockyard {d['worker_rss']:.0f} MB / FastAPI "
            f"{f['worker_rss']:.0f} MB = {r:.2f}x (target <= 1.15) {_verdict(r <= 1.15)}"
        )
        lines.append(
            f"  --workers 2, whole tree: dockyard {d['tree_rss']:.0f} MB RSS ({d['tree_pss']:.0f} "
            f"PSS) / FastAPI {f['tree_rss']:.0f} MB ({f['tree_pss']:.0f} PSS) = "
            f"{d['tree_rss'] / f['tree_rss']:.2f}x"
        )
        heavy = [p for p in d["parent_native"] if p in {"numpy", "sklearn", "scipy", "pandas"}]
        lines.append(
            f"  --workers 2, parent: dockyard {d['parent']['rss']:.0f} MB (FastAPI's "
            f"{f['parent']['rss']:.0f} MB); model libraries mapped in it: "
            f"{', '.join(heavy) or 'none'} -> holds a model copy: "
            f"{'yes' if heavy else 'no'} (target: no) {_verdict(not heavy)}"
        )
    return lines


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="per round, target and concurrency")
    parser.add_argument("--rounds", type=int, default=2, help="0: no throughput runs")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--targets", nargs="+", default=["floor", "leanest", "on", "off"],
        choices=["floor", "leanest", "fastapi", "on", "off", "on-1w", "off-1w"],
    )  # fmt: skip
    parser.add_argument("--one-worker", action="store_true", help="add on-1w and off-1w")
    parser.add_argument("--client", choices=["wrk", "loadgen"], default="wrk")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory figures")
    parser.add_argument("--micro", action="store_true", help="time the hot path's parts")
    parser.add_argument("--profile", action="store_true", help="py-spy one dockyard worker")
    parser.add_argument("--profile-seconds", type=int, default=10)
    parser.add_argument("--profile-rate", type=int, default=500)
    parser.add_argument(
        "--profile-gil", action="store_true", help="sample only the thread holding the GIL"
    )
    parser.add_argument("--raw", type=Path, help="append wrk's own output to this file")
    args = parser.parse_args()
    targets = list(dict.fromkeys(args.targets + (["on-1w", "off-1w"] if args.one_worker else [])))
    if args.client == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk), or use --client loadgen")
    if args.client == "loadgen":
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()

    raw = open(args.raw, "a") if args.raw else None  # noqa: SIM115
    workdir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    started = time.perf_counter()
    running: dict[str, Server] = {}
    try:
        setup = make_setup(workdir)
        servers = [server(n) for n in targets] if args.rounds > 0 else []
        start_all(servers, setup)
        running.update((s.name, s) for s in servers)
        for s in servers:  # warm up every server (and its workers' first calls)
            run_wrk(s.port, 16, 1, setup.lua)
        results: dict[tuple[str, int], list[dict]] = {}
        for _ in range(args.rounds):
            for conc in args.concurrency:
                for s in servers:
                    assert s.proc is not None
                    cpu = tree_cpu(s.proc.pid)
                    r = measure(args.client, s.port, conc, args.seconds, setup, raw)
                    r["cpu_us"] = (tree_cpu(s.proc.pid) - cpu) / max(r["requests"], 1) * 1e6
                    results.setdefault((s.name, conc), []).append(r)
        lines = report(args, servers, results) if servers else []
        if not args.no_memory:
            extra = [
                server(n) for n in ("on", "on-1w", "fastapi", "fastapi-1w") if n not in running
            ]
            start_all(extra, setup)
            running.update((s.name, s) for s in extra)
            for s in extra:  # the same warm-up traffic the measured servers had, in short
                for conc in args.concurrency:
                    run_wrk(s.port, conc, 2, setup.lua)
            for s in running.values():
                assert s.proc is not None
                s.memory = process_tree(s.proc.pid)
            order = ("on-1w", "fastapi-1w", "on", "fastapi", "off", "off-1w", "leanest", "floor")
            lines += memory_report({n: running[n] for n in order if n in running})
        for s in running.values():
            s.stop()
        running.clear()
        if args.micro:
            lines.append(
                "\nHot path parts, in one process (CPU µs per call, all threads, best of 5):"
            )
            lines += [f"  {us:9.1f}  {name}" for name, us in micro(setup)]
        if args.profile:
            lines.append(
                profile(setup, args.profile_seconds, args.profile_rate, raw, args.profile_gil)
            )
        lines.append(f"\n(total {time.perf_counter() - started:.0f} s)")
        print("\n".join(lines))
    finally:
        for s in running.values():
            s.stop()
        if raw is not None:
            raw.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
