"""The gateway between real HTTP servers: uvicorn upstreams and the gateway on 127.0.0.1.

Each upstream is a tiny FastAPI app standing in for one model version (``dockyard serve``
speaks the same routes): a good one, one that fails on 20% of inputs, a slow one and one
that always answers the same class.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dockyard.rollout import (
    Backend,
    RolloutMetrics,
    RouteTable,
    RouteTableRef,
    create_gateway_app,
)
from support import free_port


def model_app(version: int, behaviour: str = "good") -> FastAPI:
    """A stand-in model service: class = first feature mod 3 (or always 0 for 'constant')."""
    app = FastAPI()

    def predict(rows: list[list[float]]) -> list[int]:
        if behaviour == "flaky" and any(int(row[0]) % 5 == 0 for row in rows):
            raise RuntimeError("model raised")  # 20% of inputs
        if behaviour == "constant":
            return [0 for _ in rows]
        return [int(row[0]) % 3 for row in rows]

    async def answer(rows: list[list[float]], shape: Callable[[list[int]], dict]) -> JSONResponse:
        if behaviour == "slow":
            await asyncio.sleep(0.15)
        headers = {"x-model-version": str(version)}
        try:
            predictions = predict(rows)
        except RuntimeError as exc:
            return JSONResponse({"error": f"model m:{version} {exc}"}, 500, headers=headers)
        return JSONResponse(shape(predictions), headers=headers)

    @app.post("/predict")
    async def plain(request: Request) -> JSONResponse:
        rows = (await request.json())["instances"]
        return await answer(rows, lambda p: {"predictions": p, "model": "m", "version": version})

    @app.post("/v2/models/m/infer")
    async def infer(request: Request) -> JSONResponse:
        body = await request.json()
        tensor = body["inputs"][0]
        width = tensor["shape"][1]
        data = tensor["data"]
        rows = [data[i : i + width] for i in range(0, len(data), width)]

        def v2(p: list[int]) -> dict:
            out = {"name": "label", "shape": [len(p)], "datatype": "INT64", "data": p}
            return {"model_name": "m", "model_version": str(version), "outputs": [out]}

        return await answer(rows, v2)

    @app.get("/v2/health/ready")
    async def ready() -> JSONResponse:
        return JSONResponse({"ready": True}, headers={"x-model-version": str(version)})

    return app


class Served:
    """An ASGI app served by uvicorn on a free 127.0.0.1 port in a background thread."""

    def __init__(self, app: object, **options: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="auto", **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Backend]]:
    specs = {
        "good": (1, "good"),
        "flaky": (2, "flaky"),
        "slow": (3, "slow"),
        "constant": (4, "constant"),
        "good2": (5, "good"),
    }
    servers = {name: Served(model_app(v, b)) for name, (v, b) in specs.items()}
    for server in servers.values():
        server.__enter__()
    try:
        yield {name: Backend(str(specs[name][0]), server.url) for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.__exit__()


class Gateway:
    def __init__(self, table: RouteTable, **options: object) -> None:
        self.ref = RouteTableRef(table)
        self.metrics = RolloutMetrics()
        self.app = create_gateway_app(self.ref, self.metrics, **options)  # type: ignore[arg-type]
        self.served = Served(self.app)
        self.client = httpx.Client(base_url=self.served.url, timeout=10)

    def __enter__(self) -> Gateway:
        self.served.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.served.__exit__()

    def predict(self, x: int, **headers: str) -> httpx.Response:
        return self.client.post("/predict", json={"instances": [[x, 1.0]]}, headers=headers)

    def wait_for(self, version: str, requests: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.metrics.snapshot()[version].requests < requests:
            if time.monotonic() > deadline:
                raise AssertionError(f"version {version} never reached {requests} requests")
            time.sleep(0.02)


def test_weighted_split_is_observed_and_counted(upstreams: dict[str, Backend]) -> None:
    table = RouteTable(stable=upstreams["good"], candidate=upstreams["good2"], weight=30)
    with Gateway(table) as gw:
        answers = [gw.predict(i) for i in range(400)]
    assert all(r.status_code == 200 for r in answers)
    by_version = Counter(r.headers["x-dockyard-backend"] for r in answers)
    assert by_version["5"] / 400 == pytest.approx(0.30, abs=0.08)
    for r in answers:  # the answering version names itself, and the gateway agrees
        assert r.headers["x-model-version"] == r.headers["x-dockyard-backend"]
    snap = gw.metrics.snapshot()
    assert snap["1"].requests == by_version["1"] and snap["5"].requests == by_version["5"]
    assert snap["1"].p99_ms is not None and snap["1"].errors == 0
    assert sum(snap["1"].classes.values()) == by_version["1"]


def test_sticky_header_keeps_each_client_on_one_version(upstreams: dict[str, Backend]) -> None:
    table = RouteTable(
        stable=upstreams["good"], candidate=upstreams["good2"], weight=50, sticky_header="x-user-id"
    )
    with Gateway(table) as gw:
        seen: dict[str, set[str]] = {}
        for round_ in range(3):
            for user in range(40):
                r = gw.predict(round_ + user, **{"x-user-id": f"user-{user}"})
                seen.setdefault(f"user-{user}", set()).add(r.headers["x-dockyard-backend"])
    assert all(len(versions) == 1 for versions in seen.values())
    assert {v for versions in seen.values() for v in versions} == {"1", "5"}


def test_shadow_never_changes_answers_and_records_agreement(
    upstreams: dict[str, Backend],
) -> None:
    table = RouteTable(stable=upstreams["good"], shadow=upstreams["constant"], mirror_percent=100)
    with Gateway(table) as gw:
        answers = [gw.predict(i) for i in range(60)]
        gw.wait_for("4", 60)
    for i, r in enumerate(answers):
        assert r.status_code == 200
        assert r.headers["x-dockyard-backend"] == "1"
        assert r.json()["predictions"] == [i % 3]  # the stable answer, never the shadow's
    shadow = gw.metrics.snapshot()["4"]
    assert shadow.mirrored == 60 and shadow.compared == 60
    # the constant shadow agrees only on the inputs whose stable class is 0
    assert shadow.agreement_rate == pytest.approx(20 / 60)
    assert shadow.p50_ms is not None and dict(shadow.classes) == {"0": 60}


def test_slow_shadow_is_never_waited_for(upstreams: dict[str, Backend]) -> None:
    table = RouteTable(stable=upstreams["good"], shadow=upstreams["slow"], mirror_percent=100)
    with Gateway(table, max_mirrors=8) as gw:
        started = time.perf_counter()
        answers = [gw.predict(i) for i in range(20)]
        elapsed = time.perf_counter() - started
        gw.wait_for("3", 8)
    assert all(r.headers["x-dockyard-backend"] == "1" for r in answers)
    assert elapsed < 20 * 0.15 / 2, "the client waited for the slow shadow"
    snap = gw.metrics.snapshot()["3"]
    assert snap.p50_ms is not None and snap.p50_ms >= 140
    assert gw.app.mirrors_dropped + snap.mirrored >= 8


def test_failover_hides_a_failing_candidate_but_counts_its_errors(
    upstreams: dict[str, Backend],
) -> None:
    table = RouteTable(stable=upstreams["good"], candidate=upstreams["flaky"], weight=50)
    with Gateway(table) as gw:
        answers = [gw.predict(i) for i in range(200)]
    assert [r.status_code for r in answers] == [200] * 200
    for i, r in enumerate(answers):
        assert r.json()["predictions"] == [i % 3]
    candidate = gw.metrics.snapshot()["2"]
    assert candidate.errors > 0
    assert candidate.failovers == candidate.errors
    assert candidate.error_rate == pytest.approx(0.2, abs=0.1)
    assert Counter(r.headers["x-dockyard-backend"] for r in answers)["1"] >= 100


def test_without_failover_the_candidate_error_reaches_the_client(
    upstreams: dict[str, Backend],
) -> None:
    table = RouteTable(stable=upstreams["good"], candidate=upstreams["flaky"], weight=100)
    with Gateway(table, failover=False) as gw:
        r = gw.predict(5)
    assert r.status_code == 500
    assert r.headers["x-dockyard-backend"] == "2" and "model m:2" in r.json()["error"]


def test_weight_change_and_abort_take_effect_on_the_next_request(
    upstreams: dict[str, Backend],
) -> None:
    table = RouteTable(stable=upstreams["good"], candidate=upstreams["good2"], weight=0)
    with Gateway(table) as gw:
        assert {gw.predict(i).headers["x-dockyard-backend"] for i in range(10)} == {"1"}
        gw.ref.update(weight=100)
        assert {gw.predict(i).headers["x-dockyard-backend"] for i in range(10)} == {"5"}
        gw.ref.set(RouteTable(stable=upstreams["good"]))  # abort
        assert {gw.predict(i).headers["x-dockyard-backend"] for i in range(10)} == {"1"}


def test_candidate_down_with_failover_answers_from_stable(upstreams: dict[str, Backend]) -> None:
    nowhere = Backend("9", f"http://127.0.0.1:{free_port()}")
    table = RouteTable(stable=upstreams["good"], candidate=nowhere, weight=100)
    with Gateway(table) as gw:
        answers = [gw.predict(i) for i in range(20)]
    assert [r.status_code for r in answers] == [200] * 20
    assert {r.headers["x-dockyard-backend"] for r in answers} == {"1"}
    down = gw.metrics.snapshot()["9"]
    assert down.requests == down.errors == down.failovers == 20


def test_stable_down_gives_a_clear_502(upstreams: dict[str, Backend]) -> None:
    nowhere = Backend("9", f"http://127.0.0.1:{free_port()}")
    with Gateway(RouteTable(stable=nowhere)) as gw:
        r = gw.predict(1)
    assert r.status_code == 502
    assert "version 9 at http://127.0.0.1" in r.json()["error"]


def test_v2_infer_and_other_routes_pass_through(upstreams: dict[str, Backend]) -> None:
    table = RouteTable(stable=upstreams["good"], shadow=upstreams["good2"], mirror_percent=100)
    body = {
        "id": "r1",
        "inputs": [{"name": "x", "shape": [3, 2], "datatype": "FP64", "data": [0, 1, 1, 1, 2, 1]}],
    }
    with Gateway(table) as gw:
        r = gw.client.post("/v2/models/m/infer", json=body)
        ready = gw.client.get("/v2/health/ready")
        missing = gw.client.get("/v2/models/unknown")
        gw.wait_for("5", 1)
        snap = gw.metrics.snapshot()
    assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [0, 1, 2]
    assert r.headers["x-model-version"] == "1" and r.headers["x-dockyard-backend"] == "1"
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    assert missing.status_code == 404  # the upstream's answer, passed through
    assert dict(snap["1"].classes) == {"0": 1, "1": 1, "2": 1}
    assert snap["5"].agreement_rate == 1.0


class ControlledGateway:
    """A gateway as its process serves it: the public port, and the control plane on a
    Unix socket (the same uvicorn server, two sockets)."""

    def __init__(self, table: RouteTable, path: Path, token: str | None) -> None:
        from dockyard.rollout.gateway_process import _bind

        self.ref = RouteTableRef(table)
        self.metrics = RolloutMetrics()
        self.port = free_port()
        self.path = path
        app = create_gateway_app(self.ref, self.metrics, control_token=token)
        self.sockets = _bind("127.0.0.1", self.port, path)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": list(self.sockets)}, daemon=True
        )
        self.public = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def control(self, token: str | None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            transport=httpx.HTTPTransport(uds=str(self.path)),
            base_url="http://gateway",
            headers=headers,
            timeout=10,
        )

    def __enter__(self) -> ControlledGateway:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.public.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()


def test_the_public_port_has_no_control_plane(
    upstreams: dict[str, Backend], tmp_path: Path
) -> None:
    """Whoever reaches the gateway's port may send requests, never steer them: the
    routes and the analysis window are not there (issue #8: a fake server got 168 of 205
    answers, and the clients' credentials, through an open PUT /gateway/routes)."""
    table = RouteTable(stable=upstreams["good"], candidate=upstreams["good2"], weight=10)
    with ControlledGateway(table, tmp_path / "gateway.sock", "s3cret") as gw:
        forged = {"stable": {"version": "9", "url": "http://127.0.0.1:1"}, "weight": 0}
        attempts = [
            gw.public.put(
                "/gateway/routes", json=forged, headers={"authorization": "Bearer s3cret"}
            ),
            gw.public.get("/gateway/routes"),
            gw.public.post("/gateway/metrics/rotate"),
            gw.public.get("/gateway/metrics"),
            gw.public.post("/gateway/stop"),
        ]
        health = gw.public.get("/gateway/health")
    assert [a.status_code for a in attempts] == [404] * 5
    assert gw.ref() == table
    assert health.json() == {"status": "ok", "weights": {"1": 90.0, "5": 10.0}}
    assert "127.0.0.1" not in health.text  # no backend addresses on the public side


def test_the_control_plane_needs_the_socket_and_the_token(
    upstreams: dict[str, Backend], tmp_path: Path
) -> None:
    """The controller steers the gateway over a Unix socket (mode 0600) with the
    deployment's secret; anything else is refused with a reason."""
    import stat

    table = RouteTable(stable=upstreams["good"], candidate=upstreams["good2"], weight=10)
    path = tmp_path / "gateway.sock"
    with ControlledGateway(table, path, "s3cret") as gw:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        gw.public.post("/predict", json={"instances": [[1]]})
        with gw.control(None) as anonymous, gw.control("wrong") as wrong:
            assert anonymous.get("/gateway/routes").status_code == 401
            assert wrong.put("/gateway/routes", json=table.to_dict()).status_code == 401
            assert wrong.post("/gateway/metrics/rotate").status_code == 401
        with gw.control("s3cret") as ctl:
            metrics = ctl.get("/gateway/metrics").json()
            put = ctl.put("/gateway/routes", json={**table.to_dict(), "weight": 60})
            bad = ctl.put("/gateway/routes", json={"weight": 500})
            wrong_method = ctl.delete("/gateway/routes")
            rotated = ctl.post("/gateway/metrics/rotate").json()
            after = ctl.get("/gateway/metrics").json()
    assert sum(v["requests"] for v in metrics["versions"].values()) == 1
    assert put.status_code == 200 and gw.ref().weight == 60
    assert bad.status_code == 400 and "not a route table" in bad.json()["error"]
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET, PUT"
    assert sum(v["requests"] for v in rotated["versions"].values()) == 1
    assert sum(v["requests"] for v in after["versions"].values()) == 0


def test_without_a_control_token_control_is_off(
    upstreams: dict[str, Backend], tmp_path: Path
) -> None:
    table = RouteTable(stable=upstreams["good"])
    with ControlledGateway(table, tmp_path / "g.sock", None) as gw, gw.control("x") as ctl:
        refused = ctl.put("/gateway/routes", json=table.to_dict())
    assert refused.status_code == 403 and "no control token" in refused.json()["error"]


def test_a_request_target_that_is_not_a_path_is_a_400(upstreams: dict[str, Backend]) -> None:
    """`OPTIONS * HTTP/1.1` is legal HTTP with nothing to forward (it was a 500)."""
    import socket

    with (
        Gateway(RouteTable(stable=upstreams["good"])) as gw,
        socket.create_connection(("127.0.0.1", gw.served.port), timeout=5) as sock,
    ):
        sock.sendall(b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = sock.recv(200)
    assert head.startswith(b"HTTP/1.1 400"), head


def test_a_failing_stable_is_retried_on_the_candidate(upstreams: dict[str, Backend]) -> None:
    """A crash of the stable version must not reach clients while a candidate takes
    traffic: the request is retried there (and the failure counted against stable)."""
    dead = Backend("1", f"http://127.0.0.1:{free_port()}")
    table = RouteTable(stable=dead, candidate=upstreams["good2"], weight=10)
    with Gateway(table) as gw:
        answers = [gw.predict(i) for i in range(20)]
        snap = gw.metrics.snapshot()
    assert {a.status_code for a in answers} == {200}
    assert {a.headers["x-dockyard-backend"] for a in answers} == {"5"}
    assert snap["1"].errors == snap["1"].requests > 0


def wire_app() -> FastAPI:
    """An upstream exercising the wire: chunked bodies, HEAD, slow answers."""
    from fastapi.responses import StreamingResponse

    app = FastAPI()

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(5):
                yield f"part{i};".encode()

        return StreamingResponse(parts(), media_type="text/plain", headers={"x-model-version": "7"})

    @app.api_route("/echo", methods=["GET", "HEAD", "PUT", "DELETE"])
    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "query": str(request.query_params),
                "body": body.decode(),
                "user": request.headers.get("x-user-id"),
            },
            headers={"x-model-version": "7", "set-cookie": "a=1"},
        )

    @app.post("/predict")
    async def slow() -> JSONResponse:
        await asyncio.sleep(0.5)
        return JSONResponse({"predictions": [1]}, headers={"x-model-version": "7"})

    return app


