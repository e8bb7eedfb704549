"""NATS JetStream (``nats://HOST:PORT``) over nats-py.

A topic is a subject with a stream of its own (named after it, dots as ``_``: subject
``customers.events``, stream ``customers_events``), created on first use with file storage
and a two-minute deduplication window. A group is a durable **pull** consumer of that
stream (explicit acks, ``ack_wait`` from the bus, every message from the stream's start).

Delivery, as :class:`~dockyard.events.base.EventBus` promises it:

* publish: ``js.publish_async`` for the batch, then every ``PubAck`` awaited (the server
  stored it). Each message carries ``Nats-Msg-Id`` (its deduplication key): the server
  drops a repeat published within the window, so a consumer restarted mid-batch does not
  publish its predictions twice.
* consume: ``fetch`` on the group's pull subscription. JetStream redelivers a message not
  acknowledged within ``ack_wait`` to any consumer of the group, the restarted one
  included (it cannot tell a consumer's own messages from another's: a restarted consumer
  waits ``ack_wait`` like the others). Delivery counts are the server's ``num_delivered``.
* ack: ``+ACK`` for each message, then a flush; touch: ``in_progress`` (``+WPI``), which
  restarts ``ack_wait`` for a slow batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from dockyard._urls import mask_password
from dockyard.errors import BusUnavailableError, TopicNameError
from dockyard.events.base import DEDUP_HEADER, EventBus, Message, Outgoing, check_name
from dockyard.events.bus import seconds_option, without_query

__all__ = ["NatsBus", "stream_name"]

#: JetStream's default duplicate window is also two minutes; said here so it is explicit.
DUPLICATE_WINDOW_S = 120.0


def stream_name(topic: str) -> str:
    """The JetStream stream of a topic (stream names may not contain dots)."""
    return check_name(topic).replace(".", "_")


class NatsBus(EventBus):
    """NATS JetStream.

    Args:
        url: ``nats://[USER:PASSWORD@]HOST:PORT``.
        ack_wait: seconds JetStream waits for an ack before redelivering (set when a
            group's consumer is created; an existing consumer keeps its own).
    """

    unreachable_hint = (
        "Check that nats-server runs there with JetStream enabled (-js) and that the URL is right."
    )

    def __init__(self, url: str = "nats://127.0.0.1:4222", *, ack_wait: float | str | None = None):
        self.url = url
        self.ack_wait = seconds_option(url, "ack_wait", ack_wait, 30.0)
        self._nc: Any = None
        self._js: Any = None
        self._streams: set[str] = set()  # topics whose stream is known to hold them
        self._subs: dict[tuple[str, str], Any] = {}

    @contextlib.asynccontextmanager
    async def _faults(self, topic: str = "") -> AsyncIterator[None]:
        import nats.errors
        import nats.js.errors

        try:
            yield
        except nats.js.errors.ServiceUnavailableError as exc:
            raise BusUnavailableError(
                f"JetStream is not available on {mask_password(self.url)} ({exc}). Start "
                "nats-server with JetStream enabled (-js)."
            ) from exc
        except nats.js.errors.APIError as exc:  # the server refused a name or a config
            if not topic:
                raise
            raise TopicNameError(
                f"NATS refused topic {topic!r} on {mask_password(self.url)}: "
                f"{exc.description or exc}. Pick another topic name."
            ) from exc
        except (
            nats.errors.ConnectionClosedError,
            nats.errors.NoServersError,
            nats.errors.TimeoutError,
            nats.errors.NoRespondersError,
            nats.errors.StaleConnectionError,
            OSError,
        ) as exc:
            raise self._unavailable(exc) from exc

    async def connect(self) -> None:
        import nats

        async def quiet(exc: Exception) -> None:  # faults are raised where they matter
            return None

        try:
            self._nc = await nats.connect(
                servers=[without_query(self.url)],
                connect_timeout=5,
                allow_reconnect=True,
                max_reconnect_attempts=5,
                reconnect_time_wait=0.5,
                error_cb=quiet,
            )
        except Exception as exc:  # nats-py raises several types (and OSError) here
            raise self._unavailable(exc) from exc
        self._js = self._nc.jetstream(timeout=10)
        async with self._faults():
            await self._js.account_info()

    async def aclose(self) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            with contextlib.suppress(Exception):
                await nc.close()

    async def _stream(self, topic: str) -> str:
        import nats.js.errors

        name = stream_name(topic)
        if topic in self._streams:
            return name
        async with self._faults(topic):
            try:
                info = await self._js.stream_info(name)
                if topic not in (info.config.subjects or []):
                    raise TopicNameError(
                        f"topic {topic!r} maps to the NATS stream {name!r}, which already "
                        f"holds other subjects ({', '.join(info.config.subjects or [])}); "
                        "pick another topic name."
                    )
            except nats.js.errors.NotFoundError:
                await self._js.add_stream(
                    name=name, subjects=[topic], duplicate_window=DUPLICATE_WINDOW_S
                )
        self._streams.add(topic)
        return name

    async def publish_many(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        check_name(topic)
        if not messages:
            return []
        stream = await self._stream(topic)
        async with self._faults(topic):
            futures = []
            for m in messages:
                headers = {**m.headers, DEDUP_HEADER: m.key, "Nats-Msg-Id": m.key}
                futures.append(
                    await self._js.publish_async(
                        topic, m.payload, headers=headers, stream=stream, wait_stall=10
                    )
                )
            acks = await asyncio.wait_for(asyncio.gather(*futures), timeout=30)
        return [str(a.seq) for a in acks]

    async def create_group(self, topic: str, group: str) -> None:
        await self._subscription(topic, group)

    async def _subscription(self, topic: str, group: str) -> Any:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        sub = self._subs.get((topic, group))
        if sub is not None:
            return sub
        check_name(group, "group")
        stream = await self._stream(topic)
        config = ConsumerConfig(
            durable_name=group,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=-1,  # dockyard's consumer dead-letters by count itself
            max_ack_pending=10_000,
        )
        async with self._faults(topic):
            sub = await self._js.pull_subscribe(topic, durable=group, stream=stream, config=config)
        self._subs[(topic, group)] = sub
        return sub

    async def consume(
        self,
        topic: str,
        group: str,
        consumer: str,
        *,
        max_messages: int = 64,
        timeout: float = 1.0,
    ) -> list[Message]:
        import nats.errors

        check_name(consumer, "consumer")
        sub = await self._subscription(topic, group)
        async with self._faults(topic):
            try:
                # A pull request expires on the server; below ~50 ms it may expire before
                # it arrives, so shorter waits are rounded up.
                msgs = await sub.fetch(batch=max(1, max_messages), timeout=max(timeout, 0.05))
            except (nats.errors.TimeoutError, TimeoutError):  # nothing came: nats-py raises both
                return []
        out = []
        for msg in msgs:
            meta = msg.metadata
            headers = {str(k): str(v) for k, v in (msg.headers or {}).items()}
            out.append(
                Message(
                    id=str(meta.sequence.stream),
                    topic=topic,
                    payload=bytes(msg.data),
                    headers=headers,
                    delivery_count=int(meta.num_delivered),
                    group=group,
                    handle=msg,
                )
            )
        return out

    async def ack(self, messages: Sequence[Message]) -> None:
        import nats.errors

        if not messages:
            return
        async with self._faults():
            for m in messages:
                with contextlib.suppress(nats.errors.MsgAlreadyAckdError):
                    await m.handle.ack()
            await self._nc.flush(timeout=10)

    async def touch(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        async with self._faults():
            for m in messages:
                await m.handle.in_progress()
            await self._nc.flush(timeout=10)

    async def pending(self, topic: str, group: str) -> int:
        import nats.js.errors

        stream = await self._stream(topic)
        async with self._faults(topic):
            try:
                info = await self._js.consumer_info(stream, group)
            except nats.js.errors.NotFoundError:
                return int((await self._js.stream_info(stream)).state.messages)
        return int(info.num_ack_pending) + int(info.num_pending)

    async def delete_topic(self, topic: str, groups: Sequence[str] = ()) -> None:
        import nats.js.errors

        name = stream_name(topic)
        async with self._faults():
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self._js.delete_stream(name)
        self._streams = {t for t in self._streams if stream_name(t) != name}
        for key in [k for k in self._subs if k[0] == topic]:
            sub = self._subs.pop(key)
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
