"""Stream scoring's decisions, without I/O: what to do with each message of a batch.

The consumer loop (:mod:`dockyard.events.consumer`) only carries these out, as the
rollout controller carries out its state machine. Everything here is a pure function of
its arguments (a message, the options, a validator, the model's answers), tested case by
case without a broker:

* :class:`ConsumerConfig`: the options, checked once, with the reason for each refusal;
* :func:`triage`: messages delivered too often go to the dead letters;
* :func:`parse`: a payload becomes an input id and features, or a reason to dead-letter;
* :func:`split_valid`: which inputs the model's signature accepts (one check for the
  batch, one per input only when the batch is refused);
* :func:`prediction_message`: the output record and its deduplication key.
"""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dockyard.errors import ConsumerConfigError, InvalidInputError
from dockyard.events.base import Message, Outgoing, check_name

__all__ = [
    "ConsumerConfig",
    "Input",
    "iso_time",
    "parse",
    "prediction_message",
    "split_valid",
    "to_json_value",
    "triage",
]


def _default_name() -> str:
    # Stable across restarts on one host, so a restarted consumer re-reads its own
    # pending messages first (Redis); replicas on one host need a --name each.
    host = "".join(c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname())
    return f"{host.strip('.-_') or 'consumer'}"[:100]


@dataclass(frozen=True)
class ConsumerConfig:
    """What a stream consumer reads, writes and how (checked when built).

    Attributes:
        input: the topic of the input events.
        output: the topic predictions are published to.
        group: the consumer group (consumers of one group share the input).
        name: this consumer's name in the group (default: the host name; stable across
            restarts, so a restarted consumer finishes its own pending messages first).
        max_batch: at most this many messages per model call.
        max_latency_ms: after the first message of a batch, wait at most this long for
            more (0: take what has arrived, never wait).
        dead_letter: topic for messages that cannot be scored (default ``INPUT.dead``).
        id_field: the input field holding the event's id.
        max_deliveries: a message delivered more often than this is dead-lettered (it
            keeps crashing or timing out its consumers).
        poll_s: the longest a fetch waits for messages, so a stop is noticed this fast.
    """

    input: str
    output: str
    group: str = "scorers"
    name: str = ""
    max_batch: int = 64
    max_latency_ms: float = 10.0
    dead_letter: str = ""
    id_field: str = "id"
    max_deliveries: int = 5
    poll_s: float = 0.5

    def __post_init__(self) -> None:
        for value, what in ((self.input, "input topic"), (self.output, "output topic")):
            check_name(value, what)
        check_name(self.group, "group")
        if not self.name:
            object.__setattr__(self, "name", _default_name())
        check_name(self.name, "consumer")
        if not self.dead_letter:
            object.__setattr__(self, "dead_letter", f"{self.input}.dead")
        check_name(self.dead_letter, "dead-letter topic")
        if self.input in (self.output, self.dead_letter):
            raise ConsumerConfigError(
                f"the input topic {self.input!r} is also the output or dead-letter topic: "
                "the consumer would read its own messages. Pick other topics."
            )
        _positive_int(self.max_batch, "--max-batch", "e.g. 64; 1 scores one event per call")
        _positive_int(self.max_deliveries, "--max-deliveries", "e.g. 5")
        if not isinstance(self.max_latency_ms, int | float) or not (
            0 <= self.max_latency_ms <= 60_000
        ):
            raise ConsumerConfigError(
                f"--max-latency-ms must be from 0 to 60000, got {self.max_latency_ms!r}."
            )
        if not isinstance(self.id_field, str) or not self.id_field:
            raise ConsumerConfigError(f"--id-field must name a field, got {self.id_field!r}.")
        if not 0 < self.poll_s <= 60:
            raise ConsumerConfigError(f"poll_s must be in (0, 60], got {self.poll_s!r}.")