def test_wire_chunked_head_methods_and_query_pass_through() -> None:
    with Served(wire_app()) as upstream, Gateway(RouteTable(Backend("7", upstream.url))) as gw:
        streamed = gw.client.get("/stream")
        head = gw.client.head("/echo")
        put = gw.client.put("/echo?a=1&b=x%20y", content=b"payload", headers={"x-user-id": "u1"})
        delete = gw.client.delete("/echo")
    assert streamed.status_code == 200 and streamed.text == "part0;part1;part2;part3;part4;"
    assert streamed.headers["x-model-version"] == "7"
    assert head.status_code == 200 and head.content == b""
    assert put.json() == {"method": "PUT", "query": "a=1&b=x+y", "body": "payload", "user": "u1"}
    assert put.headers["set-cookie"] == "a=1" and put.headers["x-dockyard-backend"] == "7"
    assert delete.json()["method"] == "DELETE"


def test_a_slow_backend_times_out_as_504_and_counts_as_an_error() -> None:
    with Served(wire_app()) as upstream:
        with Gateway(RouteTable(Backend("7", upstream.url)), timeout_s=0.1) as gw:
            r = gw.predict(1)
        assert r.status_code == 504 and "did not answer" in r.json()["error"]
        snap = gw.metrics.snapshot()["7"]
        assert snap.errors == 1 and snap.p50_ms is not None and snap.p50_ms >= 90


def test_connections_closed_by_the_server_while_idle_are_replaced() -> None:
    # uvicorn closes idle keep-alive connections after 1 s here; the gateway keeps them
    # up to 4 s, so the second round finds closed connections and must open new ones.
    upstream = Served(model_app(1), timeout_keep_alive=1)
    with upstream, Gateway(RouteTable(Backend("1", upstream.url))) as gw:
        first = [gw.predict(i) for i in range(5)]
        time.sleep(1.5)
        second = [gw.predict(i) for i in range(5)]
    assert [r.status_code for r in first + second] == [200] * 10
    assert gw.metrics.snapshot()["1"].errors == 0


def test_a_dead_replica_is_retried_on_the_next_one(upstreams: dict[str, Backend]) -> None:
    """With --replicas 2 a crashed process is not seen by clients: the request goes to
    the version's other process (and the failure still counts against the version)."""
    dead = f"http://127.0.0.1:{free_port()}"
    table = RouteTable(stable=Backend("1", dead, (upstreams["good"].url,)))
    with Gateway(table) as gw:
        answers = [gw.predict(i) for i in range(10)]
        snap = gw.metrics.snapshot()
    assert {a.status_code for a in answers} == {200}
    assert 0 < snap["1"].errors < snap["1"].requests
