"""The OpenAPI document of the model service, generated from the served signatures.

The inference routes parse bytes themselves (no pydantic on the hot path), so their
request shapes are written here, for each served version from its signature: one
operation per model (its default version) and per version, whose request schema names
its inputs, their datatypes, ranges and shapes, with an example the version accepts.
The schemas say exactly what the server accepts, so that a request valid by the document
is answered (a property-based client, schemathesis, checks both ways in the tests):

* **Rows**: a JSON Schema cannot tie a tensor's ``shape`` to the length of its ``data``,
  so V2 requests are described with one row (``shape [1, n]``); the operation's text says
  that any number of rows works. ``/predict`` has no shape to tie, and takes any number.
* **Values**: numbers within the range the runtime accepts (see
  :mod:`dockyard.runtime.validation`: ±1e150 for ``FP64`` columns that forbid infinity),
  ``null`` only where the column allows missing values.
* ``/predict`` is described for the default model; another model is reached with
  ``?model=NAME`` and takes the inputs of its own V2 operation.
* A version whose signature knows no width (a model that says nothing of its inputs)
  takes numeric rows of any width, one width per request: described as one row of any
  width, which every such request is not (the schema cannot say "all rows alike").
* The binary tensor extension (``Inference-Header-Content-Length``) is described in
  words, not as a parameter: with a JSON body the header would change its meaning.

The pydantic models below describe the responses and the routes FastAPI documents
itself (metadata, health).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import numpy as np
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from dockyard.registry.signature import (
    DATATYPES,
    FLOAT_TYPES,
    INT_TYPES,
    NUMERIC_TYPES,
    ColumnSpec,
    Signature,
)
from dockyard.runtime.validation import float_limit

if TYPE_CHECKING:
    from dockyard.runtime.model import ModelRuntime

__all__ = ["build_openapi"]

# --- documented shapes (OpenAPI only: the hot path parses bytes itself) ----------------

Datatype = Literal[
    "BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[ResponseOutput]


class PredictResponse(BaseModel):
    predictions: list[Any]
    model: str
    version: int


class ErrorResponse(BaseModel):
    error: str


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class TensorMetadata(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any] | None = None


class Liveness(BaseModel):
    live: bool


class Readiness(BaseModel):
    ready: bool


class ModelReadiness(BaseModel):
    name: str
    ready: bool


# --- request schemas from a signature --------------------------------------------------

_FLOAT_MAX = float(np.finfo(np.float64).max)  # JSON cannot carry more, even where inf is allowed
_OBJECT_OR_NULL = {"type": ["object", "null"]}


def _value(spec: ColumnSpec) -> dict[str, Any]:
    """One value of a column, as the runtime's validation accepts it."""
    if spec.dtype in FLOAT_TYPES:
        limit = min(float_limit(spec), _FLOAT_MAX)
        kind: Any = ["number", "null"] if spec.allow_nan else "number"
        return {"type": kind, "minimum": -limit, "maximum": limit}
    if spec.dtype in INT_TYPES:
        info = np.iinfo(DATATYPES[spec.dtype])
        return {"type": "integer", "minimum": int(info.min), "maximum": int(info.max)}
    if spec.dtype == "BOOL":
        return {"type": "boolean"}
    return {"type": ["string", "null"]} if spec.allow_nan else {"type": "string"}


def _example(spec: ColumnSpec) -> Any:
    if spec.dtype in NUMERIC_TYPES:
        return 0.0 if spec.dtype in FLOAT_TYPES else 0
    return False if spec.dtype == "BOOL" else "a"


def _columns(sig: Signature) -> list[ColumnSpec]:
    """The columns, or as many unnamed FP64 ones as a fixed width asks (none: any width)."""
    if sig.inputs:
        return list(sig.inputs)
    return [ColumnSpec(f"x{i}") for i in range(sig.n_features or 0)]


