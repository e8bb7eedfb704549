"""A model registered without a sample is served with its real inputs (issue #7, part 4).

The defect: ``register_model("wine", fitted_logistic_regression)`` (13 columns, no
``sample=``) was served with V2 metadata ``shape [-1, -1]``, and a 2-value row reached
the model and answered 500 (``Shape of passed values is (1, 2), indices imply (1, 13)``).
The fitted model knows its inputs; every width or shape mismatch is the client's and
must be a 400 naming the expected and received widths, on every route.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving_support import Server
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression

from dockyard import register_model
from dockyard.runtime import ModelRuntime, load_runtime
from dockyard.serving import create_app
from dockyard.stacks.stack import clear_cache


@pytest.fixture(scope="module")
def wine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("wine")
    frame = load_wine(as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(frame.data, frame.target)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKYARD_HOME", str(root))
        clear_cache()
        record = register_model("wine", model)  # no sample: the model says what it takes
        runtime = load_runtime("wine:1")
        clear_cache()
    assert record.signature is not None and record.signature.n_features == 13
    with Server(create_app([runtime])) as server:
        yield server


def test_metadata_states_the_real_shape(wine_server: Server) -> None:
    meta = httpx.get(f"{wine_server.url}/v2/models/wine").json()
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 13]}]
    assert meta["parameters"]["columns"][0] == "alcohol"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", {"instances": [[1.0, 2.0]]}),
        ("/predict", {"instances": [[1.0] * 14]}),
        (
            "/v2/models/wine/infer",
            {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]}]},
        ),
    ],
)
def test_wrong_widths_are_400_naming_both_widths(
    wine_server: Server, path: str, body: dict
) -> None:  # type: ignore[type-arg]
    response = httpx.post(f"{wine_server.url}{path}", json=body)
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert "13" in message
    assert ("2" in message) or ("14" in message)


def test_records_missing_columns_are_400(wine_server: Server) -> None:
    response = httpx.post(f"{wine_server.url}/predict", json={"records": [{"alcohol": 13.0}]})
    assert response.status_code == 400
    assert response.json()["error"].startswith("missing input 'malic_acid'")


def test_binary_tensor_of_the_wrong_width_is_400(wine_server: Server) -> None:
    header = (
        b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", '
        b'"parameters": {"binary_data_size": 16}}]}'
    )
    response = httpx.post(
        f"{wine_server.url}/v2/models/wine/infer",
        content=header + struct.pack("<2d", 1.0, 2.0),
        headers={
            "content-type": "application/octet-stream",
            "inference-header-content-length": str(len(header)),
        },
    )
    assert response.status_code == 400, response.text
    assert "[-1, 13]" in response.json()["error"] and "[1, 2]" in response.json()["error"]


def test_right_width_answers(wine_server: Server) -> None:
    frame = load_wine(as_frame=True).data
    response = httpx.post(
        f"{wine_server.url}/predict", json={"instances": frame.head(3).to_numpy().tolist()}
    )
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 3


def test_a_runtime_without_a_signature_asks_the_model(tmp_path: Path) -> None:
    """Versions registered before this fix have no signature: the runtime still refuses
    a wrong width as the client's error instead of letting the model raise."""
    frame = load_wine(as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(frame.data.to_numpy(), frame.target)
    runtime = ModelRuntime(model, None, name="wine", version=1)
    assert runtime.signature.n_features == 13
    with pytest.raises(ValueError, match=r"expected 13 values per row, got 2"):
        runtime.predict([[1.0, 2.0]])
