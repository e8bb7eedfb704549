"""The ``EventBus`` port and the ``Message`` record every adapter returns.

A bus carries messages on named **topics**. Readers share a topic through **consumer
groups**: every group sees every message, and inside a group each message goes to one
consumer. A consumer **acknowledges** what it has handled; a message that is not
acknowledged comes back (to the same consumer after a restart, or to another one of its
group once ``ack_wait`` seconds have passed), with its **delivery count** raised. A
message that cannot be handled is **dead-lettered**: published to another topic with the
reason and the count, and acknowledged. Delivery is therefore *at least once*: a reader
drops repeats by the **deduplication key** each message carries (the ``dedup-key`` header).

The path is async end to end. An adapter is built cheaply (a stack builds it on first use)
and connects in :meth:`EventBus.connect`; :func:`dockyard.events.open_bus` does both::

    from dockyard.events import open_bus

    async with await open_bus("redis://127.0.0.1:6379") as bus:
        await bus.create_group("orders", "billing")
        await bus.publish("orders", b'{"id": 1}', key="order-1")
        for message in await bus.consume("orders", "billing", "worker-1", timeout=1.0):
            print(message.payload, message.delivery_count)
            await bus.ack([message])
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from dockyard._urls import mask_password
from dockyard.errors import BusUnavailableError, TopicNameError

__all__ = [
    "DEAD_LETTER_HEADERS",
    "DEDUP_HEADER",
    "EventBus",
    "Message",
    "Outgoing",
    "check_name",
    "unavailable",
]

#: The header every published message carries: the key a reader deduplicates by.
DEDUP_HEADER = "dedup-key"

#: Headers a dead letter adds to the original message's own.
DEAD_LETTER_HEADERS = (
    "dead-letter-reason",
    "dead-letter-delivery-count",
    "dead-letter-topic",
    "dead-letter-id",
)

# Letters, digits, '.', '_' and '-', starting with a letter or digit: a name every broker
# takes as a Redis key, a NATS subject (dots are its token separators), a RabbitMQ
# exchange or queue, and a Kafka topic (which allows at most 249 characters).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def check_name(name: str, what: str = "topic") -> str:
    """Return ``name`` if every broker accepts it as a topic (or group, consumer) name.

    Raises:
        TopicNameError: the name is empty, too long or has other characters.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name or name[-1] == ".":
        raise TopicNameError(
            f"{what} name {name!r} is not accepted: use 1 to 200 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit, without '..' or a trailing '.' "
            "(e.g. customers.events)."
        )
    return name


def unavailable(url: str, exc: BaseException, check: str) -> BusUnavailableError:
    """The one-line error of a broker that cannot be reached: the URL (password masked),
    what the client said, and ``check``, what to look at for this broker."""
    said = mask_password(str(exc)).rstrip(".") or "no answer"
    return BusUnavailableError(
        f"Cannot reach the event bus {mask_password(url)}: {type(exc).__name__}: {said}. {check}"
    )


@dataclass(frozen=True)
class Message:
    """One delivered message.

    Attributes:
        id: the broker's id of the message in its topic (Redis entry id, NATS stream
            sequence, RabbitMQ delivery tag, Kafka partition:offset).
        topic: where it was read from.
        payload: the bytes published.
        headers: the headers published (always with :data:`DEDUP_HEADER`, when dockyard
            published it).
        delivery_count: how many times it was delivered, this time included (1 the first
            time; Kafka keeps no count: always 1 there).
        group: the consumer group it was delivered to.
        handle: the adapter's own object for it (a NATS or aio-pika message), for ack.
    """

    id: str
    topic: str
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    delivery_count: int = 1
    group: str = ""
    handle: Any = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        """The deduplication key (the broker's id when the publisher set none)."""
        return self.headers.get(DEDUP_HEADER) or f"{self.topic}:{self.id}"


@dataclass(frozen=True)
class Outgoing:
    """A message to publish: its payload, deduplication key and extra headers."""

    payload: bytes
    key: str
    headers: Mapping[str, str] = field(default_factory=dict)


