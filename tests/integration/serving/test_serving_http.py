"""The model service over real HTTP: every route, every bad input, auth and metrics."""

from __future__ import annotations

import json
import math
import struct
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from serving_support import BODY_LIMIT, Iris, Server

ROW = [5.1, 3.5, 1.4, 0.2]
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def v2(
    data: list[float] | list[list[float]], shape: list[int] | None = None, **extra: object
) -> dict:
    flat = (
        list(np.asarray(data, dtype=object).ravel()) if data and isinstance(data[0], list) else data
    )
    shape = shape or (
        [len(data), len(data[0])] if data and isinstance(data[0], list) else [1, len(data)]
    )
    return {
        "inputs": [{"name": "input-0", "shape": shape, "datatype": "FP64", "data": flat}],
        **extra,
    }


def post(server: Server, path: str, **kwargs: object) -> httpx.Response:
    return httpx.post(server.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


def assert_error(response: httpx.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    for fragment in fragments:
        assert fragment in message, message


# --- health and metadata ---------------------------------------------------------------


def test_health_and_server_metadata(server: Server) -> None:
    assert httpx.get(server.url + "/v2/health/live").json() == {"live": True}
    ready = httpx.get(server.url + "/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    meta = httpx.get(server.url + "/v2").json()
    assert meta["name"] == "dockyard" and "binary_tensor_data" in meta["extensions"]


def test_model_metadata_and_readiness(server: Server) -> None:
    meta = httpx.get(server.url + "/v2/models/iris")
    assert meta.status_code == 200 and meta.headers["x-model-version"] == "3"
    body = meta.json()
    assert body["name"] == "iris" and body["versions"] == ["3", "2"]
    assert body["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert body["outputs"][0]["name"] == "predict" and body["parameters"]["columns"] == COLUMNS
    one = httpx.get(server.url + "/v2/models/iris/versions/2")
    assert one.json()["versions"] == ["2"] and one.headers["x-model-version"] == "2"
    ready = httpx.get(server.url + "/v2/models/iris/ready")
    assert (
        ready.json() == {"name": "iris", "ready": True} and ready.headers["x-model-version"] == "3"
    )
    assert httpx.get(server.url + "/v2/models/iris/versions/2/ready").json()["ready"] is True


def test_unknown_model_and_version_are_404(server: Server) -> None:
    assert_error(httpx.get(server.url + "/v2/models/nope"), 404, "unknown model 'nope'", "iris")
    assert_error(
        httpx.get(server.url + "/v2/models/iris/versions/9"), 404, "no version '9'", "3, 2"
    )
    assert_error(httpx.get(server.url + "/v2/models/iris/versions/x/ready"), 404, "no version 'x'")
    assert_error(post(server, "/v2/models/nope/infer", json=v2(ROW)), 404, "unknown model 'nope'")
    assert_error(
        post(server, "/v2/models/iris/versions/7/infer", json=v2(ROW)), 404, "no version '7'"
    )
    assert_error(
        post(server, "/predict?model=iris&version=12", json={"instances": [ROW]}),
        404,
        "no version '12'",
    )
    assert_error(httpx.get(server.url + "/nowhere"), 404, "not found: /nowhere")
    # "³".isdigit() is true and int("³") raises: it was a 500 (found by schemathesis)
    assert_error(httpx.get(server.url + "/v2/models/iris/versions/%C2%B3"), 404, "no version '³'")


# --- predictions -----------------------------------------------------------------------


def test_predict_instances_and_records(server: Server, iris: Iris) -> None:
    rows = iris.x[::30].tolist()
    expected = iris.model.predict(iris.x[::30]).tolist()
    r = post(server, "/predict?model=iris", json={"instances": rows})
    assert r.status_code == 200 and r.headers["x-model-version"] == "3"
    assert r.json() == {"predictions": expected, "model": "iris", "version": 3}
    records = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    assert (
        post(server, "/predict?model=iris", json={"records": records}).json()["predictions"]
        == expected
    )
    old = post(server, "/predict?model=iris&version=2", json={"instances": rows})
    assert old.json()["version"] == 2 and old.headers["x-model-version"] == "2"
    assert old.json()["predictions"] == iris.old_model.predict(iris.x[::30]).tolist()


def test_predict_needs_a_model_when_several_are_served(server: Server) -> None:
    assert_error(
        post(server, "/predict", json={"instances": [ROW]}), 400, "several models", "?model="
    )


def test_v2_infer_json(server: Server, iris: Iris) -> None:
    rows = iris.x[:7].tolist()
    r = post(
        server,
        "/v2/models/iris/infer",
        json=v2(rows, id="req-1", parameters={"priority": 1, "timeout": 5}),
    )
    assert r.status_code == 200 and r.headers["x-model-version"] == "3"
    body = r.json()
    assert body["id"] == "req-1" and body["model_name"] == "iris" and body["model_version"] == "3"
    (out,) = body["outputs"]
    assert out["name"] == "predict" and out["datatype"] == "INT64" and out["shape"] == [7]
    assert out["data"] == iris.model.predict(iris.x[:7]).tolist()
    by_version = post(server, "/v2/models/iris/versions/2/infer", json=v2(rows))
    assert by_version.json()["model_version"] == "2"


def test_v2_infer_one_tensor_per_column(server: Server, iris: Iris) -> None:
    inputs = [
        {"name": c, "shape": [3], "datatype": "FP64", "data": iris.x[:3, i].tolist()}
        for i, c in enumerate(COLUMNS)
    ]
    r = post(server, "/v2/models/iris/infer", json={"inputs": inputs[::-1]})
    assert r.json()["outputs"][0]["data"] == iris.model.predict(iris.x[:3]).tolist()


def test_v2_binary_request_and_response(server: Server, iris: Iris) -> None:
    raw = iris.x[:5].astype("<f8").tobytes()
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [5, 4],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ],
            "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
        }
    ).encode()
    r = post(
        server,
        "/v2/models/iris/infer",
        content=header + raw,
        headers={
            "Inference-Header-Content-Length": str(len(header)),
            "content-type": "application/octet-stream",
        },
    )
    assert r.status_code == 200, r.text
    n = int(r.headers["inference-header-content-length"])
    meta = json.loads(r.content[:n])
    assert meta["outputs"][0]["parameters"]["binary_data_size"] == 40
    got = np.frombuffer(r.content[n:], dtype="<i8")
    assert got.tolist() == iris.model.predict(iris.x[:5]).tolist()


def test_concurrent_requests_each_get_their_own_answer(server: Server, iris: Iris) -> None:
    """Micro-batching merges these; every client must still get the prediction of its row."""
    expected = iris.model.predict(iris.x).tolist()

    def one(i: int) -> int:
        r = post(server, "/v2/models/iris/infer", json=v2(iris.x[i].tolist()))
        return r.json()["outputs"][0]["data"][0]

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(one, range(0, 150, 3))) == expected[::3]


