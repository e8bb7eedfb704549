"""Stream scoring's pure decisions (dockyard.events.decisions), case by case."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockyard.errors import ConsumerConfigError, InvalidInputError, TopicNameError
from dockyard.events.base import Message, check_name
from dockyard.events.decisions import (
    ConsumerConfig,
    iso_time,
    parse,
    prediction_message,
    split_valid,
    to_json_value,
    triage,
)


def _msg(payload: Any, count: int = 1, mid: str = "7-0") -> Message:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Message(id=mid, topic="customers.events", payload=raw, delivery_count=count, group="g")


def test_config_defaults_name_and_dead_letter_topic() -> None:
    c = ConsumerConfig(input="customers.events", output="churn.predictions")
    assert c.dead_letter == "customers.events.dead"
    assert c.name  # the host name: stable across restarts
    assert (c.group, c.max_batch, c.max_latency_ms, c.id_field) == ("scorers", 64, 10.0, "id")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_batch": 0}, r"--max-batch must be a whole number of at least 1 .*got 0"),
        ({"max_batch": True}, r"--max-batch"),
        ({"max_deliveries": 0}, r"--max-deliveries"),
        ({"max_latency_ms": -1}, r"--max-latency-ms must be from 0 to 60000, got -1"),
        ({"id_field": ""}, r"--id-field"),
        ({"output": "customers.events"}, r"also the output or dead-letter topic"),
    ],
)
def test_config_refuses_bad_options_saying_which(options: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"input": "customers.events", "output": "churn.predictions"}
    with pytest.raises(ConsumerConfigError, match=message):
        ConsumerConfig(**{**base, **options})


@pytest.mark.parametrize("bad", ["has space", "a*b", "x>", "", ".lead", "trail.", "a..b", "é"])
def test_names_every_broker_refuses_are_refused_naming_them(bad: str) -> None:
    with pytest.raises(TopicNameError, match="topic name") as info:
        check_name(bad)
    assert repr(bad) in str(info.value)


def test_triage_sets_aside_messages_delivered_too_often() -> None:
    ok, dead = triage([_msg({}, 5), _msg({}, 6)], max_deliveries=5)
    assert [m.delivery_count for m in ok] == [5]
    assert "delivered 6 times, more than --max-deliveries 5" in dead[0][1]


def test_parse_envelope_flat_record_and_row() -> None:
    env = parse(_msg({"id": "c1", "features": {"f0": 1.0}}), "id", 0.0)
    assert not isinstance(env, str) and (env.input_id, env.features) == ("c1", {"f0": 1.0})
    flat = parse(_msg({"customer": 9, "f0": 1.0, "f1": 2.0}), "customer", 0.0)
    assert not isinstance(flat, str) and (flat.input_id, flat.features) == (
        9,
        {"f0": 1.0, "f1": 2.0},
    )
    row = parse(_msg([1.0, 2.0]), "id", 0.0)
    assert not isinstance(row, str) and (row.input_id, row.features) == ("7-0", [1.0, 2.0])
    no_id = parse(_msg({"f0": 1.0}), "id", 0.0)
    assert not isinstance(no_id, str) and no_id.input_id == "7-0"  # the broker's id


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "unparseable JSON"),
        (b"\xff\xfe", "unparseable JSON"),
        (b'"text"', "expected a JSON object or list, got str"),
        ({"id": 1}, "no features"),
        ({"id": [1], "f0": 1}, "must be a string or number"),
        ({"id": 1, "features": 3}, "'features' must be a non-empty"),
    ],
)
def test_parse_gives_the_reason_for_what_cannot_be_scored(payload: Any, reason: str) -> None:
    result = parse(_msg(payload), "id", 0.0)
    assert isinstance(result, str) and reason in result


def _validator(features: list[Any]) -> list[Any]:
    for f in features:
        values = f.values() if isinstance(f, dict) else f
        if any(not isinstance(v, int | float) for v in values):
            raise InvalidInputError(f"not a number in {f!r}")
    return features


def test_split_valid_checks_the_batch_once_and_only_the_bad_input_alone() -> None:
    calls: list[int] = []

    def counting(features: list[Any]) -> list[Any]:
        calls.append(len(features))
        return _validator(features)

    items = [parse(_msg({"id": i, "f0": i}), "id", 0.0) for i in range(5)]
    good = [i for i in items if not isinstance(i, str)]
    batches, refused = split_valid(good, counting)
    assert calls == [5] and refused == [] and len(batches[0][0]) == 5

    bad = parse(_msg({"id": "x", "f0": "oops"}), "id", 0.0)
    assert not isinstance(bad, str)
    calls.clear()
    batches, refused = split_valid([*good, bad], counting)
    assert [i.input_id for i, _ in refused] == ["x"]
    assert "invalid input: not a number" in refused[0][1]
    assert [i.input_id for i in batches[0][0]] == [0, 1, 2, 3, 4]


def test_split_valid_keeps_records_and_rows_apart() -> None:
    rec = parse(_msg({"id": 1, "f0": 1.0}), "id", 0.0)
    row = parse(_msg([1.0]), "id", 0.0)
    assert not isinstance(rec, str) and not isinstance(row, str)
    batches, _ = split_valid([row, rec], _validator)
    assert [[i.is_record for i in items] for items, _ in batches] == [[True], [False]]


def test_prediction_message_carries_id_model_version_times_and_dedup_key() -> None:
    item = parse(_msg({"id": "c1", "f0": 1.0}), "id", 1_700_000_000.0)
    assert not isinstance(item, str)
    out = prediction_message(
        item, 1, model="churn", version=3, scored_at=iso_time(1_700_000_000.5), consumer="g/c1"
    )
    body = json.loads(out.payload)
    assert out.key == "c1:3"
    assert body["id"] == "c1" and body["prediction"] == 1
    assert (body["model"], body["version"]) == ("churn", 3)
    assert body["received_at"] == "2023-11-14T22:13:20.000+00:00"
    assert body["scored_at"] == "2023-11-14T22:13:20.500+00:00"
    assert body["input"] == {"topic": "customers.events", "message_id": "7-0"}
    assert body["consumer"] == "g/c1"


def test_predictions_become_plain_json() -> None:
    np = pytest.importorskip("numpy")
    assert to_json_value(np.int64(3)) == 3
    assert to_json_value(np.array([0.25, float("nan")])) == [0.25, None]
    assert to_json_value(np.str_("yes")) == "yes"
