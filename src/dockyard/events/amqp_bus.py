"""RabbitMQ (``amqp://USER:PASSWORD@HOST:PORT/VHOST``) over aio-pika.

A topic is a durable **fanout exchange** named after it; a group is a durable **quorum
queue** ``TOPIC:GROUP`` bound to it, which the group's consumers share. RabbitMQ keeps no
stream: a group sees only messages published after its queue exists, and a message
published to a topic no group is bound to is dropped by the broker. Create the groups
first (:meth:`AmqpBus.create_group`; ``dockyard consume`` creates its input group when it
starts).

Delivery, as :class:`~dockyard.events.base.EventBus` promises it:

* publish: persistent messages on a channel in **publisher-confirm** mode; the batch is
  published concurrently and every confirm awaited (a nack raises).
* consume: a consumer per (topic, group, consumer name) on its own channel, ``prefetch``
  messages in flight, with **manual acks**. RabbitMQ has no ack timeout to speak of: an
  unacknowledged message goes back to its queue when its consumer's channel or connection
  closes (a crash, a kill), at once, to any consumer of the group.
* delivery counts: quorum queues add ``x-delivery-count`` to a redelivered message (the
  count is that plus one); without it, the ``redelivered`` flag gives 2.
* ``pending`` counts the messages ready in the group's queue (unacknowledged ones in
  flight are not in AMQP's count).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from dockyard._urls import mask_password
from dockyard.errors import TopicNameError
from dockyard.events.base import DEDUP_HEADER, EventBus, Message, Outgoing, check_name
from dockyard.events.bus import seconds_option, url_options, without_query

__all__ = ["AmqpBus", "queue_name"]


def queue_name(topic: str, group: str) -> str:
    """The queue of ``group`` on ``topic``."""
    return f"{check_name(topic)}:{check_name(group, 'group')}"


class _DropTransportErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error when creating transport")


class _Subscription:
    """One basic.consume on its own channel, feeding a local queue."""

    def __init__(self, channel: Any, queue: Any) -> None:
        self.channel = channel
        self.queue = queue
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.tag: str | None = None

    async def start(self) -> None:
        self.tag = await self.queue.consume(self.inbox.put, no_ack=False)


class AmqpBus(EventBus):
    """RabbitMQ.

    Args:
        url: ``amqp://USER:PASSWORD@HOST:PORT/VHOST`` (``amqps://`` for TLS).
        ack_wait: kept for the port's sake: RabbitMQ redelivers on channel close, not
            after a time.
        prefetch: unacknowledged messages a consumer may hold (default 256).
    """

    unreachable_hint = (
        "Check that RabbitMQ is running there and that the URL (host, port, user, password, "
        "virtual host) is right."
    )

    def __init__(
        self,
        url: str = "amqp://guest:guest@127.0.0.1:5672/",
        *,
        ack_wait: float | str | None = None,
        prefetch: int | str | None = None,
    ) -> None:
        self.url = url
        self.ack_wait = seconds_option(url, "ack_wait", ack_wait, 30.0)
        self.prefetch = int(prefetch or url_options(url).get("prefetch") or 256)
        self._conn: Any = None
        self._channel: Any = None  # publishing and declaring, in confirm mode
        self._exchanges: dict[str, Any] = {}
        self._groups: set[tuple[str, str]] = set()
        self._subs: dict[tuple[str, str, str], _Subscription] = {}

    @contextlib.asynccontextmanager
    async def _faults(self, topic: str = "") -> AsyncIterator[None]:
        import aiormq.exceptions

        try:
            yield
        except aiormq.exceptions.ChannelClosed as exc:  # a refused declare closes the channel
            self._channel = None
            self._exchanges.clear()
            if not topic:
                raise self._unavailable(exc) from exc
            raise TopicNameError(
                f"RabbitMQ refused topic {topic!r} on {mask_password(self.url)}: {exc}. "
                "Pick another topic name (an exchange or queue of that name may exist with "
                "other settings)."
            ) from exc
        except (aiormq.exceptions.AMQPConnectionError, ConnectionError, OSError) as exc:
            raise self._unavailable(exc) from exc
        except TimeoutError as exc:
            raise self._unavailable(exc) from exc

    async def connect(self) -> None:
        import aio_pika

        # aiormq also logs the failure it raises; the raised error is said once, by us.
        noise = logging.getLogger("aiormq.connection")
        quiet = _DropTransportErrors()
        noise.addFilter(quiet)
        try:
            self._conn = await aio_pika.connect(without_query(self.url), timeout=5)
        except Exception as exc:  # aiormq raises several types (and OSError) here
            raise self._unavailable(exc) from exc
        finally:
            noise.removeFilter(quiet)
        await self._publisher()

    async def _publisher(self) -> Any:
        if self._channel is None or self._channel.is_closed:
            async with self._faults():
                self._channel = await self._conn.channel(publisher_confirms=True)
            self._exchanges.clear()
        return self._channel

    async def aclose(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self._subs.clear()
            with contextlib.suppress(Exception):
                await conn.close()

    async def _exchange(self, topic: str) -> Any:
        import aio_pika

        check_name(topic)
        exchange = self._exchanges.get(topic)
        if exchange is None:
            channel = await self._publisher()
            async with self._faults(topic):
                exchange = await channel.declare_exchange(
                    topic, aio_pika.ExchangeType.FANOUT, durable=True
                )
            self._exchanges[topic] = exchange
        return exchange

    async def publish_many(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        import aio_pika

        if not messages:
            return []
        exchange = await self._exchange(topic)
        async with self._faults(topic):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            m.payload,
                            headers={**m.headers, DEDUP_HEADER: m.key},
                            message_id=m.key,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=topic,
                        mandatory=False,
                        timeout=30,
                    )
                    for m in messages
                )
            )
        return [m.key for m in messages]

    async def _queue(self, channel: Any, topic: str, group: str) -> Any:
        exchange = await self._exchange(topic)
        async with self._faults(topic):
            queue = await channel.declare_queue(
                queue_name(topic, group), durable=True, arguments={"x-queue-type": "quorum"}
            )
            await queue.bind(exchange)
        return queue

    async def create_group(self, topic: str, group: str) -> None:
        if (topic, group) not in self._groups:
            await self._queue(await self._publisher(), topic, group)
            self._groups.add((topic, group))

    async def consume(
        self,
        topic: str,
        group: str,
        consumer: str,
        *,
        max_messages: int = 64,
        timeout: float = 1.0,
    ) -> list[Message]:
        queue_name(topic, group)  # both names checked before anything is declared
        check_name(consumer, "consumer")
        key = (topic, group, consumer)
        sub = self._subs.get(key)
        if sub is None:
            await self.create_group(topic, group)
            async with self._faults(topic):
                channel = await self._conn.channel(publisher_confirms=False)
                await channel.set_qos(prefetch_count=self.prefetch)
                queue = await channel.declare_queue(queue_name(topic, group), passive=True)
                sub = _Subscription(channel, queue)
                await sub.start()
            self._subs[key] = sub
        incoming: list[Any] = []
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            incoming.append(await asyncio.wait_for(sub.inbox.get(), timeout=max(timeout, 0)))
        while incoming and len(incoming) < max_messages and not sub.inbox.empty():
            incoming.append(sub.inbox.get_nowait())
        return [self._message(topic, group, m) for m in incoming]

    @staticmethod
    def _message(topic: str, group: str, m: Any) -> Message:
        headers = {
            str(k): (v.decode() if isinstance(v, bytes) else str(v))
            for k, v in (m.headers or {}).items()
        }
        raw_count = (m.headers or {}).get("x-delivery-count")
        count = int(raw_count) + 1 if raw_count is not None else 2 if m.redelivered else 1
        return Message(
            id=str(m.delivery_tag),
            topic=topic,
            payload=bytes(m.body),
            headers=headers,
            delivery_count=count,
            group=group,
            handle=m,
        )

    async def ack(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        async with self._faults():
            # basic.ack has no reply: the frames go out together, not one await each.
            await asyncio.gather(*(m.handle.ack() for m in messages))

    async def pending(self, topic: str, group: str) -> int:
        import aiormq.exceptions

        channel = await self._conn.channel(publisher_confirms=False)
        try:
            queue = await channel.declare_queue(queue_name(topic, group), passive=True)
            return int(queue.declaration_result.message_count)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return 0
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    async def delete_topic(self, topic: str, groups: Sequence[str] = ()) -> None:
        for key in [k for k in self._subs if k[0] == topic]:
            sub = self._subs.pop(key)
            with contextlib.suppress(Exception):
                await sub.channel.close()
        channel = await self._conn.channel(publisher_confirms=False)
        try:
            for group in {*groups, *(g for t, g in self._groups if t == topic)}:
                await channel.queue_delete(queue_name(topic, group))
            await channel.exchange_delete(topic)
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
        self._exchanges.pop(topic, None)
        self._groups = {g for g in self._groups if g[0] != topic}