# --- bad input: a test each, status and message ----------------------------------------


def test_malformed_json(server: Server) -> None:
    assert_error(
        post(server, "/predict?model=iris", content=b'{"instances": [[1, 2'), 400, "malformed JSON"
    )
    assert_error(post(server, "/v2/models/iris/infer", content=b"{oops"), 400, "malformed JSON")


def test_wrong_content_type(server: Server) -> None:
    r = post(
        server,
        "/predict?model=iris",
        content=json.dumps({"instances": [ROW]}),
        headers={"content-type": "text/plain"},
    )
    assert_error(r, 415, "unsupported content type 'text/plain'", "application/json")
    r = post(server, "/v2/models/iris/infer", data={"a": "b"})  # a form post
    assert_error(r, 415, "application/x-www-form-urlencoded")


def test_missing_input(server: Server) -> None:
    assert_error(
        post(server, "/predict?model=iris", json={"rows": [ROW]}), 400, "missing input", "instances"
    )
    inputs = [{"name": c, "shape": [1], "datatype": "FP64", "data": [1.0]} for c in COLUMNS[:3]]
    assert_error(
        post(server, "/v2/models/iris/infer", json={"inputs": inputs}),
        400,
        "missing input 'petal_width'",
    )
    records = [dict.fromkeys(COLUMNS[1:], 1.0)]
    assert_error(
        post(server, "/predict?model=iris", json={"records": records}),
        400,
        "missing input 'sepal_length' at record 0",
    )
    assert_error(
        post(server, "/v2/models/iris/infer", json={"inputs": []}),
        400,
        "'inputs' must be a non-empty list",
    )


def test_wrong_shape(server: Server) -> None:
    assert_error(
        post(server, "/predict?model=iris", json={"instances": [[1.0, 2.0, 3.0]]}),
        400,
        "expected 4 (sepal_length",
        "got 3",
    )
    assert_error(
        post(server, "/v2/models/iris/infer", json=v2(ROW, shape=[4])),
        400,
        "expected shape [-1, 4]",
        "got [4]",
    )
    assert_error(
        post(server, "/v2/models/iris/infer", json=v2(ROW, shape=[2, 4])),
        400,
        "shape [2, 4] needs 8 values, got 4",
    )