def _row(columns: list[ColumnSpec]) -> dict[str, Any]:
    """A row of values in column order."""
    if not columns:  # any width: one shape cannot say "all rows alike"
        return {"type": "array", "minItems": 1, "items": _value(ColumnSpec("x"))}
    values = [_value(c) for c in columns]
    schema: dict[str, Any] = {"type": "array", "minItems": len(values), "maxItems": len(values)}
    if all(v == values[0] for v in values):
        schema["items"] = values[0]
    else:
        schema["prefixItems"] = values
    return schema


def _compatible(dtype: str) -> list[str]:
    """The datatypes a tensor may declare for a column of ``dtype``."""
    if dtype in FLOAT_TYPES:
        return [d for d in DATATYPES if d in NUMERIC_TYPES]
    if dtype in INT_TYPES:
        return [d for d in DATATYPES if d in INT_TYPES]
    return [dtype]


def _no_binary() -> dict[str, Any]:
    """Tensor parameters, without ``binary_data_size`` (that is the binary extension)."""
    return {**_OBJECT_OR_NULL, "not": {"required": ["binary_data_size"]}}


def _matrix_tensor(sig: Signature, columns: list[ColumnSpec]) -> dict[str, Any]:
    width = len(columns)
    name: dict[str, Any] = {"type": "string", "minLength": 1}
    if sig.inputs:  # a column's name means one tensor per column
        name["not"] = {"enum": list(sig.column_names)}
    row = _row(columns)
    shape: dict[str, Any] = {
        "type": "array",
        "minItems": 2,
        "maxItems": 2,
        "prefixItems": [{"const": 1}, {"const": width} if width else {"const": 1}],
    }
    flat = row if width else {**row, "maxItems": 1}
    return {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": name,
            "shape": shape,
            "datatype": {"enum": _compatible(sig.matrix_dtype or "FP64")},
            "parameters": _no_binary(),
            "data": {
                "anyOf": [flat, {"type": "array", "minItems": 1, "maxItems": 1, "items": flat}]
            },
        },
    }


def _column_tensor(spec: ColumnSpec) -> dict[str, Any]:
    value = _value(spec)
    common = {
        "name": {"const": spec.name},
        "datatype": {"enum": _compatible(spec.dtype)},
        "parameters": _no_binary(),
    }
    one = {"type": "array", "minItems": 1, "maxItems": 1, "items": value}
    return {
        "anyOf": [
            {
                "type": "object",
                "required": ["name", "shape", "datatype", "data"],
                "properties": {**common, "shape": {"const": [1]}, "data": one},
            },
            {
                "type": "object",
                "required": ["name", "shape", "datatype", "data"],
                "properties": {
                    **common,
                    "shape": {"const": [1, 1]},
                    "data": {"anyOf": [one, {**one, "items": one}]},
                },
            },
        ]
    }


def infer_request_schema(rt: ModelRuntime) -> dict[str, Any]:
    """The V2 request body one version accepts (one row; see the module docstring)."""
    sig = rt.signature
    columns = _columns(sig)
    forms = []
    if sig.is_matrix:
        forms.append(
            {"type": "array", "minItems": 1, "maxItems": 1, "items": _matrix_tensor(sig, columns)}
        )
    if sig.inputs:
        forms.append(
            {
                "type": "array",
                "minItems": len(sig.inputs),
                "maxItems": len(sig.inputs),
                "prefixItems": [_column_tensor(c) for c in sig.inputs],
            }
        )
    output = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"const": rt.output_name}, "parameters": _OBJECT_OR_NULL},
    }
    return {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": ["string", "null"]},
            "parameters": {
                **_OBJECT_OR_NULL,
                "description": "`binary_data_output: true` asks for binary outputs",
            },
            "inputs": forms[0] if len(forms) == 1 else {"anyOf": forms},
            "outputs": {"type": ["array", "null"], "items": output},
        },
    }


