"""The Open Inference Protocol codec: JSON and binary tensors, both ways."""

from __future__ import annotations

import json
import re

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
        (  # null is no size: the tensor was read as JSON data (found by schemathesis)
            body(
                {
                    "inputs": [
                        {
                            "name": "a",
                            "shape": [1],
                            "datatype": "FP64",
                            "parameters": {"binary_data_size": None},
                            "data": [1],
                        }
                    ]
                }
            ),
            None,
            "input 'a': binary_data_size must be a non-negative integer",
        ),
        (  # an object was looked up in a dict: TypeError, a 500 (found by schemathesis)
            body({"inputs": [{"name": "a", "shape": [1], "datatype": {}, "data": [1]}]}),
            None,
            "input 'a': unknown datatype {}",
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
    with pytest.raises(InvalidInputError, match=r"must be an integer .* got '³'"):
        parse_header_length("³", 10)  # a digit to str.isdigit, not to int(): was a 500
    with pytest.raises(InvalidInputError, match="truncated BYTES"):
        decode_bytes_tensor(b"\x05\x00")


def test_shape_must_match_data_size() -> None:
    # Refused while parsing, before a value is converted (a large body is not decoded).
    with pytest.raises(InvalidInputError, match=r"input 'a': shape \[2, 4\] needs 8 values, got 7"):
        parse_infer_request(
            body(
                {"inputs": [{"name": "a", "shape": [2, 4], "datatype": "FP64", "data": [1.0] * 7}]}
            )
        )
    req = parse_infer_request(
        body(
            {
                "inputs": [
                    {"name": "a", "shape": [2, 4], "datatype": "FP64", "data": [[1.0] * 4] * 2}
                ]
            }
        )
    )
    assert req.inputs[0].to_numpy().shape == (2, 4)


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


# --- shapes checked before decoding; data nested as its shape (hardening #8) ------------


def one(tensor: dict) -> bytes:
    return body({"inputs": [{"name": "a", **tensor}]})


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        # The count is checked on the list's length, before numpy converts a value.
        (
            {"shape": [3, 30], "datatype": "FP64", "data": [0.5] * 10_000},
            "input 'a': shape [3, 30] needs 90 values, got 10000",
        ),
        (
            {"shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3, 4], [5, 6]]},
            "input 'a': data holds 3 lists where shape [2, 2] needs 2",
        ),
        (
            {"shape": [1], "datatype": "BYTES", "data": [""] * 5000},
            "input 'a': shape [1] needs 1 values, got 5000",
        ),
        (
            {"shape": [1] * 33, "datatype": "FP64", "data": [1.0]},
            "input 'a': 'shape' has 33 dimensions; at most 32 are supported",
        ),
    ],
)
def test_a_shape_the_data_cannot_fill_is_refused_while_parsing(tensor: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        parse_infer_request(one(tensor))


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        # BYTES values that are lists (they used to be flattened into values)
        (
            {"shape": [2], "datatype": "BYTES", "data": [["x"], ["y"]]},
            "input 'a': data[0] is a list where shape [2] needs a value",
        ),
        (
            {"shape": [1, 2], "datatype": "BYTES", "data": [["x", ["y"]]]},
            "input 'a': data[0][1] is a list where shape [1, 2] needs a value",
        ),
        (
            {"shape": [2], "datatype": "BYTES", "data": ["x", ["y"]]},
            "input 'a': data[1] is a list among values; send the values flat, or nested "
            "exactly as shape [2]",
        ),
        (
            {"shape": [1, 2], "datatype": "FP32", "data": [[1, ["x"]]]},
            "input 'a': data[0][1] is a list where shape [1, 2] needs a value",
        ),
        # numbers nested otherwise than the shape (numpy would read them as [3, 2])
        (
            {"shape": [2, 3], "datatype": "FP64", "data": [[1, 2, 3], [4, 5]]},
            "input 'a': data[1] holds 2 values where shape [2, 3] needs a list of 3",
        ),
        (
            {"shape": [2, 1], "datatype": "FP64", "data": [[1.0], 2.0]},
            "input 'a': data[1] holds a value where shape [2, 1] needs a list of 1",
        ),
    ],
)
def test_data_must_be_flat_or_nested_exactly_as_its_shape(tensor: dict, message: str) -> None:
    tensor_ = parse_infer_request(one(tensor)).inputs[0]
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        tensor_.to_numpy()


def test_booleans_among_numbers_are_kept_for_exact_reports() -> None:
    tensor = parse_infer_request(
        one({"shape": [1, 2], "datatype": "FP64", "data": [True, 1.5]})
    ).inputs[0]
    arr = tensor.to_numpy()
    assert arr.dtype == object and arr[0, 0] is True
    # without a true/false in the JSON, no value is scanned
    plain = parse_infer_request(one({"shape": [1, 2], "datatype": "FP64", "data": [1, 1.5]}))
    assert plain.inputs[0].booleans is False
    assert plain.inputs[0].to_numpy().dtype == np.float64


def test_binary_bytes_shape_is_checked_before_decoding() -> None:
    # 1.9 million empty BYTES elements used to be decoded one by one, then refused.
    raw = b"\0\0\0\0" * 1_900_000
    header = body(
        {
            "inputs": [
                {
                    "name": "s",
                    "shape": [1],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    )
    with pytest.raises(
        InvalidInputError,
        match=re.escape("input 's': 7599996 bytes are left after the 1 BYTES elements its shape"),
    ):
        parse_infer_request(header + raw, len(header))
    short = body(
        {
            "inputs": [
                {
                    "name": "s",
                    "shape": [10],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": 8},
                }
            ]
        }
    )
    with pytest.raises(
        InvalidInputError,
        match=re.escape(
            "input 's': shape [10] of BYTES needs at least 40 bytes (a 4-byte length per "
            "element), binary_data_size is 8"
        ),
    ):
        parse_infer_request(short + b"\0" * 8, len(short))


def test_decode_bytes_tensor_stops_at_the_declared_count() -> None:
    raw = encode_bytes_tensor(["a", "bc", "d"])
    assert decode_bytes_tensor(raw, "s", 3) == [b"a", b"bc", b"d"]
    with pytest.raises(InvalidInputError, match="5 bytes are left after the 2 BYTES elements"):
        decode_bytes_tensor(raw, "s", 2)
