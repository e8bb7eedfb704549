"""Redis Streams (``redis://HOST:PORT[/DB]``) over redis-py's asyncio client.

A topic is a stream; a group is a stream consumer group created at ``0`` (it sees the
stream from its start); a message is an entry whose ``data`` field holds the payload (the
``field`` option names another), whose ``dedup-key`` field holds its deduplication key,
and whose ``headers`` field, when there are other headers, holds them as JSON.

Delivery, as :class:`~dockyard.events.base.EventBus` promises it:

* publish: ``XADD`` of the whole batch in one pipeline; Redis's reply is the confirmation
  (durable as far as the server's persistence settings, AOF or RDB, make it).
* consume, in order: the consumer's own pending entries (``XREADGROUP ... 0``, once per
  bus, so a restarted consumer finishes what it had), entries idle for more than
  ``ack_wait`` in the group (``XAUTOCLAIM``: a dead consumer's), then new ones
  (``XREADGROUP ... >``, blocking at most ``timeout``).
* delivery counts come from ``XPENDING`` for re-read and claimed entries (1 for new ones).
* ack: ``XACK``; touch: ``XCLAIM ... JUSTID`` to our own name, which resets the idle time.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from dockyard._urls import mask_password
from dockyard.errors import TopicNameError
from dockyard.events.base import DEDUP_HEADER, EventBus, Message, Outgoing, check_name
from dockyard.events.bus import seconds_option, url_options, without_query

__all__ = ["RedisBus"]

_KEY = DEDUP_HEADER.encode()
_HEADERS = b"headers"


class RedisBus(EventBus):
    """Redis Streams.

    Args:
        url: ``redis://[:PASSWORD@]HOST:PORT[/DB]`` (``rediss://`` for TLS).
        ack_wait: seconds before another consumer may claim an unacknowledged entry.
        field: the entry field that holds the payload (default ``data``).
        maxlen: trim each stream to about this many entries on publish (default: never).
    """

    unreachable_hint = (
        "Check that Redis is running there and the URL (host, port, password, database) is right."
    )

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379",
        *,
        ack_wait: float | str | None = None,
        field: str | None = None,
        maxlen: int | str | None = None,
    ) -> None:
        query = url_options(url)
        self.url = url
        self.ack_wait = seconds_option(url, "ack_wait", ack_wait, 30.0)
        self.field = (field or query.get("field") or "data").encode()
        raw_maxlen = maxlen if maxlen is not None else query.get("maxlen")
        self.maxlen = int(raw_maxlen) if raw_maxlen is not None else None
        self._client: Any = None
        self._groups: set[tuple[str, str]] = set()
        # Where re-reading a consumer's own pending entries got to ("" once done).
        self._own_cursor: dict[tuple[str, str, str], str] = {}
        self._claim_cursor: dict[tuple[str, str], str] = {}
        self._claimed_at: dict[tuple[str, str], float] = {}

    @contextlib.asynccontextmanager
    async def _faults(self, topic: str = "") -> AsyncIterator[None]:
        from redis.exceptions import ConnectionError, ResponseError, TimeoutError

        try:
            yield
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise self._unavailable(exc) from exc
        except ResponseError as exc:
            if "WRONGTYPE" in str(exc) and topic:
                raise TopicNameError(
                    f"topic {topic!r} exists on {mask_password(self.url)} as a Redis key "
                    "that is not a stream; pick another topic name."
                ) from exc
            raise

    async def connect(self) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(
            without_query(self.url), socket_connect_timeout=5, health_check_interval=30
        )
        async with self._faults():
            await self._client.ping()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish_many(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        check_name(topic)
        if not messages:
            return []
        async with self._faults(topic):
            pipe = self._client.pipeline(transaction=False)
            for m in messages:
                # The key in a field of its own; other headers as JSON only when there are
                # any (most messages have none: one JSON encode and decode less each).
                fields = {self.field: m.payload, _KEY: m.key}
                if m.headers:
                    fields[_HEADERS] = json.dumps(dict(m.headers))
                pipe.xadd(topic, fields, maxlen=self.maxlen, approximate=True)
            ids = await pipe.execute()
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def create_group(self, topic: str, group: str) -> None:
        from redis.exceptions import ResponseError

        check_name(topic)
        check_name(group, "group")
        if (topic, group) in self._groups:
            return
        async with self._faults(topic):
            try:
                await self._client.xgroup_create(topic, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
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
        from redis.exceptions import ResponseError

        try:
            return await self._consume(topic, group, consumer, max(1, max_messages), timeout)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        # The stream or its group was deleted under us (an operator, a trim to nothing):
        # the group is made again, from the stream's start, and the read tried once more.
        self._groups.discard((topic, group))
        return await self._consume(topic, group, consumer, max(1, max_messages), timeout)

    async def _consume(
        self, topic: str, group: str, consumer: str, count: int, timeout: float
    ) -> list[Message]:
        await self.create_group(topic, group)
        check_name(consumer, "consumer")
        async with self._faults(topic):
            me = (topic, group, consumer)
            cursor = self._own_cursor.get(me, "0")
            while cursor:  # bounded: each turn moves past entries read, ends when none
                own = await self._client.xreadgroup(group, consumer, {topic: cursor}, count=count)
                entries = _entries(own)
                if not entries:
                    cursor = self._own_cursor[me] = ""
                    break
                cursor = self._own_cursor[me] = entries[-1][0].decode()
                found = await self._messages(topic, group, consumer, entries, fresh=False)
                if found:
                    return found
            claimed = await self._claim(topic, group, consumer, count)
            if claimed:
                return claimed
            block = int(timeout * 1000) if timeout > 0 else None
            new = await self._client.xreadgroup(
                group, consumer, {topic: ">"}, count=count, block=block
            )
            return await self._messages(topic, group, consumer, _entries(new), fresh=True)

    async def _claim(self, topic: str, group: str, consumer: str, count: int) -> list[Message]:
        """Entries of the group idle for over ``ack_wait``, taken over (``XAUTOCLAIM``);
        looked for at most every ``min(1 s, ack_wait / 4)`` (a round trip per batch
        otherwise)."""
        key = (topic, group)
        now = time.monotonic()
        if now - self._claimed_at.get(key, 0.0) < min(1.0, self.ack_wait / 4):
            return []
        self._claimed_at[key] = now
        start = self._claim_cursor.get(key, "0-0")
        reply = await self._client.xautoclaim(
            topic, group, consumer, int(self.ack_wait * 1000), start_id=start, count=count
        )
        cursor = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        self._claim_cursor[key] = cursor
        if cursor != "0-0":  # more to look at: do not wait for the next turn
            self._claimed_at[key] = 0.0
        return await self._messages(topic, group, consumer, list(reply[1]), fresh=False)

    async def _messages(
        self, topic: str, group: str, consumer: str, entries: list[Any], fresh: bool
    ) -> list[Message]:
        # An entry trimmed or deleted while pending comes back without fields: nothing to
        # deliver, so it is acknowledged away.
        gone = [eid for eid, fields in entries if not fields]
        if gone:
            await self._client.xack(topic, group, *gone)
        entries = [(eid, fields) for eid, fields in entries if fields]
        if not entries:
            return []
        counts: dict[bytes, int] = {}
        if not fresh:
            ids = [eid for eid, _ in entries]
            rows = await self._client.xpending_range(
                topic, group, min=ids[0], max=ids[-1], count=len(ids) * 2, consumername=consumer
            )
            counts = {r["message_id"]: int(r["times_delivered"]) for r in rows}
        out = []
        for eid, fields in entries:
            headers: dict[str, str] = {}
            raw_headers = fields.get(_HEADERS)
            if raw_headers:
                try:
                    headers = {str(k): str(v) for k, v in json.loads(raw_headers).items()}
                except (ValueError, AttributeError):  # another producer's field: not ours
                    headers = {}
            key = fields.get(_KEY)
            if key is not None:
                headers[DEDUP_HEADER] = key.decode(errors="replace")
            out.append(
                Message(
                    id=eid.decode(),
                    topic=topic,
                    payload=fields.get(self.field, b""),
                    headers=headers,
                    delivery_count=counts.get(eid, 1),
                    group=group,
                )
            )
        return out

    async def ack(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        by_stream: dict[tuple[str, str], list[str]] = {}
        for m in messages:
            by_stream.setdefault((m.topic, m.group), []).append(m.id)
        async with self._faults():
            pipe = self._client.pipeline(transaction=False)
            for (topic, group), ids in by_stream.items():
                pipe.xack(topic, group, *ids)
            await pipe.execute()

    async def touch(self, messages: Sequence[Message]) -> None:
        if not messages or not self._client:
            return
        async with self._faults():
            # Claiming to ourselves with JUSTID resets the idle time without raising the
            # delivery count. The consumer name is the one the entries were read by.
            by_stream: dict[tuple[str, str], list[str]] = {}
            for m in messages:
                by_stream.setdefault((m.topic, m.group), []).append(m.id)
            for (topic, group), ids in by_stream.items():
                owners = await self._client.xpending_range(
                    topic, group, min=ids[0], max=ids[-1], count=len(ids) * 2
                )
                wanted = {i.encode() for i in ids}
                per_owner: dict[bytes, list[bytes]] = {}
                for row in owners:
                    if row["message_id"] in wanted:
                        per_owner.setdefault(row["consumer"], []).append(row["message_id"])
                for owner, owned in per_owner.items():
                    await self._client.xclaim(topic, group, owner, 0, owned, justid=True)

    async def delete_topic(self, topic: str, groups: Sequence[str] = ()) -> None:
        async with self._faults(topic):
            await self._client.delete(topic)
        self._groups = {g for g in self._groups if g[0] != topic}

    async def pending(self, topic: str, group: str) -> int:
        async with self._faults(topic):
            if not await self._client.exists(topic):
                return 0
            for info in await self._client.xinfo_groups(topic):
                name = info.get("name")
                if (name.decode() if isinstance(name, bytes) else name) == group:
                    lag = info.get("lag")
                    return int(info.get("pending", 0)) + (int(lag) if lag is not None else 0)
            return int(await self._client.xlen(topic))


def _entries(reply: Any) -> list[Any]:
    """The ``(id, fields)`` pairs of an ``XREADGROUP`` reply for one stream."""
    if not reply:
        return []
    if isinstance(reply, dict):  # RESP3
        return [e for entries in reply.values() for e in (entries[0] if entries else [])]
    return list(reply[0][1])
