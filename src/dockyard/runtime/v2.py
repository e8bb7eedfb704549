"""Open Inference Protocol (KServe V2) REST codec: bytes in, tensors out, and back.

Pure functions, no I/O and no web framework, so the HTTP app, tests and other delivery
modes share them.

An inference request is JSON::

    {"id": "42", "parameters": {...},
     "inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64",
                 "data": [5.1, 3.5, 1.4, 0.2]}],
     "outputs": [{"name": "predict", "parameters": {"binary_data": true}}]}

``data`` may be flat (row-major) or nested to the tensor's shape.

**Binary tensor data extension** (what ``tritonclient.http`` sends by default): the
``Inference-Header-Content-Length`` HTTP header gives the size of the JSON header; the raw
tensors follow it in the order of the inputs that carry ``parameters.binary_data_size``,
little-endian, row-major; ``BOOL`` is one byte per element; ``BYTES`` elements are each a
4-byte little-endian length followed by the bytes. A response is written the same way when
the request asks for it (``parameters.binary_data_output`` for all outputs, or an output's
``parameters.binary_data``); its JSON header then carries ``binary_data_size`` per output
and the caller sets ``Inference-Header-Content-Length``.

Unknown parameters (``priority``, ``timeout``, ``sequence_id``...) are ignored. Every
problem with the client's bytes is an :class:`~dockyard.errors.InvalidInputError`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import orjson

from dockyard.errors import InvalidInputError
from dockyard.registry.signature import DATATYPES

__all__ = [
    "HEADER_LENGTH",
    "InferRequest",
    "OutputTensor",
    "RequestedOutput",
    "Tensor",
    "decode_bytes_tensor",
    "encode_bytes_tensor",
    "encode_infer_response",
    "parse_header_length",
    "parse_infer_request",
]

#: The HTTP header of the binary tensor data extension (requests and responses).
HEADER_LENGTH = "inference-header-content-length"

_LE = {name: np.dtype(dt).newbyteorder("<") for name, dt in DATATYPES.items() if name != "BYTES"}
_U32 = struct.Struct("<I")


@dataclass(slots=True)
class Tensor:
    """One input tensor as the client sent it.

    Attributes:
        name: the input name.
        shape: the declared shape.
        datatype: the declared V2 datatype.
        data: JSON data (a flat list, or lists nested exactly as ``shape``) or, for
            binary inputs, a numpy array already in ``shape``.
        booleans: whether JSON ``data`` may hold booleans (the request's JSON has a
            ``true`` or ``false``): only then are numbers scanned for them.
    """

    name: str
    shape: tuple[int, ...]
    datatype: str
    data: Any
    booleans: bool = True

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def to_numpy(self) -> np.ndarray:
        """The data as an array of ``shape``.

        Numbers become a typed array; data that does not fit the declared datatype
        (strings or booleans among numbers, nulls) comes back as an object array so the
        signature check can name the exact column and row.

        Raises:
            InvalidInputError: the number of values does not match the shape, or the
                data is nested otherwise than the shape (a list where a value belongs).
        """
        if isinstance(self.data, np.ndarray):
            return self.data
        data = self.data
        if not isinstance(data, list):
            raise InvalidInputError(
                f"input {self.name!r}: 'data' must be a list, got {type(data).__name__}"
            )
        # JSON numbers keep numpy's natural type (int64/float64): the signature check
        # converts them to the model's types and reports values that do not fit.
        arr: np.ndarray | None = None
        if self.datatype != "BYTES":
            try:
                arr = np.asarray(data)
            except (ValueError, TypeError):  # ragged
                arr = None
            if arr is not None and (
                arr.dtype.kind not in "fiubO"  # numpy turned numbers among strings into strings
                or (arr.ndim > 1 and arr.shape != self.shape)
                or (self.booleans and arr.dtype.kind in "fiu" and _holds_booleans(data, arr.ndim))
            ):
                arr = None  # the object path says exactly what is wrong
        if arr is None:
            arr = _object_array(data, self.name, self.shape)
        if arr.size != self.size:
            raise InvalidInputError(
                f"input {self.name!r}: shape {list(self.shape)} needs {self.size} values, "
                f"got {arr.size}"
            )
        return arr.reshape(self.shape)


def _holds_booleans(data: list[Any], ndim: int) -> bool:
    if ndim == 1:
        return bool in map(type, data)
    if ndim == 2:
        return bool in map(type, chain.from_iterable(data))
    return True  # deeper nesting is rare: let the object path look


def _object_array(data: list[Any], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A flat object array of the values of ``data``: flat, or nested exactly as ``shape``
    (a list where a value belongs, or a row of the wrong length, is refused here)."""
    if not data or not isinstance(data[0], list):
        for i, v in enumerate(data):
            if isinstance(v, list):
                raise InvalidInputError(
                    f"input {name!r}: data[{i}] is a list among values; send the values "
                    f"flat, or nested exactly as shape {list(shape)}"
                )
        flat = data
    else:
        flat = []

        def walk(value: list[Any], depth: int, path: str) -> None:
            if depth == len(shape) - 1:
                for i, v in enumerate(value):
                    if isinstance(v, list):
                        raise InvalidInputError(
                            f"input {name!r}: data{path}[{i}] is a list where shape "
                            f"{list(shape)} needs a value"
                        )
                flat.extend(value)
                return
            for i, v in enumerate(value):
                where = f"{path}[{i}]"
                if not isinstance(v, list) or len(v) != shape[depth + 1]:
                    got = f"{len(v)} values" if isinstance(v, list) else "a value"
                    raise InvalidInputError(
                        f"input {name!r}: data{where} holds {got} where shape "
                        f"{list(shape)} needs a list of {shape[depth + 1]}; send the values "
                        "flat, or nested exactly as the shape"
                    )
                walk(v, depth + 1, where)

        if len(data) != shape[0]:
            raise InvalidInputError(
                f"input {name!r}: data holds {len(data)} lists where shape {list(shape)} "
                f"needs {shape[0]}; send the values flat, or nested exactly as the shape"
            )
        walk(data, 0, "")
    arr = np.empty(len(flat), dtype=object)
    arr[:] = flat
    return arr