def infer_example(rt: ModelRuntime) -> dict[str, Any]:
    sig = rt.signature
    columns = _columns(sig) or [ColumnSpec("x0")]
    if sig.is_matrix:
        inputs = [
            {
                "name": "input-0",
                "shape": [1, len(columns)],
                "datatype": sig.matrix_dtype or "FP64",
                "data": [_example(c) for c in columns],
            }
        ]
    else:
        inputs = [
            {"name": c.name, "shape": [1], "datatype": c.dtype, "data": [_example(c)]}
            for c in columns
        ]
    return {"inputs": inputs}


def predict_request_schema(rt: ModelRuntime) -> dict[str, Any]:
    """The ``/predict`` body one version accepts: rows, or records by column name."""
    sig = rt.signature
    columns = _columns(sig)
    rows = {"type": "array", "minItems": 1, "items": _row(columns)}
    if not columns:  # any width, the same for every row: only one row says that
        rows["maxItems"] = 1
    if not sig.inputs:
        return {"type": "object", "required": ["instances"], "properties": {"instances": rows}}
    record = {
        "type": "object",
        "required": list(sig.column_names),
        "properties": {c.name: _value(c) for c in sig.inputs},
    }
    records = {"type": "array", "minItems": 1, "items": record}
    return {
        "oneOf": [
            {
                "type": "object",
                "required": ["instances"],
                "properties": {"instances": {"anyOf": [rows, records]}},
            },
            {
                "type": "object",
                "required": ["records"],
                "properties": {"records": records},
                "not": {"required": ["instances"]},
            },
        ]
    }


def predict_example(rt: ModelRuntime) -> dict[str, Any]:
    columns = _columns(rt.signature) or [ColumnSpec("x0")]
    return {"instances": [[_example(c) for c in columns]]}


# --- the document ----------------------------------------------------------------------


