"""What the broker itself refuses, said in one line naming the topic."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from dockyard.errors import TopicNameError
from dockyard.events import open_bus


@pytest.mark.redis
def test_redis_key_that_is_not_a_stream_is_refused_by_name(redis_url: str) -> None:
    topic = f"plain.{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        async with await open_bus(redis_url) as bus:
            client = bus._client  # type: ignore[attr-defined]
            await client.set(topic, "a string, not a stream")
            try:
                with pytest.raises(
                    TopicNameError, match=rf"topic '{topic}' exists .* not a stream"
                ):
                    await bus.publish(topic, b"x")
            finally:
                await client.delete(topic)

    asyncio.run(scenario())


@pytest.mark.nats
def test_nats_topics_that_share_a_stream_name_are_refused(nats_url: str) -> None:
    base = f"n{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        async with await open_bus(nats_url) as bus:
            await bus.publish(f"{base}.x", b"1")
            try:
                with pytest.raises(
                    TopicNameError, match=rf"topic '{base}_x' maps to the NATS stream"
                ):
                    await bus.publish(f"{base}_x", b"2")
            finally:
                await bus.delete_topic(f"{base}.x")

    asyncio.run(scenario())


@pytest.mark.redis
def test_redis_group_deleted_under_a_consumer_is_made_again(redis_url: str) -> None:
    """An operator deleting the stream must not crash running consumers."""
    topic = f"gone.{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        async with await open_bus(redis_url) as bus:
            await bus.publish(topic, b"1")
            assert len(await bus.consume(topic, "g", "c1", timeout=0.1)) == 1
            await bus.delete_topic(topic)  # also forgets the group on this bus...
            await bus._client.xadd(topic, {b"data": b"2"})  # type: ignore[attr-defined]
            bus._groups.add((topic, "g"))  # type: ignore[attr-defined]  # ...as another process would not
            got = await bus.consume(topic, "g", "c1", timeout=0.5)
            assert [m.payload for m in got] == [b"2"]
            await bus.delete_topic(topic)

    asyncio.run(scenario())