def _positive_int(value: Any, option: str, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConsumerConfigError(
            f"{option} must be a whole number of at least 1 ({hint}), got {value!r}."
        )


@dataclass(frozen=True)
class Input:
    """A parsed input event: where it came from, its id and its features."""

    message: Message
    input_id: Any
    features: Any  # a record (dict by column name) or a row (list in column order)
    received_at: float  # epoch seconds

    @property
    def is_record(self) -> bool:
        return isinstance(self.features, dict)


def triage(
    messages: Sequence[Message], max_deliveries: int
) -> tuple[list[Message], list[tuple[Message, str]]]:
    """Split off messages delivered more than ``max_deliveries`` times, with the reason."""
    keep: list[Message] = []
    dead: list[tuple[Message, str]] = []
    for m in messages:
        if m.delivery_count > max_deliveries:
            dead.append(
                (
                    m,
                    f"delivered {m.delivery_count} times, more than --max-deliveries "
                    f"{max_deliveries}: it may crash or stall its consumers",
                )
            )
        else:
            keep.append(m)
    return keep, dead


def parse(message: Message, id_field: str, received_at: float) -> Input | str:
    """The input of ``message``, or why it cannot be scored.

    A payload is a JSON object: ``{"<id_field>": ..., "features": {...} or [...]}``, or
    one flat record whose fields are the features (the id field is left out of them), or
    a JSON list (one row in column order; the id is then the broker's message id).
    """
    try:
        body = json.loads(message.payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"unparseable JSON: {exc}"
    if isinstance(body, list):
        return Input(message, message.id, body, received_at)
    if not isinstance(body, dict):
        return f"expected a JSON object or list, got {type(body).__name__}"
    input_id = body.get(id_field)
    if isinstance(input_id, dict | list):
        return (
            f"the id field {id_field!r} must be a string or number, got {type(input_id).__name__}"
        )
    if input_id is None:
        input_id = message.id
    if "features" in body:
        features = body["features"]
        if not isinstance(features, dict | list) or not features:
            return "'features' must be a non-empty JSON object (by column) or list (a row)"
    else:
        features = {k: v for k, v in body.items() if k != id_field}
        if not features:
            return f"no features: the message holds only the id field {id_field!r}"
    return Input(message, input_id, features, received_at)


def split_valid(
    inputs: Sequence[Input], to_batch: Callable[[list[Any]], Any]
) -> tuple[list[tuple[list[Input], Any]], list[tuple[Input, str]]]:
    """Validate inputs in as few calls as possible.

    Records and rows are validated apart (the validator takes one kind per batch). Each
    kind is checked whole first; when that is refused, each input alone, so one bad input
    dead-letters alone with the validator's own message.

    Args:
        to_batch: ``list of records or rows -> validated batch`` (raising
            :class:`~dockyard.errors.InvalidInputError`), e.g. the runtime validator's.

    Returns:
        ``(inputs, batch)`` pairs to score, and the refused inputs with their reasons.
    """
    batches: list[tuple[list[Input], Any]] = []
    refused: list[tuple[Input, str]] = []
    for kind in (True, False):
        group = [i for i in inputs if i.is_record is kind]
        if not group:
            continue
        try:
            batches.append((group, to_batch([i.features for i in group])))
            continue
        except InvalidInputError:
            pass
        good: list[Input] = []
        for item in group:
            try:
                to_batch([item.features])
                good.append(item)
            except InvalidInputError as exc:
                refused.append((item, f"invalid input: {exc}"))
        if good:
            try:
                batches.append((good, to_batch([i.features for i in good])))
            except InvalidInputError as exc:  # pragma: no cover - each passed alone
                refused += [(i, f"invalid input: {exc}") for i in good]
    return batches, refused


def to_json_value(value: Any) -> Any:
    """A prediction as JSON: numpy scalars and arrays to Python, NaN and inf to None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def iso_time(epoch: float) -> str:
    """``epoch`` as ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def prediction_message(
    item: Input,
    prediction: Any,
    *,
    model: str,
    version: int,
    scored_at: str,
    received_at: str | None = None,
    consumer: str = "",
) -> Outgoing:
    """The output message of one scored input; its key ``{input_id}:{version}`` lets a
    reader drop the repeats at-least-once delivery can cause.

    ``scored_at`` and ``received_at`` are ISO 8601 strings (:func:`iso_time`), made once
    per batch by the caller (``received_at`` defaults to the input's own time).
    """
    body = {
        "id": item.input_id,
        "prediction": to_json_value(prediction),
        "model": model,
        "version": version,
        "received_at": received_at or iso_time(item.received_at),
        "scored_at": scored_at,
        "input": {"topic": item.message.topic, "message_id": item.message.id},
        "consumer": consumer,
    }
    return Outgoing(json.dumps(body, separators=(",", ":")).encode(), f"{item.input_id}:{version}")
