"""Gateway overhead: req/s and p50/p99 through the rollout gateway vs straight to the model.

Starts, each in its own process on 127.0.0.1:

- an upstream: a minimal FastAPI + uvicorn app serving ``POST /predict`` with a small
  scikit-learn iris model (the same shape of answer as ``dockyard serve``);
- the gateway (``dockyard.rollout.create_gateway_app``) in front of it, one uvicorn worker,
  forwarding over its shared ``aiohttp.ClientSession``;
- with ``--baseline REV``, the same gateway twice more, its client swapped for the
  ``httpx.AsyncClient`` it used before aiohttp (``httpx_gateway`` below: only
  ``_forward``, the one call to the client, differs), mounted on

  - the hand-written ``LeanHTTPTransport``, read from ``git show REV:...`` (it was
    removed when aiohttp replaced it; ``c670723`` is the last commit holding it);
  - ``AiohttpTransport``, aiohttp's client as an httpx transport (what replacing only the
    transport, keeping httpx, would give);

then drives every target with the same closed-loop load generator (``_loadgen.load``: raw
asyncio HTTP/1.1 over keep-alive connections, so the generator costs little CPU) at
concurrency 16, in rounds whose order rotates so drift hits every target alike, and
reads each server's CPU time per request from ``/proc`` (on Linux): the cost a gateway's
client adds, which req/s hides while the upstream is the bottleneck. With ``--wrk`` it
cross-checks the generator with ``wrk`` (same body, same connection count). Finally it
measures how long an ``abort`` (``PUT /gateway/routes`` back to stable only, over the
gateway's control socket with its token, as the controller sends it) takes to
reach 100% stable traffic under load, through the gateway.

    .venv/bin/python benchmarks/bench_gateway.py [--seconds 5] [--rounds 2] [--concurrency 16]
        [--wrk] [--baseline c670723]

Bounded: about (targets x rounds x seconds) + 15 s in all (+ targets x seconds with
``--wrk``), targets being 2, or 4 with ``--baseline``.
"""

# No "from __future__ import annotations": FastAPI must resolve the local Request hint.
import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def lean_transport(rev: str) -> Any:
    """``LeanHTTPTransport`` as it was at git revision ``rev`` (it imports only httpx and
    httptools, so it runs as it did then)."""
    source = subprocess.run(
        ["git", "-C", str(HERE.parent), "show", f"{rev}:src/dockyard/rollout/transport.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("lean_transport")
    exec(compile(source, f"{rev}:src/dockyard/rollout/transport.py", "exec"), module.__dict__)
    return module.LeanHTTPTransport(max_connections=256, max_idle=256)


def aiohttp_transport(max_connections: int) -> Any:  # an httpx.AsyncBaseTransport
    """An httpx transport whose wire is one shared ``aiohttp.ClientSession``.

    Its pool matches the gateway's: ``max_connections`` in all, idle connections dropped
    after 4 s. aiohttp does not decompress: httpx decodes ``content-encoding`` itself, as
    it does over any transport.
    """
    import aiohttp
    import httpx
    import yarl

    class AiohttpTransport(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self._session: aiohttp.ClientSession | None = None
            self._timeouts: dict[tuple, aiohttp.ClientTimeout] = {}

        def _timeout(self, t: dict) -> aiohttp.ClientTimeout:
            key = (t.get("pool"), t.get("connect"), t.get("read"))
            timeout = self._timeouts.get(key)
            if timeout is None:  # one object per distinct setting, not one per request
                timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                    total=None, connect=key[0], sock_connect=key[1], sock_read=key[2]
                )
            return timeout

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if self._session is None:  # in the running loop, on first use
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=4.0),
                    auto_decompress=False,
                    cookie_jar=aiohttp.DummyCookieJar(),
                )
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
            try:
                async with self._session.request(
                    request.method,
                    yarl.URL(str(request.url), encoded=True),
                    data=request.content,
                    headers=headers,
                    allow_redirects=False,
                    timeout=self._timeout(request.extensions.get("timeout", {})),
                ) as answer:
                    body = await answer.read()
                    status, raw = answer.status, answer.raw_headers
            except aiohttp.ConnectionTimeoutError as exc:
                raise httpx.ConnectTimeout(str(exc), request=request) from exc
            except aiohttp.ServerTimeoutError as exc:
                raise httpx.ReadTimeout(str(exc), request=request) from exc
            except aiohttp.ClientConnectorError as exc:
                raise httpx.ConnectError(str(exc), request=request) from exc
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError) as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            except aiohttp.ClientError as exc:
                raise httpx.ReadError(str(exc), request=request) from exc
            return httpx.Response(
                status,
                headers=list(raw),
                content=body,
                extensions={"http_version": b"HTTP/1.1"},
                request=request,
            )

        async def aclose(self) -> None:
            if self._session is not None:
                await self._session.close()
                self._session = None

    return AiohttpTransport()