@dataclass(slots=True)
class RequestedOutput:
    """An output the client asked for; ``binary`` is None when it did not say."""

    name: str
    binary: bool | None = None


@dataclass(slots=True)
class InferRequest:
    """A parsed inference request."""

    id: str | None
    inputs: list[Tensor]
    outputs: list[RequestedOutput] = field(default_factory=list)
    binary_output: bool = False

    def wants_binary(self, output_name: str) -> bool:
        """Whether ``output_name`` should be sent in binary."""
        for out in self.outputs:
            if out.name == output_name and out.binary is not None:
                return out.binary
        return self.binary_output


@dataclass(slots=True)
class OutputTensor:
    """One output tensor of a response."""

    name: str
    data: np.ndarray
    datatype: str


# --- requests --------------------------------------------------------------------------


def parse_header_length(value: str | None, body_size: int) -> int | None:
    """Read the ``Inference-Header-Content-Length`` header (None when absent).

    Raises:
        InvalidInputError: it is not an integer between 0 and the body's size.
    """
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > body_size:  # "³".isdigit()
        raise InvalidInputError(
            f"Inference-Header-Content-Length must be an integer between 0 and the body "
            f"size ({body_size}), got {value[:40]!r}"
        )
    return int(value)


def parse_infer_request(body: bytes, header_length: int | None = None) -> InferRequest:
    """Parse an inference request body.

    Args:
        body: the whole HTTP body.
        header_length: the ``Inference-Header-Content-Length`` value, if the request
            uses the binary data extension (see :func:`parse_header_length`).

    Raises:
        InvalidInputError: malformed JSON, a field of the wrong type, binary sizes that
            do not add up. The message names the field.
    """
    binary: bytes | memoryview
    if header_length is None:
        header, binary = body, b""
    else:
        header, binary = body[:header_length], memoryview(body)[header_length:]
    try:
        doc = orjson.loads(header)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidInputError(f"an inference request is a JSON object, got {type(doc).__name__}")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInputError(f"'id' must be a string, got {type(request_id).__name__}")
    params = _params(doc.get("parameters"), "request")
    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInputError("'inputs' must be a non-empty list of tensors")
    offset = 0
    inputs: list[Tensor] = []
    # JSON booleans are the bytes true/false: without them, no value needs a type scan
    # (a byte is found ~20x faster than a word, and "l" is in no key of the protocol).
    booleans = b"true" in header or (b"l" in header and b"false" in header)
    for i, raw in enumerate(raw_inputs):
        tensor, used = _parse_input(raw, i, binary, offset, booleans)
        offset += used
        inputs.append(tensor)
    if offset != len(binary):
        raise InvalidInputError(
            f"the binary data after the JSON header is {len(binary)} bytes but the inputs' "
            f"binary_data_size add up to {offset}"
        )
    return InferRequest(
        id=request_id,
        inputs=inputs,
        outputs=_parse_outputs(doc.get("outputs")),
        binary_output=params.get("binary_data_output") is True,
    )


