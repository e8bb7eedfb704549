"""Kafka (``kafka://HOST:PORT[,HOST:PORT...]``) over aiokafka.

**Not tested against a Kafka broker**: none is reachable where dockyard's tests run. The
adapter is built on aiokafka's documented API and type-checked, nothing more; treat it as
a starting point and run :class:`dockyard.testing.EventBusContract` against your cluster
before relying on it.

A topic is a Kafka topic (created by the broker's auto-creation, or by you); a group is
a Kafka consumer group; a consumer is one ``AIOKafkaConsumer`` per (topic, group,
consumer name) with auto-commit off, reading from the earliest offset when the group has
none.

Delivery, as :class:`~dockyard.events.base.EventBus` promises it, with Kafka's limits:

* publish: an idempotent producer (``acks=all``), every send awaited.
* consume: ``getmany``; a message not committed is read again after the group rebalances
  (a consumer died) or restarts; there is no per-message ``ack_wait``.
* ack: commits, per partition, the offset after the highest acknowledged message. Kafka
  keeps offsets, not per-message acks: acknowledging a later message of a partition also
  commits the earlier ones of this consumer (the stream consumer acknowledges in order).
* delivery counts: Kafka keeps none; always 1 (dead-lettering by count does not apply).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from dockyard.errors import TopicNameError
from dockyard.events.base import DEDUP_HEADER, EventBus, Message, Outgoing, check_name
from dockyard.events.bus import seconds_option

__all__ = ["KafkaBus"]


class KafkaBus(EventBus):
    """Kafka (untested against a broker: see the module docstring).

    Args:
        url: ``kafka://HOST:PORT[,HOST:PORT...]``.
        ack_wait: kept for the port's sake (Kafka redelivers on rebalance).
    """

    unreachable_hint = "Check that the Kafka brokers listed are running and reachable."

    def __init__(self, url: str = "kafka://127.0.0.1:9092", *, ack_wait: float | str | None = None):
        self.url = url
        self.ack_wait = seconds_option(url, "ack_wait", ack_wait, 30.0)
        self.bootstrap = urlsplit(url).netloc.rsplit("@", 1)[-1]
        self._producer: Any = None
        self._consumers: dict[tuple[str, str, str], Any] = {}

    @contextlib.asynccontextmanager
    async def _faults(self, topic: str = "") -> AsyncIterator[None]:
        from aiokafka.errors import InvalidTopicError, KafkaConnectionError, KafkaError

        try:
            yield
        except InvalidTopicError as exc:
            raise TopicNameError(f"Kafka refused topic {topic!r}: {exc}.") from exc
        except (KafkaConnectionError, OSError) as exc:
            raise self._unavailable(exc) from exc
        except KafkaError as exc:
            raise self._unavailable(exc) from exc

    async def connect(self) -> None:
        from aiokafka import AIOKafkaProducer

        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all"
        )
        async with self._faults():
            await self._producer.start()

    async def aclose(self) -> None:
        for consumer in self._consumers.values():
            with contextlib.suppress(Exception):
                await consumer.stop()
        self._consumers.clear()
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                await producer.stop()

    async def publish_many(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        check_name(topic)
        ids = []
        async with self._faults(topic):
            futures = [
                await self._producer.send(
                    topic,
                    m.payload,
                    key=m.key.encode(),
                    headers=[
                        (k, v.encode()) for k, v in {**m.headers, DEDUP_HEADER: m.key}.items()
                    ],
                )
                for m in messages
            ]
            for future in futures:
                meta = await future
                ids.append(f"{meta.partition}:{meta.offset}")
        return ids

    async def _consumer(self, topic: str, group: str, name: str) -> Any:
        from aiokafka import AIOKafkaConsumer

        key = (topic, group, name)
        consumer = self._consumers.get(key)
        if consumer is None:
            check_name(topic)
            check_name(group, "group")
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=self.bootstrap,
                group_id=group,
                client_id=name,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            async with self._faults(topic):
                await consumer.start()
            self._consumers[key] = consumer
        return consumer

    async def create_group(self, topic: str, group: str) -> None:
        await self._consumer(topic, group, "dockyard-create-group")

    async def consume(
        self,
        topic: str,
        group: str,
        consumer: str,
        *,
        max_messages: int = 64,
        timeout: float = 1.0,
    ) -> list[Message]:
        check_name(consumer, "consumer")
        client = await self._consumer(topic, group, consumer)
        async with self._faults(topic):
            batches = await client.getmany(
                timeout_ms=int(max(timeout, 0) * 1000), max_records=max(1, max_messages)
            )
        out = []
        for records in batches.values():
            for r in records:
                headers = {k: v.decode(errors="replace") for k, v in (r.headers or ())}
                out.append(
                    Message(
                        id=f"{r.partition}:{r.offset}",
                        topic=topic,
                        payload=r.value or b"",
                        headers=headers,
                        group=group,
                        handle=(client, r.partition),
                    )
                )
        return out

    async def ack(self, messages: Sequence[Message]) -> None:
        from aiokafka import TopicPartition

        highest: dict[tuple[Any, str, int], int] = {}
        for m in messages:
            client, partition = m.handle
            offset = int(m.id.split(":", 1)[1])
            key = (client, m.topic, partition)
            highest[key] = max(highest.get(key, -1), offset)
        async with self._faults():
            for (client, topic, partition), offset in highest.items():
                await client.commit({TopicPartition(topic, partition): offset + 1})