def _component_name(label: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", label)
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def build_openapi(
    app: FastAPI,
    models: Mapping[str, Mapping[int, ModelRuntime]],
    default: Mapping[str, ModelRuntime],
    *,
    token: bool = False,
) -> dict[str, Any]:
    """The OpenAPI document of ``app`` serving ``models`` (name -> version -> runtime).

    Args:
        app: the FastAPI app (its own routes are documented by FastAPI).
        models: the served versions by model name.
        default: each model's default version.
        token: the server wants a bearer token on inference and model routes.
    """
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (InferenceResponse, PredictResponse, ErrorResponse):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def answer(description: str, schema: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": ref(schema)}},
        }

    errors = {
        "400": answer("Input that does not fit the model (the message names it)", "ErrorResponse"),
        "401": answer("Missing or wrong bearer token (when the server has one)", "ErrorResponse"),
        "404": answer("Unknown model or version", "ErrorResponse"),
        "413": answer("Body over the size limit", "ErrorResponse"),
        "415": answer("Content type is not JSON", "ErrorResponse"),
        "500": answer("The model raised; the message names the model version", "ErrorResponse"),
    }
    version_header = {"x-model-version": {"schema": {"type": "string"}}}
    taken = set(components)
    made: dict[tuple[str, str], str] = {}
    security: list[dict[str, list[str]]] | None = [{"bearer": []}] if token else None

    def operation(
        rt: ModelRuntime, schema: dict[str, Any], example: Any, **fields: Any
    ) -> dict[str, Any]:
        key = (rt.label, fields.pop("kind"))
        name = made.get(key)
        if name is None:  # the default version's two operations share one schema
            name = made[key] = _component_name(f"{rt.name}.v{rt.version}.{key[1]}", taken)
            components[name] = schema
        responses = fields.pop("responses")
        op = {
            "tags": ["inference"],
            **fields,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref(name), "example": example}},
            },
            "responses": {**responses, **errors},
        }
        if security:
            op["security"] = security
        return op

    def infer(rt: ModelRuntime, path: str, summary: str, operation_id: str) -> None:
        doc["paths"][path] = {
            "post": operation(
                rt,
                infer_request_schema(rt),
                infer_example(rt),
                kind="InferenceRequest",
                summary=summary,
                operationId=operation_id,
                description=_infer_text(rt),
                responses={
                    "200": {
                        "description": "Outputs (binary after the JSON header when asked)",
                        "headers": version_header,
                        "content": {
                            "application/json": {"schema": ref("InferenceResponse")},
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                        },
                    }
                },
            )
        }

    ids: set[str] = set()
    for name, versions in models.items():
        path = f"/v2/models/{quote(name, safe='')}"
        rt = default[name]
        infer(
            rt,
            f"{path}/infer",
            f"{name}: inference on the default version ({rt.version})",
            _component_name(f"infer_{name}", ids),
        )
        for version, rt in versions.items():
            infer(
                rt,
                f"{path}/versions/{version}/infer",
                f"{name}: inference on version {version}",
                _component_name(f"infer_{name}_v{version}", ids),
            )

    first = next(iter(models))
    rt = default[first]
    same = [str(v) for v, other in models[first].items() if other.signature == rt.signature]
    params = [
        {
            "name": "model",
            "in": "query",
            "required": len(models) > 1,
            "schema": {"type": "string", "enum": [first]},
            "description": "the model (another served model takes the inputs of its "
            "own /v2/models/NAME/infer operation)",
        },
        {
            "name": "version",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": same},
        },
    ]
    doc["paths"]["/predict"] = {
        "post": operation(
            rt,
            predict_request_schema(rt),
            predict_example(rt),
            kind="PredictRequest",
            summary=f"Plain JSON prediction ({first})",
            operationId="predict",
            description="Rows in the signature's column order (`instances`), or records by "
            "column name (`records`); one prediction per row.",
            parameters=params,
            responses={
                "200": {
                    **answer("Predictions, one per row", "PredictResponse"),
                    "headers": version_header,
                }
            },
        )
    }
    # The routes FastAPI documents: name the served models and versions.
    names = list(models)
    served = sorted({str(v) for vs in models.values() for v in vs}, key=int)
    for route, operations in doc["paths"].items():
        for op in operations.values():
            for param in op.get("parameters", []):
                if param["in"] != "path":
                    continue
                if param["name"] == "name":
                    param["schema"] = {"type": "string", "enum": names}
                elif param["name"] == "version":
                    param["schema"] = {"type": "string", "enum": served}
            if token and route.startswith("/v2/models/"):
                op["security"] = security
    if token:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    app.openapi_schema = doc
    return doc


def _infer_text(rt: ModelRuntime) -> str:
    sig = rt.signature
    if sig.is_matrix:
        width = sig.n_features or "any number of"
        form = (
            f"one tensor of shape `[N, {sig.n_features or 'width'}]` ({width} "
            f"{sig.matrix_dtype or 'FP64'} features"
            + (f": {', '.join(sig.column_names)}" if sig.inputs else "")
            + ")"
            + (", or one tensor per column of shape `[N]`" if sig.inputs else "")
        )
    else:
        form = "one tensor per column of shape `[N]`: " + ", ".join(
            f"{c.name} ({c.dtype})" for c in sig.inputs
        )
    return (
        f"Open Inference Protocol inference on model {rt.name} version {rt.version}: "
        f"{form}. N is any number of rows (the schema shows one: JSON Schema cannot tie "
        "`shape` to the length of `data`). `data` is flat (row-major) or nested as the "
        f"shape. Output: `{rt.output_name}`.\n\n"
        "Binary tensor data extension (what `tritonclient.http` sends): send "
        "`Inference-Header-Content-Length: <JSON header size>` and the raw little-endian "
        "tensors after the JSON header (`parameters.binary_data_size` on each input); "
        "`application/octet-stream` is accepted then."
    )