def _params(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where} 'parameters' must be an object")
    return value


#: Most dimensions of an input tensor (numpy's own limit is 64; tabular models take 2).
MAX_DIMENSIONS = 32


def _parse_input(
    raw: Any, index: int, binary: Any, offset: int, booleans: bool = True
) -> tuple[Tensor, int]:
    if not isinstance(raw, dict):
        raise InvalidInputError(f"inputs[{index}] must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"inputs[{index}] needs a 'name' (a non-empty string)")
    shape = raw.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(type(d) is int and d >= 0 for d in shape)
    ):
        raise InvalidInputError(
            f"input {name!r}: 'shape' must be a non-empty list of non-negative integers, "
            f"got {_short(shape)}"
        )
    if len(shape) > MAX_DIMENSIONS:
        raise InvalidInputError(
            f"input {name!r}: 'shape' has {len(shape)} dimensions; at most {MAX_DIMENSIONS} "
            "are supported"
        )
    datatype = raw.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:  # {} is unhashable
        raise InvalidInputError(
            f"input {name!r}: unknown datatype {_short(datatype)}; "
            f"use one of {', '.join(DATATYPES)}"
        )
    params = _params(raw.get("parameters"), f"input {name!r}")
    size = params.get("binary_data_size")
    count = math.prod(shape)
    if "binary_data_size" not in params:
        if "data" not in raw:
            raise InvalidInputError(f"input {name!r} has no 'data'")
        data = raw["data"]
        # Refuse a shape the data cannot fill before converting a value (a large body
        # would be decoded for nothing): flat data has one value per element, nested
        # data one list per row.
        if isinstance(data, list) and data:
            nested = isinstance(data[0], list)
            if not nested and len(data) != count:
                raise InvalidInputError(
                    f"input {name!r}: shape {shape} needs {count} values, got {len(data)}"
                )
            if nested and len(data) != shape[0]:
                raise InvalidInputError(
                    f"input {name!r}: data holds {len(data)} lists where shape {shape} needs "
                    f"{shape[0]}; send the values flat, or nested exactly as the shape"
                )
        return Tensor(name, tuple(shape), datatype, data, booleans), 0
    if type(size) is not int or size < 0:
        raise InvalidInputError(f"input {name!r}: binary_data_size must be a non-negative integer")
    if offset + size > len(binary):
        raise InvalidInputError(
            f"input {name!r}: binary_data_size {size} runs past the end of the body "
            f"({len(binary) - offset} bytes left)"
        )
    chunk = binary[offset : offset + size]
    if datatype == "BYTES":
        if 4 * count > size:
            raise InvalidInputError(
                f"input {name!r}: shape {shape} of BYTES needs at least {4 * count} bytes "
                f"(a 4-byte length per element), binary_data_size is {size}"
            )
        items = decode_bytes_tensor(chunk, name, count)
        if len(items) != count:
            raise InvalidInputError(
                f"input {name!r}: shape {shape} needs {count} values, got {len(items)}"
            )
        arr = np.empty(count, dtype=object)
        arr[:] = items
    else:
        dtype = _LE[datatype]
        if size != count * dtype.itemsize:
            raise InvalidInputError(
                f"input {name!r}: shape {shape} of {datatype} needs {count * dtype.itemsize} "
                f"bytes, binary_data_size is {size}"
            )
        arr = np.frombuffer(chunk, dtype=dtype)
        if datatype == "BOOL":
            arr = arr.view(bool)
        elif not dtype.isnative:
            arr = arr.astype(dtype.newbyteorder("="))
    return Tensor(name, tuple(shape), datatype, arr.reshape(shape)), size


