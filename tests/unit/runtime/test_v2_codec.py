"""The Open Inference Protocol codec: JSON and binary tensors, both ways."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dockyard.errors import InvalidInputError
from dockyard.runtime.v2 import (
    OutputTensor,
    decode_bytes_tensor,
    encode_bytes_tensor,
    encode_infer_response,
    parse_header_length,
    parse_infer_request,
)


def body(doc: dict) -> bytes:
    return json.dumps(doc).encode()


def binary_request(
    tensors: list[tuple[str, str, np.ndarray | list[str]]], **extra: object
) -> tuple[bytes, int]:
    """Build a request the way tritonclient does: JSON header, then raw tensors."""
    inputs, chunks = [], []
    for name, datatype, data in tensors:
        if datatype == "BYTES":
            raw = encode_bytes_tensor(data)
            shape = [len(data)]
        else:
            arr = np.asarray(data)
            raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
            shape = list(arr.shape)
        inputs.append(
            {
                "name": name,
                "shape": shape,
                "datatype": datatype,
                "parameters": {"binary_data_size": len(raw)},
            }
        )
        chunks.append(raw)
    header = body({"inputs": inputs, **extra})
    return header + b"".join(chunks), len(header)


def test_json_request_flat_and_nested() -> None:
    req = parse_infer_request(
        body(
            {
                "id": "42",
                "parameters": {"priority": 3, "timeout": 100, "whatever": [1]},
                "inputs": [
                    {"name": "a", "shape": [2, 2], "datatype": "FP64", "data": [1, 2, 3, 4]},
                    {"name": "b", "shape": [2, 2], "datatype": "INT64", "data": [[1, 2], [3, 4]]},
                ],
                "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
            }
        )
    )
    assert req.id == "42"
    assert req.inputs[0].to_numpy().tolist() == [[1, 2], [3, 4]]
    assert req.inputs[1].to_numpy().shape == (2, 2)
    assert req.wants_binary("predict") and not req.wants_binary("other")


def test_binary_request_all_datatypes_round_trip() -> None:
    f32 = np.arange(6, dtype=np.float32).reshape(2, 3)
    i64 = np.array([[-1, 2**40]], dtype=np.int64)
    flags = np.array([True, False, True])
    raw, n = binary_request(
        [
            ("f", "FP32", f32),
            ("i", "INT64", i64),
            ("b", "BOOL", flags),
            ("s", "BYTES", ["héllo", ""]),
        ],
        parameters={"binary_data_output": True},
    )
    req = parse_infer_request(raw, parse_header_length(str(n), len(raw)))
    got = {t.name: t.to_numpy() for t in req.inputs}
    assert np.array_equal(got["f"], f32) and got["f"].dtype == np.float32
    assert np.array_equal(got["i"], i64)
    assert got["b"].tolist() == [True, False, True]
    assert got["s"].tolist() == ["héllo".encode(), b""]
    assert req.binary_output and req.wants_binary("anything")


@pytest.mark.parametrize(
    ("raw", "length", "message"),
    [
        (b"{not json", None, "malformed JSON"),
        (b"[1, 2]", None, "a JSON object"),
        (body({"inputs": []}), None, "'inputs' must be a non-empty list"),
        (
            body({"inputs": [{"shape": [1], "datatype": "FP64", "data": [1]}]}),
            None,
            "needs a 'name'",
        ),
        (
            body({"inputs": [{"name": "a", "shape": [-1], "datatype": "FP64", "data": [1]}]}),
            None,
            "'shape' must be",
        ),
        (
            body({"inputs": [{"name": "a", "shape": [1], "datatype": "FLOAT", "data": [1]}]}),
            None,
            "unknown datatype 'FLOAT'",
        ),
        (
            body({"inputs": [{"name": "a", "shape": [1], "datatype": "FP64"}]}),
            None,
            "input 'a' has no 'data'",
        ),
        (
            body(
                {"id": 3, "inputs": [{"name": "a", "shape": [1], "datatype": "FP64", "data": [1]}]}
            ),
            None,
            "'id' must be a string",
        ),
        (
            body(
                {
                    "inputs": [
                        {
                            "name": "a",
                            "shape": [1],
                            "datatype": "FP64",
                            "parameters": {"binary_data_size": 8},
                        }
                    ]
                }
            ),
            None,
            "runs past the end",
        ),
    ],
)
def test_bad_requests(raw: bytes, length: int | None, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_infer_request(raw, length)


def test_binary_sizes_must_add_up() -> None:
    raw, n = binary_request([("a", "FP64", np.zeros((1, 4)))])
    with pytest.raises(InvalidInputError, match="add up to 32"):
        parse_infer_request(raw + b"xx", n)
    doc = {
        "inputs": [
            {
                "name": "a",
                "shape": [1, 4],
                "datatype": "FP64",
                "parameters": {"binary_data_size": 16},
            }
        ]
    }
    header = body(doc)
    with pytest.raises(InvalidInputError, match="needs 32 bytes, binary_data_size is 16"):
        parse_infer_request(header + bytes(16), len(header))
    with pytest.raises(
        InvalidInputError, match="Inference-Header-Content-Length must be an integer"
    ):
        parse_header_length("-3", 10)
    with pytest.raises(InvalidInputError, match="between 0 and the body size"):
        parse_header_length("11", 10)
    with pytest.raises(InvalidInputError, match="truncated BYTES"):
        decode_bytes_tensor(b"\x05\x00")


def test_shape_must_match_data_size() -> None:
    req = parse_infer_request(
        body({"inputs": [{"name": "a", "shape": [2, 4], "datatype": "FP64", "data": [1.0] * 7}]})
    )
    with pytest.raises(InvalidInputError, match=r"input 'a': shape \[2, 4\] needs 8 values, got 7"):
        req.inputs[0].to_numpy()


def test_data_that_does_not_fit_the_datatype_is_kept_for_exact_reports() -> None:
    req = parse_infer_request(
        body({"inputs": [{"name": "a", "shape": [1, 2], "datatype": "FP64", "data": [1.5, "abc"]}]})
    )
    arr = req.inputs[0].to_numpy()
    assert arr.dtype == object and arr.tolist() == [[1.5, "abc"]]


def test_json_response_and_id_echo() -> None:
    out, header = encode_infer_response(
        model_name="iris",
        model_version="3",
        request_id="r1",
        outputs=[OutputTensor("predict", np.array([0, 2]), "INT64")],
    )
    assert header is None
    assert json.loads(out) == {
        "model_name": "iris",
        "model_version": "3",
        "id": "r1",
        "outputs": [{"name": "predict", "datatype": "INT64", "shape": [2], "data": [0, 2]}],
    }


@pytest.mark.parametrize(
    ("data", "datatype"),
    [
        (np.array([[0.1, 0.9], [0.5, 0.5]]), "FP64"),
        (np.array([1, 2, 3], dtype=np.int64), "INT64"),
        (np.array([True, False]), "BOOL"),
        (np.array(["setosa", "virginica"], dtype=object), "BYTES"),
    ],
)
def test_binary_response_round_trip(data: np.ndarray, datatype: str) -> None:
    out, header_len = encode_infer_response(
        model_name="m", model_version="1", request_id=None,
        outputs=[OutputTensor("y", data, datatype)], binary=["y"],
    )  # fmt: skip
    assert header_len is not None
    header = json.loads(out[:header_len])
    size = header["outputs"][0]["parameters"]["binary_data_size"]
    raw = out[header_len:]
    assert len(raw) == size and "data" not in header["outputs"][0]
    if datatype == "BYTES":
        assert [b.decode() for b in decode_bytes_tensor(raw)] == data.tolist()
    else:
        got = np.frombuffer(raw, dtype=data.dtype.newbyteorder("<")).reshape(
            header["outputs"][0]["shape"]
        )
        assert np.array_equal(got, data)


def test_bytes_tensor_encoding_is_length_prefixed_little_endian() -> None:
    assert encode_bytes_tensor(["ab", b"c"]) == b"\x02\x00\x00\x00ab\x01\x00\x00\x00c"
    assert decode_bytes_tensor(b"\x02\x00\x00\x00ab\x01\x00\x00\x00c") == [b"ab", b"c"]
