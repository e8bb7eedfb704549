"""The in-memory bus (``memory://``): the embedded default, and the tests' fake.

Topics, groups and pending messages live in a :class:`MemoryBroker`. ``memory://``
gives each bus a broker of its own; ``memory://NAME`` shares one broker among the buses
of this process opened with that name, so a test can let one "consumer process" die and
another take over. Nothing survives the process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dockyard.events.base import EventBus, Message, Outgoing, check_name
from dockyard.events.bus import seconds_option

__all__ = ["MemoryBroker", "MemoryBus"]


@dataclass
class _Pending:
    consumer: str
    delivered_at: float
    count: int


@dataclass
class _Group:
    next_index: int = 0
    pending: dict[int, _Pending] = field(default_factory=dict)


@dataclass
class _Topic:
    entries: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    groups: dict[str, _Group] = field(default_factory=dict)


class MemoryBroker:
    """Topics and groups held in this process (thread-safe)."""

    def __init__(self) -> None:
        self.topics: dict[str, _Topic] = {}
        self.lock = threading.Lock()

    def topic(self, name: str) -> _Topic:
        return self.topics.setdefault(name, _Topic())


_NAMED: dict[str, MemoryBroker] = {}
_NAMED_LOCK = threading.Lock()


def _broker_for(url: str) -> MemoryBroker:
    name = urlsplit(url).netloc + urlsplit(url).path
    if not name.strip("/"):
        return MemoryBroker()
    with _NAMED_LOCK:
        return _NAMED.setdefault(name, MemoryBroker())


class MemoryBus(EventBus):
    """An event bus in this process's memory.

    Args:
        url: ``memory://`` (a private broker) or ``memory://NAME`` (shared by name).
        ack_wait: seconds before an unacknowledged message may go to another consumer.
        broker: use this broker (overrides the URL).
    """

    def __init__(
        self,
        url: str = "memory://",
        *,
        ack_wait: float | str | None = None,
        broker: MemoryBroker | None = None,
    ) -> None:
        self.url = url
        self.ack_wait = seconds_option(url, "ack_wait", ack_wait, 30.0)
        self.broker = broker or _broker_for(url)
        self._restarted: set[tuple[str, str, str]] = set()

    async def connect(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def publish_many(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        check_name(topic)
        with self.broker.lock:
            entries = self.broker.topic(topic).entries
            start = len(entries)
            for m in messages:
                entries.append((bytes(m.payload), {**m.headers, "dedup-key": m.key}))
        return [str(i) for i in range(start, start + len(messages))]

    async def create_group(self, topic: str, group: str) -> None:
        check_name(topic)
        check_name(group, "group")
        with self.broker.lock:
            self.broker.topic(topic).groups.setdefault(group, _Group())

    async def consume(
        self,
        topic: str,
        group: str,
        consumer: str,
        *,
        max_messages: int = 64,
        timeout: float = 1.0,
    ) -> list[Message]:
        await self.create_group(topic, group)
        check_name(consumer, "consumer")
        deadline = time.monotonic() + max(timeout, 0.0)
        for _ in range(100_000):  # bounded: ends at the deadline anyway
            found = self._take(topic, group, consumer, max_messages)
            if found or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(min(0.005, max(deadline - time.monotonic(), 0.0)))
        return []

    def _take(self, topic: str, group: str, consumer: str, limit: int) -> list[Message]:
        now = time.monotonic()
        taken: list[int] = []
        with self.broker.lock:
            t = self.broker.topic(topic)
            g = t.groups[group]
            own_first = (topic, group, consumer) not in self._restarted
            self._restarted.add((topic, group, consumer))
            for index in sorted(g.pending):
                if len(taken) >= limit:
                    break
                p = g.pending[index]
                mine = own_first and p.consumer == consumer
                if mine or now - p.delivered_at >= self.ack_wait:
                    p.consumer, p.delivered_at, p.count = consumer, now, p.count + 1
                    taken.append(index)
            while len(taken) < limit and g.next_index < len(t.entries):
                g.pending[g.next_index] = _Pending(consumer, now, 1)
                taken.append(g.next_index)
                g.next_index += 1
            return [
                Message(
                    id=str(i),
                    topic=topic,
                    payload=t.entries[i][0],
                    headers=dict(t.entries[i][1]),
                    delivery_count=g.pending[i].count,
                    group=group,
                )
                for i in taken
            ]

    async def ack(self, messages: Sequence[Message]) -> None:
        with self.broker.lock:
            for m in messages:
                group = self.broker.topic(m.topic).groups.get(m.group)
                if group is not None:
                    group.pending.pop(int(m.id), None)

    async def touch(self, messages: Sequence[Message]) -> None:
        now = time.monotonic()
        with self.broker.lock:
            for m in messages:
                group = self.broker.topic(m.topic).groups.get(m.group)
                p = group.pending.get(int(m.id)) if group else None
                if p is not None:
                    p.delivered_at = now

    async def delete_topic(self, topic: str, groups: Sequence[str] = ()) -> None:
        with self.broker.lock:
            self.broker.topics.pop(topic, None)

    async def pending(self, topic: str, group: str) -> int:
        with self.broker.lock:
            t = self.broker.topic(topic)
            g = t.groups.get(group)
            if g is None:
                return len(t.entries)
            return len(g.pending) + len(t.entries) - g.next_index