class EventBus(ABC):
    """A message broker seen as topics, consumer groups and acknowledgements.

    Five methods to implement (:meth:`connect`, :meth:`publish_many`, :meth:`consume`,
    :meth:`ack`, :meth:`aclose`); the rest has working defaults an adapter may speed
    up. A minimal adapter::

        class ListBus(EventBus):
            async def connect(self): self.items = []
            async def publish_many(self, topic, messages):
                start = len(self.items)
                self.items += [(topic, m) for m in messages]
                return [str(i) for i in range(start, len(self.items))]
            async def consume(self, topic, group, consumer, *, max_messages=64, timeout=1.0):
                ...  # new messages of ``topic`` for ``group``, as Message records
            async def ack(self, messages): ...
            async def aclose(self): ...

    Adapters are registered in the ``dockyard.event_buses`` entry-point group under their
    URL scheme and checked by :class:`dockyard.testing.EventBusContract`.

    Args (of every adapter's constructor):
        url: the broker, e.g. ``redis://127.0.0.1:6379/0``.
        ack_wait: seconds a delivered message may stay unacknowledged before another
            consumer of its group may take it over.
    """

    url: str = ""
    ack_wait: float = 30.0
    #: What to check when the broker cannot be reached (the end of that error's message).
    unreachable_hint: str = "Check that the broker is running there and that the URL is right."

    def _unavailable(self, exc: BaseException) -> BusUnavailableError:
        return unavailable(self.url, exc, self.unreachable_hint)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @abstractmethod
    async def connect(self) -> None:
        """Reach the broker (called once by :func:`~dockyard.events.open_bus`).

        Raises:
            BusUnavailableError: it cannot be reached; the URL is named, password masked.
        """

    @abstractmethod
    async def publish_many(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        """Publish ``messages`` in order and return once the broker has confirmed all of
        them (stored, or acknowledged by its publisher confirms); their ids.

        Raises:
            TopicNameError: the broker refuses the topic name.
            BusUnavailableError: the broker went away; nothing can be said of the batch.
        """

    @abstractmethod
    async def consume(
        self,
        topic: str,
        group: str,
        consumer: str,
        *,
        max_messages: int = 64,
        timeout: float = 1.0,
    ) -> list[Message]:
        """Up to ``max_messages`` messages for ``consumer`` of ``group``, waiting at most
        ``timeout`` seconds for the first one ([] when none came).

        In this order: the consumer's own unacknowledged messages from before a restart
        (where the broker can tell them), messages of the group left unacknowledged for
        more than ``ack_wait`` seconds (a dead consumer's), then new ones, oldest first.
        The group is created when missing.
        """

    @abstractmethod
    async def ack(self, messages: Sequence[Message]) -> None:
        """Acknowledge handled messages: they are never delivered to the group again."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close the connection. Unacknowledged messages stay with the broker."""

    # --- with defaults -----------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Publish one message (``key``: its deduplication key, default a new uuid)."""
        if key is None:
            import uuid

            key = uuid.uuid4().hex
        (msg_id,) = await self.publish_many(topic, [Outgoing(payload, key, dict(headers or {}))])
        return msg_id

    async def create_group(self, topic: str, group: str) -> None:  # noqa: B027 - optional hook
        """Make sure ``group`` exists on ``topic`` and will see what is published from now
        on. Redis, NATS and memory groups also see what was published before; a RabbitMQ
        group (a queue bound to the topic) sees only messages published after it exists.
        """

    async def touch(self, messages: Sequence[Message]) -> None:  # noqa: B027 - optional hook
        """Tell the broker these messages are still being worked on, so that ``ack_wait``
        starts again (NATS ``in_progress``, a Redis idle-time reset). Default: nothing."""

    async def pending(self, topic: str, group: str) -> int:
        """Messages of ``group`` not acknowledged yet: delivered and in flight, or not yet
        delivered. For status and tests; -1 when the broker cannot tell."""
        return -1

    async def delete_topic(self, topic: str, groups: Sequence[str] = ()) -> None:  # noqa: B027
        """Delete ``topic`` with its messages and groups (clean-up, tests). RabbitMQ keeps
        each group's queue apart from the topic: name the ``groups`` to delete them too.
        Default: nothing."""

    async def dead_letter(self, messages: Sequence[tuple[Message, str]], topic: str) -> None:
        """Publish each message to ``topic`` with its reason, delivery count and origin
        in headers (payload unchanged), then acknowledge the originals."""
        if not messages:
            return
        out = [
            Outgoing(
                message.payload,
                f"dead:{message.key}",
                {
                    **message.headers,
                    "dead-letter-reason": reason[:2000],
                    "dead-letter-delivery-count": str(message.delivery_count),
                    "dead-letter-topic": message.topic,
                    "dead-letter-id": message.id,
                },
            )
            for message, reason in messages
        ]
        await self.publish_many(topic, out)
        await self.ack([m for m, _ in messages])