def httpx_gateway(table_provider: Any, metrics: Any, transport: Any) -> Any:  # a GatewayApp
    """The gateway with the ``httpx.AsyncClient`` it had before aiohttp, over ``transport``.

    ``_forward`` is the one the gateway had then; routing, failover, metrics and the answer
    are the gateway's own code. It leans on gateway internals (``_Answer``, ``_forward``,
    the session hooks): a benchmark, not an API.
    """
    import httpx

    from dockyard.rollout.gateway import _DROP_RESPONSE, GatewayApp, _Answer, extract_predictions

    class HttpxGateway(GatewayApp):
        client: httpx.AsyncClient | None = None

        async def startup(self) -> None:
            self.client = httpx.AsyncClient(
                transport=transport,
                timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 5.0)),
                follow_redirects=False,
                trust_env=False,
            )

        async def shutdown(self) -> None:
            await super().shutdown()
            if self.client is not None:
                await self.client.aclose()

        async def _forward(self, backend, method, target, path, headers, body, parse):
            answer = _Answer(backend)
            started = time.perf_counter()
            try:
                response = await self.client.request(  # type: ignore[union-attr]
                    method, backend.url + target, content=body, headers=headers
                )
            except httpx.TimeoutException as exc:
                answer.latency_ms = (time.perf_counter() - started) * 1000.0
                answer.error = f"{type(exc).__name__} after {self.timeout_s:g}s"
                answer.timed_out = isinstance(exc, httpx.ReadTimeout)
                return answer
            except (httpx.HTTPError, OSError) as exc:
                answer.error = f"{type(exc).__name__}: {exc}"
                return answer
            answer.latency_ms = (time.perf_counter() - started) * 1000.0
            answer.status = response.status_code
            answer.body = response.content
            answer.headers = [
                (name.lower(), value)
                for name, value in response.headers.raw
                if name.lower() not in _DROP_RESPONSE
            ]
            if parse and response.status_code == 200:
                answer.predictions = extract_predictions(path, answer.body, response.headers)
            return answer

    return HttpxGateway(table_provider, metrics, max_connections=256)


def run_gateway(port: int, stable_url: str, client: str, baseline: str | None) -> None:
    import uvicorn

    from dockyard.rollout import (
        Backend,
        RolloutMetrics,
        RouteTable,
        RouteTableRef,
        create_gateway_app,
    )

    ref = RouteTableRef(RouteTable(stable=Backend("1", stable_url)))
    # 256: create_gateway_app's default max_connections, which sizes every pool here.
    if client == "lean":
        app = httpx_gateway(ref, RolloutMetrics(), lean_transport(baseline or "c670723"))
    elif client == "aiohttp-under-httpx":
        app = httpx_gateway(ref, RolloutMetrics(), aiohttp_transport(256))
    else:
        # As a deployment's gateway process serves it: the public port, and the control
        # plane on a Unix socket behind a token (the abort below goes through it).
        from dockyard.rollout.gateway_process import _bind

        app = create_gateway_app(ref, RolloutMetrics(), control_token=CONTROL_TOKEN)
        sockets = _bind("127.0.0.1", port, control_path(port))
        uvicorn.Server(
            uvicorn.Config(
                app, log_level="warning", access_log=False, loop="uvloop", http="httptools"
            )
        ).run(sockets=list(sockets))
        return
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


