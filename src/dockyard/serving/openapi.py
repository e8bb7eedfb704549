"""The OpenAPI document of the model service.

The inference routes parse bytes themselves (no pydantic on the hot path), so their
request and response shapes are written into the document by hand from the pydantic models
below, which exist for documentation only.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

__all__ = ["build_openapi"]

# --- documented shapes (OpenAPI only: the hot path parses bytes itself) ----------------

Datatype = Literal[
    "BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip


class RequestInput(BaseModel):
    name: str = Field(examples=["input-0"])
    shape: list[int] = Field(examples=[[1, 4]])
    datatype: Datatype
    parameters: dict[str, Any] | None = Field(
        None, description="`binary_data_size` when the tensor's bytes follow the JSON header"
    )
    data: list[Any] | None = Field(
        None, description="Row-major values, flat or nested", examples=[[5.1, 3.5, 1.4, 0.2]]
    )


class RequestOutput(BaseModel):
    name: str = Field(examples=["predict"])
    parameters: dict[str, Any] | None = Field(None, description="`binary_data`: true/false")


class InferenceRequest(BaseModel):
    """An Open Inference Protocol request. Unknown parameters are ignored."""

    id: str | None = None
    parameters: dict[str, Any] | None = Field(None, description="`binary_data_output`: true")
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


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


class PredictRequest(BaseModel):
    """Either rows in the signature's column order, or records by column name."""

    instances: list[list[Any]] | None = Field(None, examples=[[[5.1, 3.5, 1.4, 0.2]]])
    records: list[dict[str, Any]] | None = None


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


# --- OpenAPI ---------------------------------------------------------------------------


def _schema_refs(components: dict[str, Any], *models: type[BaseModel]) -> None:
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    _schema_refs(
        components,
        InferenceRequest,
        InferenceResponse,
        PredictRequest,
        PredictResponse,
        ErrorResponse,
    )

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def answer(description: str, schema: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": ref(schema)}},
        }

    errors = {
        "400": answer(
            "Malformed JSON, missing input, wrong shape, datatype or value", "ErrorResponse"
        ),
        "401": answer("Missing or wrong bearer token (when the server has one)", "ErrorResponse"),
        "404": answer("Unknown model or version", "ErrorResponse"),
        "413": answer("Body over the size limit", "ErrorResponse"),
        "415": answer("Content type is not JSON", "ErrorResponse"),
        "500": answer("The model raised; the message names the model version", "ErrorResponse"),
    }
    path_param = {"in": "path", "required": True, "schema": {"type": "string"}}
    header_param = {
        "name": "Inference-Header-Content-Length",
        "in": "header",
        "required": False,
        "description": "Binary tensor data extension: the JSON header's size in bytes; the "
        "tensors' raw little-endian bytes follow it.",
        "schema": {"type": "integer", "minimum": 0},
    }

    def infer_op(with_version: bool) -> dict[str, Any]:
        params = [{"name": "name", **path_param}]
        if with_version:
            params.append({"name": "version", **path_param})
        return {
            "post": {
                "tags": ["inference"],
                "summary": "Open Inference Protocol inference"
                + (" on one version" if with_version else " on the default version"),
                "operationId": "infer_version" if with_version else "infer",
                "parameters": [*params, header_param],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": ref("InferenceRequest")},
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": "Outputs (binary after the JSON header when asked)",
                        "headers": {"x-model-version": {"schema": {"type": "string"}}},
                        "content": {
                            "application/json": {"schema": ref("InferenceResponse")},
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                        },
                    },
                    **errors,
                },
            }
        }

    doc["paths"]["/v2/models/{name}/infer"] = infer_op(False)
    doc["paths"]["/v2/models/{name}/versions/{version}/infer"] = infer_op(True)
    doc["paths"]["/predict"] = {
        "post": {
            "tags": ["inference"],
            "summary": "Plain JSON prediction",
            "operationId": "predict",
            "parameters": [
                {"name": "model", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "version", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("PredictRequest")}},
            },
            "responses": {
                "200": {
                    **answer("Predictions, one per row", "PredictResponse"),
                    "headers": {"x-model-version": {"schema": {"type": "string"}}},
                },
                **errors,
            },
        }
    }
    # Name the served models and versions, so clients (and property-based tests) see them.
    models: dict[str, dict[int, Any]] = app.state.dockyard.models
    names = list(models)
    versions = sorted({str(v) for vs in models.values() for v in vs}, key=int)
    for operations in doc["paths"].values():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                if param["name"] in ("name", "model") and param["in"] in ("path", "query"):
                    param["schema"] = {"type": "string", "enum": names}
                elif param["name"] == "version" and param["in"] in ("path", "query"):
                    param["schema"] = {"type": "string", "enum": versions}
    app.openapi_schema = doc
    return doc