def test_wrong_datatype(server: Server) -> None:
    doc = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [1, 4],
                "datatype": "BYTES",
                "data": ["5.1", "3.5", "1.4", "0.2"],
            }
        ]
    }
    assert_error(
        post(server, "/v2/models/iris/infer", json=doc),
        400,
        "datatype BYTES does not fit the model's FP64",
    )
    doc["inputs"][0]["datatype"] = "COMPLEX"
    assert_error(post(server, "/v2/models/iris/infer", json=doc), 400, "unknown datatype 'COMPLEX'")


def test_string_where_a_number_is_expected(server: Server) -> None:
    r = post(
        server, "/predict?model=iris", json={"instances": [ROW, ROW, ROW, [5.1, 3.5, 1.4, "abc"]]}
    )
    assert_error(r, 400, "input 'petal_width': expected FP64, got string 'abc' at row 3")
    assert_error(
        post(server, "/v2/models/iris/infer", json=v2([5.1, "x", 1.4, 0.2])),
        400,
        "input 'sepal_width': expected FP64, got string 'x' at row 0",
    )


def test_nan_and_infinity_where_the_signature_forbids_them(server: Server) -> None:
    assert_error(
        post(server, "/predict?model=iris", json={"instances": [[5.1, None, 1.4, 0.2]]}),
        400,
        "input 'sepal_width': expected FP64, got null at row 0",
    )
    r = post(
        server,
        "/predict?model=iris",
        content=b'{"instances": [[5.1, 3.5, 1e999, 0.2]]}',
        headers={"content-type": "application/json"},
    )
    assert_error(r, 400, "infinity")  # JSON has no infinity: the parser refuses it
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [1, 4],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": 32},
                }
            ]
        }
    ).encode()
    for value, message in (
        (math.nan, "input 'petal_width': NaN is not allowed at row 0"),
        (-math.inf, "input 'petal_width': -infinity is not allowed at row 0"),
    ):
        raw = struct.pack("<4d", 5.1, 3.5, 1.4, value)
        r = post(
            server,
            "/v2/models/iris/infer",
            content=header + raw,
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
        assert_error(r, 400, message)


def test_body_over_the_limit_by_content_length(server: Server) -> None:
    big = json.dumps({"instances": [ROW] * 5000}).encode()
    assert len(big) > BODY_LIMIT
    assert_error(
        post(
            server, "/predict?model=iris", content=big, headers={"content-type": "application/json"}
        ),
        413,
        f"over the limit of {BODY_LIMIT}",
    )


def test_body_over_the_limit_when_streamed(server: Server) -> None:
    """No Content-Length (chunked): the server counts the bytes as they arrive."""

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"instances": ['
        for _ in range(4000):  # ~84 KB
            yield b"[5.1, 3.5, 1.4, 0.2],"
        yield b"[1, 2, 3, 4]]}"

    r = post(
        server,
        "/predict?model=iris",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert_error(r, 413, f"over the limit of {BODY_LIMIT} bytes")


def test_model_that_raises_is_a_500_naming_the_version_and_the_service_stays_up(
    server: Server,
) -> None:
    r = post(server, "/predict?model=flaky", json={"instances": [[500.0, 1.0, 1.0, 1.0]]})
    assert_error(
        r, 500, "model flaky version 1 failed", "RuntimeError: feature out of the training range"
    )
    assert r.headers["x-model-version"] == "1"
    r = post(server, "/v2/models/flaky/infer", json=v2([500.0, 1.0, 1.0, 1.0]))
    assert_error(r, 500, "model flaky version 1")
    good = post(server, "/predict?model=flaky", json={"instances": [ROW]})
    assert good.status_code == 200 and good.json()["predictions"] == [0]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/predict", "POST"),
        ("TRACE", "/v2/models/iris/infer", "POST"),
        ("PUT", "/v2/models/iris/versions/3/infer", "POST"),
        ("TRACE", "/v2/models/iris", "GET"),
        ("DELETE", "/v2/health/ready", "GET"),
        ("POST", "/metrics", "GET"),
    ],
)
def test_method_not_allowed_says_which_are(
    server: Server, method: str, path: str, allow: str
) -> None:
    # RFC 9110: a 405 carries Allow (schemathesis found 10 routes without it).
    r = httpx.request(method, server.url + path)
    assert_error(r, 405, f"method {method} not allowed on {path}; use {allow}")
    assert r.headers["allow"] == allow


# --- auth and metrics ------------------------------------------------------------------


def test_bearer_token_guards_inference_and_model_routes(auth_server: Server) -> None:
    url = auth_server.url
    assert_error(
        httpx.post(url + "/predict", json={"instances": [ROW]}), 401, "Authorization: Bearer"
    )
    wrong = {"authorization": "Bearer nope"}
    assert_error(
        httpx.post(url + "/v2/models/iris/infer", json=v2(ROW), headers=wrong), 401, "bearer token"
    )
    assert_error(httpx.get(url + "/v2/models/iris", headers=wrong), 401, "bearer token")
    good = {"authorization": "Bearer s3cret"}
    assert httpx.post(url + "/predict", json={"instances": [ROW]}, headers=good).status_code == 200
    assert httpx.get(url + "/v2/models/iris", headers=good).status_code == 200
    for open_path in ("/v2/health/live", "/v2/health/ready", "/metrics", "/v2", "/openapi.json"):
        assert httpx.get(url + open_path).status_code == 200, open_path


def test_metrics(server: Server) -> None:
    post(server, "/predict?model=iris", json={"instances": [ROW]})
    post(server, "/predict?model=iris", json={"instances": [[1, "x", 1, 1]]})
    r = httpx.get(server.url + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'dockyard_requests_total{code="200",model="iris",route="predict",version="3"}' in text
    assert (
        'dockyard_request_errors_total{kind="client",model="iris",route="predict",version="3"}'
        in text
    )
    assert (
        'dockyard_request_duration_seconds_bucket{le="0.05",model="iris",route="predict",version="3"}'
        in text
    )
    assert 'dockyard_batch_size_count{model="iris",version="3"}' in text


def test_openapi_documents_request_and_response_schemas(server: Server) -> None:
    doc = httpx.get(server.url + "/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "InferenceResponse" in schemas and "PredictResponse" in schemas
    assert doc["paths"]["/predict"]["post"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/PredictResponse"}
    assert "/v2/models/{name}/versions/{version}/ready" in doc["paths"]
    assert httpx.get(server.url + "/docs").status_code == 200


def test_openapi_describes_each_served_version_from_its_signature(server: Server) -> None:
    # Why: a generic document (4 features for a 13-feature model, any datatype, null)
    # made schema-valid requests fail, and told clients nothing about the model.
    doc = httpx.get(server.url + "/openapi.json").json()
    paths = doc["paths"]
    assert "/v2/models/{name}/infer" not in paths  # one operation per served version
    for path in (
        "/v2/models/iris/infer",
        "/v2/models/iris/versions/3/infer",
        "/v2/models/iris/versions/2/infer",
        "/v2/models/flaky/infer",
        "/v2/models/flaky/versions/1/infer",
    ):
        assert paths[path]["post"]["tags"] == ["inference"], path
    body = paths["/v2/models/iris/versions/3/infer"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]
    assert name == "iris.v3.InferenceRequest"
    request = doc["components"]["schemas"][name]
    matrix, columns = request["properties"]["inputs"]["anyOf"]
    tensor = matrix["items"]["properties"]
    assert tensor["shape"]["prefixItems"] == [{"const": 1}, {"const": 4}]
    assert tensor["name"]["not"] == {"enum": COLUMNS}
    assert "BYTES" not in tensor["datatype"]["enum"] and "BOOL" not in tensor["datatype"]["enum"]
    value = {"type": "number", "minimum": -1e150, "maximum": 1e150}
    assert tensor["data"]["anyOf"][0]["items"] == value
    assert [t["anyOf"][0]["properties"]["name"] for t in columns["prefixItems"]] == [
        {"const": c} for c in COLUMNS
    ]
    assert body["example"] == {
        "inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [0.0] * 4}]
    }
    # The documented example is answered.
    assert post(server, "/v2/models/iris/versions/3/infer", json=body["example"]).status_code == 200
    predict = paths["/predict"]["post"]
    example = predict["requestBody"]["content"]["application/json"]["example"]
    assert example == {"instances": [[0.0] * 4]}
    assert post(server, "/predict?model=iris", json=example).status_code == 200
    model = next(p for p in predict["parameters"] if p["name"] == "model")
    assert model["required"] is True and model["schema"]["enum"] == ["iris"]


@pytest.mark.parametrize("path", ["/predict?model=iris", "/v2/models/iris/infer"])
def test_json_body_that_is_not_an_object(server: Server, path: str) -> None:
    assert_error(post(server, path, json=[1, 2, 3]), 400, "object")


def test_openapi_declares_the_bearer_token_where_it_is_needed(auth_server: Server) -> None:
    doc = httpx.get(auth_server.url + "/openapi.json").json()
    assert doc["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    paths = doc["paths"]
    for path, method in (
        ("/v2/models/iris/infer", "post"),
        ("/predict", "post"),
        ("/v2/models/{name}", "get"),
    ):
        assert paths[path][method]["security"] == [{"bearer": []}], path
    assert "security" not in paths["/v2/health/ready"]["get"]
