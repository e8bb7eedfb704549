"""Hardening of the model service (issue #8): large bodies off the event loop, client
input that overflows a model, rate-limited failure logs, documentation without a CDN."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from typing import Any

import httpx
import numpy as np
import pytest
from serving_support import Iris, Server
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dockyard.registry.signature import ColumnSpec, Signature
from dockyard.runtime import ModelRuntime
from dockyard.runtime.v2 import encode_bytes_tensor
from dockyard.serving import ServeConfig, create_app
from dockyard.serving.failures import FailureLog

ROW = [5.1, 3.5, 1.4, 0.2]


def assert_error(response: httpx.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    for fragment in fragments:
        assert fragment in message, message


# --- large bodies: decoded in a child process ------------------------------------------


@pytest.fixture(scope="module")
def offloading(iris: Iris) -> Any:
    text = Signature(inputs=[ColumnSpec("n", "FP32"), ColumnSpec("city", "BYTES")])

    class Cities:
        def predict(self, frame: Any) -> np.ndarray:
            return np.asarray(frame["city"]).astype(str)

    app = create_app(
        [
            ModelRuntime(iris.model, iris.signature, name="iris", version=3),
            ModelRuntime(Cities(), text, name="text", version=1),
        ],
        ServeConfig(offload_body_bytes=4096, max_body_bytes=8 * 1024 * 1024),
    )
    with Server(app) as server:
        yield server


def decoder_pid(server: Server) -> int | None:
    decoder = server.app.state.dockyard.decoder
    return decoder.pid if decoder is not None else None


def test_large_bodies_are_decoded_in_a_child_process_with_the_same_answers(
    offloading: Server, iris: Iris
) -> None:
    rows = iris.x.tolist() * 2  # 300 rows, ~15 KB: over the 4 KiB threshold
    expected = iris.model.predict(np.asarray(rows)).tolist()
    r = httpx.post(offloading.url + "/predict?model=iris", json={"instances": rows}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == expected
    pid = decoder_pid(offloading)
    assert pid is not None and pid != os.getpid()
    v2 = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [300, 4],
                "datatype": "FP64",
                "data": np.ravel(rows).tolist(),
            }
        ]
    }
    r = httpx.post(offloading.url + "/v2/models/iris/infer", json=v2, timeout=30)
    assert r.status_code == 200 and r.json()["outputs"][0]["data"] == expected
    records = [dict(zip(iris.frame.columns, row, strict=True)) for row in rows]
    r = httpx.post(offloading.url + "/predict?model=iris", json={"records": records}, timeout=30)
    assert r.json()["predictions"] == expected
    assert decoder_pid(offloading) == pid  # one child serves them all


def test_a_large_invalid_body_gets_the_same_400_as_a_small_one(offloading: Server) -> None:
    rows = [ROW] * 400
    rows[317] = [5.1, "x", 1.4, 0.2]
    r = httpx.post(offloading.url + "/predict?model=iris", json={"instances": rows}, timeout=30)
    assert_error(r, 400, "input 'sepal_width': expected FP64, got string 'x' at row 317")
    rows[317] = [5.1, 1.79e308, 1.4, 0.2]
    r = httpx.post(offloading.url + "/predict?model=iris", json={"instances": rows}, timeout=30)
    assert_error(r, 400, "input 'sepal_width': number 1.79e+308 at row 317 is out of range")
    r = httpx.post(
        offloading.url + "/v2/models/iris/infer",
        json={
            "inputs": [
                {"name": "input-0", "shape": [5, 4], "datatype": "FP64", "data": [1.0] * 5000}
            ]
        },
        timeout=30,
    )
    assert_error(r, 400, "input 'input-0': shape [5, 4] needs 20 values, got 5000")


def test_binary_bodies_decode_inline_unless_they_hold_strings(offloading: Server) -> None:
    numbers = np.tile(np.asarray(ROW), (1000, 1))  # 32 KB of FP64: a view of the body
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [1000, 4],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": numbers.nbytes},
                }
            ]
        }
    ).encode()
    service = offloading.app.state.dockyard
    assert not service.offload(header + numbers.tobytes(), len(header))
    r = httpx.post(
        offloading.url + "/v2/models/iris/infer",
        content=header + numbers.astype("<f8").tobytes(),
        headers={"Inference-Header-Content-Length": str(len(header))},
        timeout=30,
    )
    assert r.status_code == 200 and len(r.json()["outputs"][0]["data"]) == 1000
    cities = encode_bytes_tensor(["Paris"] * 2000)
    inputs = [
        {"name": "n", "shape": [2000], "datatype": "FP32", "data": [1.0] * 2000},
        {
            "name": "city",
            "shape": [2000],
            "datatype": "BYTES",
            "parameters": {"binary_data_size": len(cities)},
        },
    ]
    header = json.dumps({"inputs": inputs}).encode()
    assert service.offload(header + cities, len(header))
    r = httpx.post(
        offloading.url + "/v2/models/text/infer",
        content=header + cities,
        headers={"Inference-Header-Content-Length": str(len(header))},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == ["Paris"] * 2000


def test_a_dead_decoder_fails_its_requests_then_a_new_one_starts(offloading: Server) -> None:
    body = {"instances": [ROW] * 400}
    assert (
        httpx.post(offloading.url + "/predict?model=iris", json=body, timeout=30).status_code == 200
    )
    pid = decoder_pid(offloading)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while decoder_pid(offloading) == pid and time.monotonic() < deadline:
        time.sleep(0.05)  # the reader thread sees the end of the pipe
    assert decoder_pid(offloading) is None
    r = httpx.post(offloading.url + "/predict?model=iris", json=body, timeout=30)
    assert r.status_code == 200, r.text
    assert decoder_pid(offloading) not in (None, pid)


def test_an_in_flight_request_of_a_dying_decoder_is_a_500_naming_it(iris: Iris) -> None:
    app = create_app(
        [ModelRuntime(iris.model, iris.signature, name="iris", version=3)],
        ServeConfig(offload_body_bytes=1024),
    )
    with Server(app) as server:
        body = {"instances": [ROW] * 200}
        assert httpx.post(server.url + "/predict", json=body, timeout=30).status_code == 200
        pid = app.state.dockyard.decoder.pid
        os.kill(pid, signal.SIGSTOP)  # busy "forever": the next job waits
        result: dict[str, httpx.Response] = {}

        def call() -> None:
            result["r"] = httpx.post(server.url + "/predict", json=body, timeout=30)

        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        thread.join(20)
        assert_error(
            result["r"], 500, "the request decoder process ended (exit code -9) before answering"
        )


def test_the_decoder_process_ends_with_the_app(iris: Iris) -> None:
    app = create_app(
        [ModelRuntime(iris.model, iris.signature, name="iris", version=3)],
        ServeConfig(offload_body_bytes=1024),
    )
    with Server(app) as server:
        r = httpx.post(server.url + "/predict", json={"instances": [ROW] * 200}, timeout=30)
        assert r.status_code == 200
        proc = app.state.dockyard.decoder._child.proc
    assert proc.poll() is not None  # the lifespan's shutdown closed it


def test_oversized_batches_of_an_inline_model_run_on_a_model_thread() -> None:
    # The inline decision is measured on max_batch_size rows; 50,000 rows in one request
    # would have run on the event loop.
    threads: list[str] = []

    class Fast:
        def predict(self, x: np.ndarray) -> np.ndarray:
            threads.append(threading.current_thread().name)
            return np.zeros(len(x), dtype=np.int64)

    rt = ModelRuntime(Fast(), Signature(n_features=2), name="fast", version=1)
    app = create_app([rt], ServeConfig(max_batch_size=8, offload_body_bytes=0))
    assert app.state.dockyard.inline == {"fast:1"}
    with Server(app) as server:
        threads.clear()
        r = httpx.post(server.url + "/predict", json={"instances": [[1, 2]] * 8})
        assert r.status_code == 200 and not threads[-1].startswith("dockyard-model")
        r = httpx.post(server.url + "/predict", json={"instances": [[1, 2]] * 9})
        assert r.status_code == 200 and threads[-1].startswith("dockyard-model")
        metrics = httpx.get(server.url + "/metrics").text
        assert 'dockyard_batch_size_count{model="fast",version="1"} 2.0' in metrics


# --- input a model cannot compute with: the client's fault (400), not the version's ----


def test_a_value_that_overflows_a_scaler_is_a_400_not_a_500(iris: Iris) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        iris.frame, iris.y
    )
    app = create_app(
        [
            ModelRuntime(model, iris.signature, name="scaled", version=1),
            ModelRuntime(model, None, name="bare", version=1),  # no sample: from the model
        ]
    )
    with Server(app) as server:
        for path, body in (
            ("/predict?model=scaled", {"instances": [[5.1, 3.5, 1.79e308, 0.2]]}),
            ("/predict?model=bare", {"instances": [[5.1, 3.5, 1.79e308, 0.2]]}),
            (
                "/v2/models/scaled/infer",
                {
                    "inputs": [
                        {
                            "name": "input-0",
                            "shape": [1, 4],
                            "datatype": "FP64",
                            "data": [5.1, 3.5, 1.79e308, 0.2],
                        }
                    ]
                },
            ),
        ):
            r = httpx.post(server.url + path, json=body)
            assert_error(r, 400, "input 'petal_length': number 1.79e+308 at row 0 is out of range")
        metrics = httpx.get(server.url + "/metrics").text
        assert 'kind="model"' not in metrics  # nothing counted against the versions
        assert 'dockyard_request_errors_total{kind="client",model="scaled"' in metrics


def test_bytes_values_that_are_lists_are_400(offloading: Server) -> None:
    r = httpx.post(
        offloading.url + "/predict?model=text", json={"records": [{"n": 1, "city": ["x"]}]}
    )
    assert_error(r, 400, "input 'city': expected BYTES, got an array of 1 at row 0")
    r = httpx.post(
        offloading.url + "/v2/models/text/infer",
        json={
            "inputs": [
                {"name": "n", "shape": [1], "datatype": "FP32", "data": [1]},
                {"name": "city", "shape": [1], "datatype": "BYTES", "data": [["x"]]},
            ]
        },
    )
    assert_error(r, 400, "input 'city': data[0] is a list where shape [1] needs a value")


# --- failure logs: tracebacks rate-limited per version ----------------------------------


def test_failed_model_calls_log_a_few_tracebacks_then_count(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dockyard.serving.app")
    for _ in range(12):
        r = httpx.post(
            server.url + "/predict?model=flaky", json={"instances": [[500.0, 1.0, 1.0, 1.0]]}
        )
        assert r.status_code == 500
    records = [r for r in caplog.records if r.name == "dockyard.serving.app"]
    tracebacks = [r for r in records if r.exc_info]
    assert len(tracebacks) == 5
    assert "model flaky version 1 failed" in tracebacks[0].getMessage()
    assert any(
        "flaky:1: 5 failures logged in 60 s; further ones are counted" in r.getMessage()
        for r in records
    )


def test_failure_log_reports_what_it_did_not_log() -> None:
    now = [0.0]
    lines: list[tuple[str, bool]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append((record.getMessage(), record.exc_info is not None))

    logger = logging.getLogger("test.failure_log")
    logger.propagate = False
    logger.addHandler(Capture())
    log = FailureLog(logger, limit=2, window=60, clock=lambda: now[0])
    error = RuntimeError("boom")
    for _ in range(7):
        log.failure("m:1", "model m version 1 failed", error)
    log.failure("m:2", "model m version 2 failed", error)  # its own allowance
    assert [traced for _, traced in lines].count(True) == 3
    now[0] = 61.0
    log.failure("m:1", "model m version 1 failed", error)
    assert (
        "m:1: 5 more failures in the 60 s after the first 2 (tracebacks not logged; see "
        "dockyard_request_errors_total)",
        False,
    ) in lines
    assert lines[-1] == ("model m version 1 failed", True)  # a new window logs again


# --- documentation pages: no CDN ----------------------------------------------------------


def test_docs_pages_load_their_assets_from_this_server(server: Server) -> None:
    for page, assets in (
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"]),
        ("/redoc", ["redoc.standalone.js"]),
    ):
        html = httpx.get(server.url + page).text
        assert "cdn." not in html and "https://" not in html, html
        for asset in assets:
            assert f"/docs/assets/{asset}" in html
            r = httpx.get(f"{server.url}/docs/assets/{asset}")
            assert r.status_code == 200 and len(r.content) > 1000, asset
    bundle = httpx.get(server.url + "/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]


def test_docs_pages_say_what_is_missing_without_their_assets(
    iris: Iris, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dockyard.serving import docs

    monkeypatch.setattr(docs, "assets_dir", lambda: None)
    app = create_app([ModelRuntime(iris.model, iris.signature, name="iris", version=3)])
    with Server(app) as server:
        for page in ("/docs", "/redoc"):
            assert_error(httpx.get(server.url + page), 503, "pip install 'dockyard[serving]'")
        assert httpx.post(server.url + "/predict", json={"instances": [ROW]}).status_code == 200


def test_large_bodies_decode_inline_when_no_process_can_start(
    iris: Iris, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import subprocess

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("fork refused")

    app = create_app(
        [ModelRuntime(iris.model, iris.signature, name="iris", version=3)],
        ServeConfig(offload_body_bytes=1024),
    )
    monkeypatch.setattr(subprocess, "Popen", refuse)
    with Server(app) as server:
        for _ in range(2):
            r = httpx.post(server.url + "/predict", json={"instances": [ROW] * 200}, timeout=30)
            assert r.status_code == 200 and len(r.json()["predictions"]) == 200
    warnings = [r.getMessage() for r in caplog.records if "decoder process" in r.getMessage()]
    assert warnings == [
        "cannot start the request decoder process (fork refused): large bodies are decoded "
        "on the event loop from now on"
    ]
