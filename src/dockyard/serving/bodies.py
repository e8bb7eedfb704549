"""Request bodies to validated batches: the decoding half of the inference routes.

Pure functions of the body's bytes and a :class:`Target` (what one served version takes),
with no web framework, so the app runs them inline for small bodies and the decoder
process (:mod:`dockyard.serving.decoder`) runs them for large ones, with the same answers
and the same messages. Every problem with the client's bytes is an
:class:`~dockyard.errors.InvalidInputError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from dockyard.errors import InvalidInputError
from dockyard.registry.signature import Signature
from dockyard.runtime.v2 import parse_infer_request

if TYPE_CHECKING:
    from dockyard.runtime.validation import Batch, Validator

__all__ = ["Decoded", "Target", "decode", "decode_infer", "decode_predict"]


@dataclass(frozen=True)
class Target:
    """What a served version takes, in a form a decoder process can receive (pickled)."""

    name: str
    version: int
    output_name: str
    signature: Signature


@dataclass(slots=True)
class Decoded:
    """A decoded inference request: the validated batch and what the answer needs."""

    batch: Batch
    request_id: str | None = None
    binary_output: bool = False


def _may_hold_booleans(body: bytes) -> bool:
    """Whether a JSON body may hold ``true`` or ``false`` (else no value needs its type
    checked one by one: see ``Validator.rows_to_batch``).

    A search for a word costs ~0.7 ns a byte here, one for a byte (memchr) ~0.04: look
    for ``u`` and ``l`` first, which ``{"instances": [[...]]}`` never holds otherwise.
    """
    return (b"u" in body and b"true" in body) or (b"l" in body and b"false" in body)


def decode_predict(validator: Validator, target: Target, body: bytes) -> Batch:
    """A ``/predict`` body (``{"instances": [[...]]}`` or ``{"records": [{...}]}``)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidInputError(
            'expected a JSON object: {"instances": [[...], ...]} or {"records": [{...}, ...]}'
        )
    scan = _may_hold_booleans(body)
    if "instances" in doc:
        rows = doc["instances"]
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            return validator.records_to_batch(rows, scan_booleans=scan)
        return validator.rows_to_batch(rows, scan_booleans=scan)
    if "records" in doc:
        return validator.records_to_batch(doc["records"], scan_booleans=scan)
    if "inputs" in doc:
        raise InvalidInputError(
            f"this looks like an Open Inference Protocol request: POST it to "
            f'/v2/models/{target.name}/infer, or send {{"instances": [[...]]}} here'
        )
    raise InvalidInputError(
        'missing input: send {"instances": [[...], ...]} or {"records": [{...}, ...]}'
    )


def decode_infer(
    validator: Validator, target: Target, body: bytes, header_length: int | None
) -> Decoded:
    """An Open Inference Protocol body (JSON, or JSON then binary tensors)."""
    request = parse_infer_request(body, header_length)
    for wanted in request.outputs:
        if wanted.name != target.output_name:
            raise InvalidInputError(
                f"unknown output {wanted.name!r}; model {target.name} gives {target.output_name!r}"
            )
    batch = validator.tensors_to_batch(request.inputs)
    return Decoded(batch, request.id, request.wants_binary(target.output_name))


def decode(validator: Validator, target: Target, job: tuple[Any, ...]) -> Batch | Decoded:
    """Run one decoder job: ``("predict", body)`` or ``("infer", body, header_length)``."""
    if job[0] == "predict":
        return decode_predict(validator, target, job[1])
    return decode_infer(validator, target, job[1], job[2])
