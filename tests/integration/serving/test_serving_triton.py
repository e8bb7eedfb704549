"""A standard V2 client, unchanged: tritonclient.http with and without binary data."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as triton
from serving_support import Iris, Server
from tritonclient.utils import InferenceServerException


@pytest.fixture(scope="module")
def client(server: Server) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(server.url.removeprefix("http://"))


def test_health_and_metadata(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("iris") and client.is_model_ready("iris", "2")
    assert client.get_server_metadata()["name"] == "dockyard"
    meta = client.get_model_metadata("iris")
    assert meta["inputs"][0]["shape"] == [-1, 4]


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False, None])
def test_infer(
    client: triton.InferenceServerClient, iris: Iris, binary_in: bool, binary_out: bool | None
) -> None:
    x = iris.x[::10]
    tensor = triton.InferInput("input-0", list(x.shape), "FP64")
    tensor.set_data_from_numpy(x, binary_data=binary_in)
    # None: no requested outputs, so the client sets binary_data_output for all of them.
    outputs = (
        None
        if binary_out is None
        else [triton.InferRequestedOutput("predict", binary_data=binary_out)]
    )
    result = client.infer(
        "iris", [tensor], outputs=outputs, request_id="abc", priority=1, timeout=1000
    )
    assert np.array_equal(result.as_numpy("predict"), iris.model.predict(x))
    response = result.get_response()
    assert response["id"] == "abc" and response["model_version"] == "3"


def test_infer_by_version_and_fp32(client: triton.InferenceServerClient, iris: Iris) -> None:
    x = iris.x[:6].astype(np.float32)
    tensor = triton.InferInput("input-0", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    result = client.infer("iris", [tensor], model_version="2")
    assert np.array_equal(result.as_numpy("predict"), iris.old_model.predict(x.astype(np.float64)))
    assert result.get_response()["model_version"] == "2"


def test_errors_reach_the_client(client: triton.InferenceServerClient) -> None:
    tensor = triton.InferInput("input-0", [1, 3], "FP64")
    tensor.set_data_from_numpy(np.zeros((1, 3)))
    with pytest.raises(InferenceServerException, match=r"expected shape \[-1, 4\]"):
        client.infer("iris", [tensor])
    with pytest.raises(InferenceServerException, match="unknown model 'nope'"):
        client.infer("nope", [tensor])
