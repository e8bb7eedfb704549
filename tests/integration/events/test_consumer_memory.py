"""The stream consumer's loop on the in-memory bus: batching, dead letters, at-least-once
acks and the graceful stop, without a broker (the same loop runs on every bus)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from events_support import FEATURES, Picky, event

from dockyard.errors import BusUnavailableError
from dockyard.events import ConsumerConfig, Outgoing, StreamConsumer
from dockyard.events.memory import MemoryBus
from dockyard.runtime import load_runtime


def _config(**options: Any) -> ConsumerConfig:
    return ConsumerConfig(
        input="in", output="out", dead_letter="dead", name="c1", poll_s=0.05, **options
    )


async def _publish(bus: MemoryBus, payloads: Sequence[bytes]) -> None:
    await bus.publish_many("in", [Outgoing(p, f"k{i}") for i, p in enumerate(payloads)])


async def _all(bus: MemoryBus, topic: str) -> list[Any]:
    got = await bus.consume(topic, "check", "r", max_messages=100_000, timeout=0)
    return got


def test_events_arriving_together_are_scored_in_one_model_call(churn: Path) -> None:
    """Micro-batching: 200 waiting events take ceil(200 / max_batch) model calls."""
    runtime = load_runtime("churn@production")

    async def scenario() -> None:
        bus = MemoryBus()
        await _publish(bus, [event(i) for i in range(200)])
        consumer = StreamConsumer(_config(max_batch=64), runtime, bus)
        stats = await consumer.run(asyncio.Event(), max_messages=200)
        assert (stats.scored, stats.dead_lettered) == (200, 0)
        assert stats.model_calls == stats.batches == 4
        out = await _all(bus, "out")
        bodies = [json.loads(m.payload) for m in out]
        assert sorted(b["id"] for b in bodies) == list(range(200))
        assert {(b["model"], b["version"]) for b in bodies} == {("churn", 1)}
        assert all(b["prediction"] in (0, 1) for b in bodies)
        assert {m.key for m in out} == {f"{i}:1" for i in range(200)}
        assert await bus.pending("in", "scorers") == 0

    asyncio.run(scenario())


def test_max_batch_one_scores_each_event_alone(churn: Path) -> None:
    runtime = load_runtime("churn@production")

    async def scenario() -> None:
        bus = MemoryBus()
        await _publish(bus, [event(i) for i in range(5)])
        stats = await StreamConsumer(_config(max_batch=1), runtime, bus).run(
            asyncio.Event(), max_messages=5
        )
        assert stats.model_calls == 5

    asyncio.run(scenario())


def test_poison_messages_go_to_the_dead_letters_with_a_reason_and_the_stream_goes_on(
    project: Path,
) -> None:
    """Bad JSON, a record the signature refuses and a record the model raises on are each
    set aside with the reason; every other event of their batches is scored."""
    import pandas as pd

    from dockyard.registry import register_model

    sample = pd.DataFrame([[0.1, 0.2, 0.3, 0.4]], columns=FEATURES)
    register_model("picky", Picky(), sample=sample)
    runtime = load_runtime("picky", trust_pickle=True)
    poison = [
        b"{not json",
        json.dumps(
            {"id": "wrong-type", "features": {"f0": "high", "f1": 1, "f2": 1, "f3": 1}}
        ).encode(),
        json.dumps({"id": "missing", "features": {"f0": 1}}).encode(),
        json.dumps({"id": "beast", "features": {"f0": 666, "f1": 1, "f2": 1, "f3": 1}}).encode(),
    ]

    async def scenario() -> None:
        bus = MemoryBus()
        await bus.create_group("dead", "check")
        await _publish(bus, [event(0), *poison, event(1), event(2)])
        stats = await StreamConsumer(_config(), runtime, bus).run(asyncio.Event(), max_messages=7)
        assert (stats.scored, stats.dead_lettered) == (3, 4)
        letters = await _all(bus, "dead")
        reasons = {m.payload: m.headers["dead-letter-reason"] for m in letters}
        assert reasons[b"{not json"].startswith("unparseable JSON")
        assert "invalid input" in reasons[poison[1]] and "f0" in reasons[poison[1]]
        assert "missing input 'f1'" in reasons[poison[2]]
        assert "model error: model picky version 1 failed" in reasons[poison[3]]
        assert "number of the beast" in reasons[poison[3]]
        assert all(m.headers["dead-letter-delivery-count"] == "1" for m in letters)
        assert sorted(json.loads(m.payload)["id"] for m in await _all(bus, "out")) == [0, 1, 2]
        assert await bus.pending("in", "scorers") == 0

    asyncio.run(scenario())


def test_a_message_delivered_too_often_is_dead_lettered_not_scored(churn: Path) -> None:
    runtime = load_runtime("churn@production")
    url = f"memory://{uuid.uuid4().hex}"

    async def scenario() -> None:
        for _ in range(3):  # three consumers crash on it
            bus = MemoryBus(url, ack_wait=0.01)
            if _ == 0:
                await _publish(bus, [event(0)])
            await bus.consume("in", "scorers", "c1", timeout=1)
            await asyncio.sleep(0.02)
        bus = MemoryBus(url, ack_wait=0.01)
        await bus.create_group("dead", "check")
        stats = await StreamConsumer(_config(max_deliveries=3), runtime, bus).run(
            asyncio.Event(), max_messages=1
        )
        assert (stats.scored, stats.dead_lettered) == (0, 1)
        (letter,) = await _all(bus, "dead")
        assert (
            "delivered 4 times, more than --max-deliveries 3"
            in letter.headers["dead-letter-reason"]
        )

    asyncio.run(scenario())


class _PublishFails(MemoryBus):
    async def publish_many(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        if topic == "out":
            raise BusUnavailableError("the broker went away")
        return await super().publish_many(topic, messages)


def test_nothing_is_acknowledged_when_predictions_cannot_be_published(churn: Path) -> None:
    """At least once: an input is acknowledged only after its prediction is confirmed."""
    runtime = load_runtime("churn@production")

    async def scenario() -> None:
        bus = _PublishFails()
        await _publish(bus, [event(i) for i in range(10)])
        with pytest.raises(BusUnavailableError):
            await StreamConsumer(_config(), runtime, bus).run(asyncio.Event(), max_messages=10)
        assert await bus.pending("in", "scorers") == 10

    asyncio.run(scenario())


def test_a_stop_finishes_the_batch_in_flight_and_acknowledges_it(churn: Path) -> None:
    runtime = load_runtime("churn@production")

    async def scenario() -> None:
        bus = MemoryBus()
        stop = asyncio.Event()
        await _publish(bus, [event(i) for i in range(50)])
        consumer = StreamConsumer(
            _config(max_batch=10), runtime, bus, on_batch=lambda stats: stop.set()
        )
        stats = await consumer.run(stop)
        assert stats.batches == 1 and stats.scored == 10
        assert await bus.pending("in", "scorers") == 40  # the rest waits, none in flight
        assert len(await _all(bus, "out")) == 10

    asyncio.run(scenario())


def test_a_slow_batch_is_touched_so_the_broker_keeps_it(churn: Path) -> None:
    runtime = load_runtime("churn@production")
    touched: list[int] = []

    class Watched(MemoryBus):
        async def touch(self, messages: Sequence[Any]) -> None:
            touched.append(len(messages))

    async def scenario() -> None:
        bus = Watched(ack_wait=0.15)
        consumer = StreamConsumer(_config(), runtime, bus)
        stop = asyncio.Event()

        async def slow(messages: Sequence[Any]) -> None:
            await asyncio.sleep(0.3)
            stop.set()

        consumer.handle = slow  # type: ignore[method-assign]
        await _publish(bus, [event(0)])
        await asyncio.wait_for(consumer.run(stop), timeout=10)
        assert touched and touched[0] == 1

    asyncio.run(scenario())


def test_metrics_port_serves_the_consumers_counters(churn: Path) -> None:
    """``--metrics-port``: Prometheus reads the consumer's counts and latency."""
    import urllib.request

    from dockyard.errors import ConsumerConfigError
    from dockyard.events.metrics import serve_metrics
    from support import free_port

    runtime = load_runtime("churn@production")
    port = free_port()

    async def scenario() -> str:
        bus = MemoryBus()
        await _publish(bus, [event(i) for i in range(50)] + [b"{bad"])
        consumer = StreamConsumer(_config(max_batch=64), runtime, bus)
        server = serve_metrics(consumer, port)
        try:
            with pytest.raises(ConsumerConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
                serve_metrics(consumer, port)
            await consumer.run(asyncio.Event(), max_messages=51)
            url = f"http://127.0.0.1:{port}/metrics"
            return await asyncio.to_thread(
                lambda: urllib.request.urlopen(url, timeout=5).read().decode()
            )
        finally:
            server.shutdown()
            server.server_close()

    text = asyncio.run(scenario())
    labels = 'consumer="c1",group="scorers",model="churn:1"'
    assert f"dockyard_consumer_events_scored_total{{{labels}}} 50.0" in text
    assert f"dockyard_consumer_events_dead_lettered_total{{{labels}}} 1.0" in text
    assert "dockyard_consumer_latency_p99_seconds" in text