CONTROL_TOKEN = "bench-control-token"


def control_path(port: int) -> Path:
    return Path(tempfile.gettempdir()) / f"dockyard-bench-gateway-{port}.sock"


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
        reader, writer = await asyncio.open_unix_connection(str(control_path(gateway_port)))
        auth = f"authorization: Bearer {CONTROL_TOKEN}\r\n"
        writer.write(request_bytes("PUT", "/gateway/routes", json.dumps(routes).encode(), auth))
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def table_row(name: str, r: dict[str, float]) -> str:
    cpu = f"{r['cpu_us']:>10.0f}" if "cpu_us" in r else f"{'-':>10}"
    return (
        f"| {name:<28} | {r['rps']:>8.0f} | {r['p50_ms']:>7.2f} | {r['p99_ms']:>7.2f} "
        f"| {int(r['requests']):>8} | {int(r['errors']):>4} | {cpu} |"
    )


# --- wrk, as a cross-check of the load generator ----------------------------------------

WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["content-type"] = "application/json"
"""


def run_wrk(port: int, seconds: float, concurrency: int, script: Path) -> dict[str, float]:
    """req/s, p50 and p99 from ``wrk --latency`` with 2 threads (one per CPU)."""
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/predict",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def percentile(p: str) -> float:
        value, scale = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * unit[scale]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),
        "errors": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per round and target")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--wrk", action="store_true", help="cross-check with wrk at the end")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also run the gateway's former httpx client, over the hand-written transport "
        "as of git revision REV (e.g. c670723) and over aiohttp",
    )
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--version", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--gateway", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", default="aiohttp", help=argparse.SUPPRESS)
    parser.add_argument("--stable-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        return run_upstream(args.upstream, args.version)
    if args.gateway:
        return run_gateway(args.gateway, args.stable_url, args.client, args.baseline)
    if args.wrk and shutil.which("wrk") is None:
        parser.error("--wrk needs wrk on the PATH")

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass

    def predict(port: int, seconds: float) -> dict[str, float]:
        return asyncio.run(load(port, "/predict", BODY, seconds, args.concurrency))

    def measured(pid: int, run: Callable[..., dict[str, float]], *args: Any) -> dict[str, float]:
        """``run(*args)``'s figures plus the CPU the server process ``pid`` spent per
        request."""
        before = cpu_seconds(pid)
        figures = run(*args)
        figures["cpu_us"] = (cpu_seconds(pid) - before) / max(1, figures["requests"]) * 1e6
        return figures

    up_port, up2_port, gw_port = free_port(), free_port(), free_port()
    stable_url = f"http://127.0.0.1:{up_port}"
    names = {up_port: "direct upstream", gw_port: "gateway (aiohttp)"}
    procs = {
        up_port: spawn(HERE, "--upstream", str(up_port)),
        gw_port: spawn(HERE, "--gateway", str(gw_port), "--stable-url", stable_url),
    }
    if args.baseline:
        for client, name in (
            ("lean", f"httpx + lean @{args.baseline}"),
            ("aiohttp-under-httpx", "httpx + aiohttp transport"),
        ):
            port = free_port()
            names[port] = name
            procs[port] = spawn(
                HERE,
                "--gateway",
                str(port),
                "--stable-url",
                stable_url,
                "--client",
                client,
                "--baseline",
                args.baseline,
            )
    ports = list(names)
    rounds: dict[int, list[dict[str, float]]] = {port: [] for port in ports}
    wrk: dict[int, dict[str, float]] = {}
    try:
        for port in ports:
            wait_listening(port)
        for port in ports:
            predict(port, 1.0)  # warm up every path
        for i in range(args.rounds):
            k = i % len(ports)
            for port in ports[k:] + ports[:k]:  # rotate the order: no target always first
                rounds[port].append(measured(procs[port].pid, predict, port, args.seconds))
        if args.wrk:
            with tempfile.TemporaryDirectory() as tmp:
                script = Path(tmp, "post.lua")
                script.write_text(WRK_SCRIPT.format(body=BODY.decode()))
                for port in ports:
                    wrk[port] = measured(
                        procs[port].pid, run_wrk, port, args.seconds, args.concurrency, script
                    )

        procs[up2_port] = spawn(HERE, "--upstream", str(up2_port), "--version", "2")
        wait_listening(up2_port)
        abort = asyncio.run(abort_time(gw_port, stable_url, f"http://127.0.0.1:{up2_port}"))
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=10)

    def mean(rounds: list[dict[str, float]]) -> dict[str, float]:
        return {k: statistics.fmean(r[k] for r in rounds) for k in rounds[0]} | {
            "requests": sum(r["requests"] for r in rounds),
            "errors": sum(r["errors"] for r in rounds),
        }

    def table(figures: dict[int, dict[str, float]]) -> None:
        print(
            "| target                       |    req/s | p50 ms  | p99 ms  | requests | fail "
            "| CPU us/req |\n"
            "| ---------------------------- | -------: | ------: | ------: | -------: | ---: "
            "| ---------: |"
        )
        for port in ports:
            print(table_row(names[port], figures[port]))

    def ratios(figures: dict[int, dict[str, float]]) -> str:
        """Each gateway against the former one (httpx + lean), when it ran."""
        if not args.baseline:
            return ""
        base = figures[ports[2]]
        return "".join(
            f"{names[port]} / {names[ports[2]]}: req/s {figures[port]['rps'] / base['rps']:.2f}, "
            f"p50 {figures[port]['p50_ms'] / base['p50_ms']:.2f}x, "
            f"p99 {figures[port]['p99_ms'] / base['p99_ms']:.2f}x, "
            f"gateway CPU per request {figures[port]['cpu_us'] / base['cpu_us']:.2f}x\n"
            for port in (gw_port, ports[3])
        )

    means = {port: mean(rounds[port]) for port in ports}
    d, g = means[up_port], means[gw_port]
    print(
        f"\nGateway overhead, concurrency {args.concurrency}, {args.rounds} x {args.seconds:g} s "
        f"per target, {os.cpu_count()} CPUs\n"
    )
    table(means)
    print(
        f"\nthroughput ratio gateway/direct: {g['rps'] / d['rps']:.2f} (target >= 0.70)\n"
        f"added p50 latency: {g['p50_ms'] - d['p50_ms']:.2f} ms (target < 2 ms); "
        f"added p99: {g['p99_ms'] - d['p99_ms']:.2f} ms\n"
        + ratios(means)
        + f"abort under load (PUT /gateway/routes): acknowledged in {abort[0] * 1000:.1f} ms; "
        f"last request routed to the candidate started {abort[1] * 1000:.1f} ms after it; "
        f"last candidate answer (in flight at the abort) {abort[2] * 1000:.1f} ms after it"
    )
    for i in range(args.rounds):
        print(
            f"  round {i + 1}: "
            + " | ".join(
                f"{names[port]} {rounds[port][i]['rps']:.0f} req/s "
                f"p50 {rounds[port][i]['p50_ms']:.2f} ms"
                for port in ports
            )
        )
    if wrk:
        print(f"\nwrk -t2 -c{args.concurrency} -d{max(1, round(args.seconds))}s, same body:\n")
        table(wrk)
        print("\n" + ratios(wrk), end="")


if __name__ == "__main__":
    main()
