"""Property-based: the OpenAPI document describes the served models exactly, and no
client input gets a 5xx.

``test_schemathesis_all_checks_*`` run the schemathesis CLI with every check
(``schemathesis run URL/openapi.json --checks all``: schema-valid requests accepted,
schema-violating ones refused, documented statuses, headers and bodies, ``Allow`` on a
405...) against a real server, as the hardening issue did, with zero failures.
"""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_support import Server

from dockyard.registry.signature import ColumnSpec, OutputSpec, Signature, infer_signature
from dockyard.runtime import ModelRuntime
from dockyard.serving import ServeConfig, create_app


class Model:
    """Any finite numbers in, one label per row out (a model that never fails)."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x)[:, 0] > 0).astype(np.int64)


SIGNATURE = Signature(
    inputs=[ColumnSpec("a"), ColumnSpec("b", "INT64"), ColumnSpec("c", allow_nan=True)],
    outputs=[OutputSpec("predict", "INT64")],
)
TEXT = Signature(inputs=[ColumnSpec("n", "FP32"), ColumnSpec("city", "BYTES")])


class TextModel:
    def predict(self, frame: object) -> np.ndarray:
        return np.asarray(frame["city"]).astype(str)  # type: ignore[index]


app = create_app(
    [
        ModelRuntime(Model(), SIGNATURE, name="m", version=1),
        ModelRuntime(Model(), Signature(), name="m", version=2),
        ModelRuntime(TextModel(), TEXT, name="text", version=1),
    ],
    ServeConfig(max_body_bytes=256 * 1024, max_latency_ms=0),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
# Valid and invalid bodies, parameters and headers alike: client input must never be a 5xx.
schema.config.generation.update(modes=list(schemathesis.GenerationMode), deterministic=True)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}\n"
        f"{case.as_curl_command()}"
    )


# --- well-shaped requests with hostile values: these reach validation and the model ----

VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.none(),
    st.booleans(),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
)
ROUTES = ["/predict?model=m&version=1", "/predict?model=m&version=2", "/predict?model=text"]
DATATYPES = ["FP64", "FP32", "INT64", "INT8", "UINT8", "BOOL", "BYTES", "FP16"]


def post(url: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(url, **kwargs)

    return asyncio.run(go())


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400), response.text


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(
    rows=st.lists(st.lists(VALUES, min_size=1, max_size=4), min_size=1, max_size=4),
    route=st.sampled_from(ROUTES),
    records=st.booleans(),
)
def test_predict_values_never_5xx(rows: list, route: str, records: bool) -> None:
    if records:
        body = {"records": [dict(zip(["a", "b", "c", "n", "city"], r, strict=False)) for r in rows]}
    else:
        body = {"instances": rows}
    check(post(route, content=json.dumps(body), headers={"content-type": "application/json"}))


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    datatype=st.sampled_from(DATATYPES),
    data=st.lists(VALUES, max_size=12),
    name=st.sampled_from(["input-0", "a", "b", "c", "n", "city"]),
    model=st.sampled_from(["m/versions/1", "m/versions/2", "text"]),
)
def test_v2_json_values_never_5xx(
    shape: list, datatype: str, data: list, name: str, model: str
) -> None:
    body = {"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": data}]}
    check(post(f"/v2/models/{model}/infer", content=json.dumps(body)))


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    datatype=st.sampled_from(DATATYPES),
    raw=st.binary(max_size=64),
    declared=st.one_of(st.none(), st.integers(-2, 80)),
    model=st.sampled_from(["m/versions/1", "m/versions/2", "text"]),
    floats=st.lists(st.floats(width=64), max_size=12),
)
def test_v2_binary_never_5xx(
    shape: list, datatype: str, raw: bytes, declared: int | None, model: str, floats: list
) -> None:
    if datatype == "FP64" and floats:
        raw = struct.pack(f"<{len(floats)}d", *floats)  # NaN and infinities included
    size = len(raw) if declared is None else declared
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": shape,
                    "datatype": datatype,
                    "parameters": {"binary_data_size": size},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    response = post(
        f"/v2/models/{model}/infer",
        content=header + raw,
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    check(response)


# --- the schemathesis CLI with every check, against real servers ------------------------


def schemathesis_all_checks(app: Any, tmp_path: Path) -> None:
    with Server(app) as server:
        proc = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "20",
                "--seed",
                "1",
                "--generation-database",
                "none",
                "--no-color",
            ],
            cwd=tmp_path,  # it may write reports and caches: not into the checkout
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "No issues found" in proc.stdout, proc.stdout[-3000:]


@pytest.mark.slow
def test_schemathesis_all_checks_models_with_and_without_a_sample(tmp_path: Path) -> None:
    """13 FP64 features (the issue's model): registered with a sample (the signature names
    the columns) and without one (the signature comes from the fitted model: a width)."""
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_wine(as_frame=True)
    frame, y = data.data, data.target

    def fit(x: Any) -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)

    with_sample = ModelRuntime(fit(frame), infer_signature(frame, y), name="wine", version=1)
    without = ModelRuntime(fit(frame.to_numpy()), None, name="plain", version=1)
    assert without.signature.n_features == 13 and not without.signature.inputs
    schemathesis_all_checks(create_app([with_sample, without], ServeConfig()), tmp_path)


@pytest.mark.slow
def test_schemathesis_all_checks_mixed_types(tmp_path: Path) -> None:
    """Columns of every kind: integers, nullable floats, strings, booleans, narrow types."""
    text = Signature(
        inputs=[
            ColumnSpec("n", "FP32"),
            ColumnSpec("city", "BYTES"),
            ColumnSpec("flag", "BOOL"),
            ColumnSpec("small", "INT8"),
            ColumnSpec("h", "FP16", allow_inf=True),
        ]
    )
    app = create_app(
        [
            ModelRuntime(Model(), SIGNATURE, name="m", version=1),
            ModelRuntime(TextModel(), text, name="text", version=1),
        ],
        ServeConfig(),
    )
    schemathesis_all_checks(app, tmp_path)
