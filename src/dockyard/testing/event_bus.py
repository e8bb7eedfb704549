"""The EventBus contract: what every event bus keeps, on every broker.

Stream consumers (``dockyard consume``) count on these rules for at-least-once delivery:
a message is read by one consumer of a group, comes back if it was not acknowledged,
goes away once it was, and a poison message can be set aside with its story.

A subclass provides one fixture, ``bus_url``: the URL of a broker the test may use (topic
names are unique per test and deleted afterwards). Rules a broker cannot keep are
switched off with class attributes, each saying why. Example::

    class TestMyBus(EventBusContract):
        keeps_history = False  # a group sees only what is published after it exists

        @pytest.fixture
        def bus_url(self):
            return "mybroker://127.0.0.1:1234"

The suite is plain pytest; each test runs its coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from dockyard.errors import EventError, TopicNameError
from dockyard.events.base import DEDUP_HEADER, EventBus, Message, Outgoing
from dockyard.events.bus import open_bus

__all__ = ["EventBusContract"]

T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await asyncio.wait_for(coro, timeout=60)  # no test may hang a run

    return asyncio.run(main())


async def _drain(
    bus: EventBus,
    topic: str,
    group: str,
    consumer: str,
    want: int,
    *,
    seconds: float = 10.0,
    ack: bool = True,
    batch: int = 64,
) -> list[Message]:
    """Consume until ``want`` messages came or ``seconds`` passed (bounded both ways)."""
    got: list[Message] = []
    deadline = time.monotonic() + seconds
    for _ in range(10_000):
        if len(got) >= want or time.monotonic() >= deadline:
            break
        messages = await bus.consume(
            topic, group, consumer, max_messages=min(batch, want - len(got)), timeout=0.2
        )
        if ack:
            await bus.ack(messages)
        got += messages
    return got


class EventBusContract:
    """The rules every event bus keeps. Subclass it in a ``Test*`` class and provide
    ``bus_url`` (see the module docstring)."""

    #: Seconds a message may stay unacknowledged before the group may get it again.
    ack_wait = 1.0
    #: A group created after messages were published still reads them (a stream). False
    #: for RabbitMQ, whose queues only get what is published once they are bound.
    keeps_history = True
    #: A consumer restarted under its name gets its unacknowledged messages back at once.
    #: False for NATS JetStream, which cannot tell whose they were and waits ``ack_wait``.
    redelivers_own_at_once = True

    @pytest.fixture
    def bus_url(self) -> str:
        """The broker's URL."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'bus_url' fixture "
            "(see dockyard.testing.event_bus)"
        )

    @pytest.fixture
    def topic(self, bus_url: str) -> Iterator[str]:
        """A topic no other test uses; deleted afterwards with the groups of the suite."""
        name = f"contract.{uuid.uuid4().hex[:12]}"
        yield name

        async def clean() -> None:
            bus = await open_bus(bus_url, ack_wait=self.ack_wait)
            try:
                for t in (name, f"{name}.dead"):
                    await bus.delete_topic(t, groups=["g", "g2", "dl"])
            finally:
                await bus.aclose()

        _run(clean())

    @pytest.fixture
    def make_bus(self, bus_url: str) -> Callable[[], Awaitable[EventBus]]:
        """Open a new connection to the broker (a new "consumer process")."""
        return lambda: open_bus(bus_url, ack_wait=self.ack_wait)

    def test_publish_consume_round_trip(self, make_bus: Any, topic: str) -> None:
        """What a consumer reads is byte for byte what was published, with its headers
        and deduplication key: consumers parse payloads and drop repeats by key."""

        async def scenario() -> None:
            async with await make_bus() as bus:
                await bus.create_group(topic, "g")
                payload = bytes(range(256)) + "é".encode()
                ids = await bus.publish_many(
                    topic, [Outgoing(payload, "key-1", {"source": "test"})]
                )
                assert len(ids) == 1
                (m,) = await _drain(bus, topic, "g", "c1", 1)
                assert m.payload == payload
                assert m.topic == topic
                assert m.group == "g"
                assert m.headers["source"] == "test"
                assert m.headers[DEDUP_HEADER] == "key-1"
                assert m.key == "key-1"
                assert m.delivery_count == 1

        _run(scenario())

    def test_order_is_kept_per_topic(self, make_bus: Any, topic: str) -> None:
        """One consumer reads a topic in publish order: events of one customer are
        scored in the order they happened."""

        async def scenario() -> None:
            async with await make_bus() as bus:
                await bus.create_group(topic, "g")
                for start in range(0, 60, 20):  # several publishes, several reads
                    await bus.publish_many(
                        topic,
                        [Outgoing(str(i).encode(), f"k{i}") for i in range(start, start + 20)],
                    )
                got = await _drain(bus, topic, "g", "c1", 60, batch=7)
                assert [int(m.payload) for m in got] == list(range(60))

        _run(scenario())

    def test_a_group_shares_messages_between_its_consumers(self, make_bus: Any, topic: str) -> None:
        """Inside a group each message goes to one consumer: two scorers of one group
        never score the same event twice (while both are alive and acknowledge)."""

        async def scenario() -> None:
            async with await make_bus() as a, await make_bus() as b:
                await a.create_group(topic, "g")
                await a.publish_many(topic, [Outgoing(b"%d" % i, f"k{i}") for i in range(40)])
                seen: dict[str, list[bytes]] = {"a": [], "b": []}
                deadline = time.monotonic() + 15
                for _ in range(1000):
                    if len(seen["a"]) + len(seen["b"]) >= 40 or time.monotonic() > deadline:
                        break
                    for name, bus in (("a", a), ("b", b)):
                        got = await bus.consume(topic, "g", name, max_messages=5, timeout=0.1)
                        await bus.ack(got)
                        seen[name] += [m.payload for m in got]
                assert not set(seen["a"]) & set(seen["b"])
                assert sorted(seen["a"] + seen["b"]) == sorted(b"%d" % i for i in range(40))

        _run(scenario())

    def test_every_group_gets_every_message(self, make_bus: Any, topic: str) -> None:
        """Groups are independent readers: the scorer and an auditor each see all."""

        async def scenario() -> None:
            async with await make_bus() as bus:
                await bus.create_group(topic, "g")
                await bus.create_group(topic, "g2")
                await bus.publish_many(topic, [Outgoing(b"%d" % i, f"k{i}") for i in range(10)])
                one = await _drain(bus, topic, "g", "c1", 10)
                two = await _drain(bus, topic, "g2", "c1", 10)
                assert [m.payload for m in one] == [m.payload for m in two]
                assert len(one) == 10

        _run(scenario())

    def test_a_new_group_reads_from_the_start(self, make_bus: Any, topic: str) -> None:
        """A stream keeps its messages: a consumer group started after the producer
        (a scorer deployed later) still scores everything published before."""
        if not self.keeps_history:
            pytest.skip("this broker keeps no stream: a group gets messages once it exists")

        async def scenario() -> None:
            async with await make_bus() as bus:
                await bus.publish_many(topic, [Outgoing(b"%d" % i, f"k{i}") for i in range(5)])
                got = await _drain(bus, topic, "g", "c1", 5)
                assert [m.payload for m in got] == [b"%d" % i for i in range(5)]

        _run(scenario())

    def test_acknowledged_messages_never_come_back(self, make_bus: Any, topic: str) -> None:
        """Ack removes: after a restart a consumer does not score again what it
        acknowledged, and the group has nothing pending."""

        async def scenario() -> None:
            async with await make_bus() as bus:
                await bus.create_group(topic, "g")
                await bus.publish_many(topic, [Outgoing(b"%d" % i, f"k{i}") for i in range(5)])
                assert await bus.pending(topic, "g") in (5, -1)
                assert len(await _drain(bus, topic, "g", "c1", 5)) == 5
            await asyncio.sleep(self.ack_wait * 1.5)
            async with await make_bus() as bus:
                again = await bus.consume(topic, "g", "c1", max_messages=10, timeout=0.5)
                again += await bus.consume(topic, "g", "c2", max_messages=10, timeout=0.5)
                assert again == []
                assert await bus.pending(topic, "g") in (0, -1)

        _run(scenario())

    def test_unacknowledged_messages_go_to_another_consumer_when_one_dies(
        self, make_bus: Any, topic: str
    ) -> None:
        """At least once: a consumer that dies mid-batch loses nothing; its messages go
        to a live consumer of the group, with their delivery count raised."""

        async def scenario() -> None:
            async with await make_bus() as bus:
                await bus.create_group(topic, "g")
                await bus.publish_many(topic, [Outgoing(b"%d" % i, f"k{i}") for i in range(3)])
            dying = await make_bus()
            taken = await _drain(dying, topic, "g", "c1", 3, ack=False)
            assert len(taken) == 3
            await dying.aclose()  # dies without acknowledging
            async with await make_bus() as bus:
                got = await _drain(bus, topic, "g", "c2", 3, seconds=self.ack_wait * 3 + 10)
                assert sorted(m.payload for m in got) == [b"0", b"1", b"2"]
                assert all(m.delivery_count >= 2 for m in got)

        _run(scenario())

    def test_a_restarted_consumer_gets_its_own_pending_messages_first(
        self, make_bus: Any, topic: str
    ) -> None:
        """A consumer restarted under its name (after a crash) finishes what it had before
        taking new work, without waiting for ``ack_wait``."""
        if not self.redelivers_own_at_once:
            pytest.skip("this broker redelivers after ack_wait only")

        async def scenario() -> None:
            async with await make_bus() as bus:
                await bus.create_group(topic, "g")
                await bus.publish_many(topic, [Outgoing(b"old", "k-old")])
            crashed = await make_bus()
            assert len(await _drain(crashed, topic, "g", "c1", 1, ack=False)) == 1
            await crashed.aclose()
            async with await make_bus() as bus:
                await bus.publish_many(topic, [Outgoing(b"new", "k-new")])
                started = time.monotonic()
                first = await bus.consume(topic, "g", "c1", max_messages=1, timeout=1.0)
                assert [m.payload for m in first] == [b"old"]
                assert time.monotonic() - started < self.ack_wait * 5
                await bus.ack(first)
                rest = await _drain(bus, topic, "g", "c1", 1)
                assert [m.payload for m in rest] == [b"new"]

        _run(scenario())

    def test_delivery_count_grows_with_each_delivery(self, make_bus: Any, topic: str) -> None:
        """The count tells a poison message (delivered again and again, crashing its
        consumer each time) from a new one, so it can be dead-lettered."""

        async def scenario() -> None:
            async with await make_bus() as bus:
                await bus.create_group(topic, "g")
                await bus.publish_many(topic, [Outgoing(b"poison", "k")])
            counts = []
            for _ in range(3):
                bus = await make_bus()
                got = await _drain(
                    bus, topic, "g", "c1", 1, ack=False, seconds=self.ack_wait * 3 + 10
                )
                counts += [m.delivery_count for m in got]
                await bus.aclose()  # a crash: no ack
                await asyncio.sleep(self.ack_wait * 1.2)
            assert counts == [1, 2, 3]

        _run(scenario())

    def test_dead_letter_keeps_payload_reason_and_count(self, make_bus: Any, topic: str) -> None:
        """A poison message is set aside, not lost: the dead-letter topic has its bytes,
        why it was refused and how often it was delivered; the stream goes on."""

        async def scenario() -> None:
            dead = f"{topic}.dead"
            async with await make_bus() as bus:
                await bus.create_group(topic, "g")
                await bus.create_group(dead, "dl")
                await bus.publish_many(topic, [Outgoing(b"{not json", "k1"), Outgoing(b"ok", "k2")])
                first, second = await _drain(bus, topic, "g", "c1", 2, ack=False)
                await bus.dead_letter([(first, "bad JSON: line 1")], dead)
                await bus.ack([second])
                (letter,) = await _drain(bus, dead, "dl", "c1", 1)
                assert letter.payload == b"{not json"
                assert letter.headers["dead-letter-reason"] == "bad JSON: line 1"
                assert letter.headers["dead-letter-delivery-count"] == "1"
                assert letter.headers["dead-letter-topic"] == topic
                assert letter.headers["dead-letter-id"] == first.id
            await asyncio.sleep(self.ack_wait * 1.5)
            async with await make_bus() as bus:  # the original was acknowledged
                assert await bus.consume(topic, "g", "c2", max_messages=5, timeout=0.5) == []

        _run(scenario())

    def test_a_bad_topic_name_is_refused_with_the_name(self, make_bus: Any) -> None:
        """A typo in a topic must fail loudly, naming it, not publish into the void."""

        async def scenario() -> None:
            async with await make_bus() as bus:
                for bad in ("has space", "wild*card", "", "a" * 300, "trailing."):
                    with pytest.raises(TopicNameError, match="name") as info:
                        await bus.publish(bad, b"x")
                    assert repr(bad)[:40].strip("'") in str(info.value)
                with pytest.raises(TopicNameError):
                    await bus.consume("ok.topic", "bad group", "c1", timeout=0.1)
                assert issubclass(TopicNameError, EventError)

        _run(scenario())

    def test_consume_returns_empty_after_its_timeout(self, make_bus: Any, topic: str) -> None:
        """A consumer polls with a bounded wait, so it can notice SIGTERM and stop."""

        async def scenario() -> None:
            async with await make_bus() as bus:
                await bus.create_group(topic, "g")
                started = time.monotonic()
                assert await bus.consume(topic, "g", "c1", timeout=0.3) == []
                assert time.monotonic() - started < 5

        _run(scenario())