def _parse_outputs(raw: Any) -> list[RequestedOutput]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidInputError("'outputs' must be a list")
    outputs = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInputError(f"outputs[{i}] must be an object with a 'name'")
        params = _params(item.get("parameters"), f"output {item['name']!r}")
        binary = params.get("binary_data")
        outputs.append(RequestedOutput(item["name"], binary if isinstance(binary, bool) else None))
    return outputs


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- BYTES tensors ---------------------------------------------------------------------


def decode_bytes_tensor(buf: Any, name: str = "tensor", count: int | None = None) -> list[bytes]:
    """Split a binary BYTES tensor (4-byte little-endian length, then the bytes, each).

    Args:
        buf: the tensor's bytes.
        name: the input's name, for error messages.
        count: the elements the declared shape holds; decoding stops there, and bytes
            left after them are an error (a body cannot make it decode more).

    Raises:
        InvalidInputError: a length runs past the end, or bytes are left over.
    """
    view = memoryview(buf)
    items: list[bytes] = []
    pos = 0
    end = len(view)
    limit = end if count is None else count
    while pos < end and len(items) < limit:
        if pos + 4 > end:
            raise InvalidInputError(f"input {name!r}: truncated BYTES element length")
        (n,) = _U32.unpack_from(view, pos)
        pos += 4
        if pos + n > end:
            raise InvalidInputError(
                f"input {name!r}: BYTES element of {n} bytes runs past the end of its data"
            )
        items.append(bytes(view[pos : pos + n]))
        pos += n
    if pos < end:
        raise InvalidInputError(
            f"input {name!r}: {end - pos} bytes are left after the {count} BYTES elements "
            "its shape holds"
        )
    return items


def encode_bytes_tensor(values: Iterable[Any]) -> bytes:
    """The binary form of a BYTES tensor (strings are UTF-8 encoded)."""
    parts = []
    for v in values:
        b = v if isinstance(v, bytes) else str(v).encode()
        parts.append(_U32.pack(len(b)))
        parts.append(b)
    return b"".join(parts)


# --- responses -------------------------------------------------------------------------


def _json_data(arr: np.ndarray, datatype: str) -> Any:
    flat = arr.reshape(-1)
    if datatype == "BYTES" or flat.dtype.kind in "OUS":
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in flat.tolist()]
    if flat.dtype.kind in "fiub" and flat.dtype.isnative:
        return np.ascontiguousarray(flat)  # orjson writes numpy arrays natively
    return flat.tolist()


def encode_infer_response(
    *,
    model_name: str,
    model_version: str,
    request_id: str | None,
    outputs: Sequence[OutputTensor],
    binary: Iterable[str] = (),
) -> tuple[bytes, int | None]:
    """Write an inference response.

    Args:
        binary: names of the outputs to send as binary data.

    Returns:
        The body and, when some output is binary, the JSON header's length (the value of
        the ``Inference-Header-Content-Length`` response header), else None.
    """
    binary = set(binary)
    doc: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request_id is not None:
        doc["id"] = request_id
    chunks: list[bytes] = []
    out_docs = []
    for out in outputs:
        entry: dict[str, Any] = {
            "name": out.name,
            "datatype": out.datatype,
            "shape": list(out.data.shape),
        }
        if out.name in binary:
            raw = _binary_data(out.data, out.datatype)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = _json_data(out.data, out.datatype)
        out_docs.append(entry)
    doc["outputs"] = out_docs
    header = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)


def _binary_data(arr: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        return encode_bytes_tensor(arr.reshape(-1).tolist())
    return np.ascontiguousarray(arr, dtype=_LE[datatype]).tobytes()
