"""Dockyard's own events on the bus: the outbox relay and the CloudEvents format.

The stores record every event in the outbox (:mod:`dockyard.db.outbox`) in the same
transaction as the change it reports. :class:`OutboxRelay` sends what is pending to the
stack's bus, oldest first, as **CloudEvents 1.0** structured JSON messages (the
``cloudevents`` SDK writes and reads them) on the topic ``dockyard.events``, and marks each
sent once the broker confirmed it. Delivery is at least once; the CloudEvent ``id`` is the
message's deduplication key, so a reader drops repeats. A bus that is down leaves the
events pending: the next flush sends them, in order.

Who flushes: every ``dockyard`` command when its stack names a bus (best effort, a few
seconds at most, after the command's own work), ``dockyard events relay`` (a long-running
process for projects that change from Python), ``dockyard triggers`` and
:func:`flush_outbox` from Python::

    from dockyard.events import flush_outbox
    flush_outbox()          # -> number of events sent (0 without a bus, or when it is down)
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dockyard.db.outbox import Outbox, OutboxEvent
from dockyard.errors import BusUnavailableError
from dockyard.events.base import Outgoing

if TYPE_CHECKING:
    from dockyard.db.engine import Database
    from dockyard.events.base import EventBus
    from dockyard.stacks.stack import Stack

__all__ = [
    "EVENTS_TOPIC",
    "OutboxRelay",
    "flush_outbox",
    "matches",
    "read_cloudevent",
    "shared_bus_url",
    "to_cloudevent",
]

_log = logging.getLogger(__name__)

#: The topic dockyard's own events are published on.
EVENTS_TOPIC = "dockyard.events"


def to_cloudevent(event: OutboxEvent) -> bytes:
    """The CloudEvents 1.0 structured JSON of an outbox event."""
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent

    attributes: dict[str, Any] = {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": event.time,
        "datacontenttype": "application/json",
    }
    if event.subject:
        attributes["subject"] = event.subject
    return JSONFormat().write(CloudEvent(attributes, data=event.data))


def read_cloudevent(payload: bytes) -> dict[str, Any]:
    """A CloudEvents JSON message as a dict (attributes and ``data``).

    Raises:
        ValueError: not a CloudEvent.
    """
    from cloudevents.core.formats.json import JSONFormat

    try:
        event = JSONFormat().read(None, payload)
    except Exception as exc:  # the SDK raises its own tree and json's errors
        raise ValueError(f"not a CloudEvent: {exc}") from None
    out = dict(event.get_attributes())
    out["data"] = event.get_data()
    return out


def matches(event_type: str, patterns: Sequence[str]) -> bool:
    """Whether ``event_type`` matches any glob (``dockyard.model.*``); all without any."""
    return not patterns or any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


class OutboxRelay:
    """Sends a database's pending events to a bus, in order, and marks them sent."""

    #: Sent events are deleted from the outbox after this long.
    keep_sent = timedelta(days=7)

    def __init__(
        self, database: Database, bus: EventBus, *, topic: str = EVENTS_TOPIC, batch: int = 100
    ) -> None:
        self.outbox = Outbox(database)
        self.bus = bus
        self.topic = topic
        self.batch = batch
        self._pruned_at: float | None = None

    async def flush(self, max_batches: int = 100) -> int:
        """Send what is pending (at most ``max_batches`` batches); the number sent.

        Raises:
            BusUnavailableError: the bus went away; what was not confirmed stays pending.
        """
        sent = 0
        for _ in range(max_batches):  # bounded; a later flush sends the rest
            events = self.outbox.pending(self.batch)
            if not events:
                break
            messages = [
                Outgoing(to_cloudevent(e), key=e.id, headers={"ce-type": e.type}) for e in events
            ]
            await self.bus.publish_many(self.topic, messages)
            self.outbox.mark_sent([e.seq for e in events])
            sent += len(events)
        if self._pruned_at is None or time.monotonic() - self._pruned_at > 3600:
            self._pruned_at = time.monotonic()
            self.outbox.prune(datetime.now(UTC) - self.keep_sent)
        return sent

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Flush every ``interval`` seconds until ``stop`` is set; a bus that is down is
        retried (the events wait in the outbox)."""
        while not stop.is_set():
            try:
                sent = await self.flush()
                if sent:
                    _log.info("sent %d dockyard events to %s", sent, self.topic)
            except BusUnavailableError as exc:
                _log.warning("events wait in the outbox: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def shared_bus_url(stack: Stack) -> str | None:
    """The URL of the bus ``stack`` names, or None when it names none (the in-memory
    default, which no other process could read)."""
    from dockyard.events.bus import stack_bus_url

    url = stack_bus_url(stack)
    return None if url.startswith("memory:") else url


def flush_outbox(stack: Stack | str | None = None, *, timeout: float = 5.0) -> int:
    """Send the pending events of ``stack`` (default: the active one) to its bus; the
    number sent. Never raises for a bus that is down or slow: the events stay pending."""
    from dockyard.stacks.stack import Stack, load_stack

    s = stack if isinstance(stack, Stack) else load_stack(stack)
    url = shared_bus_url(s)
    if url is None:
        return 0

    async def send() -> int:
        from dockyard.events.bus import open_bus

        bus = await open_bus(url)
        try:
            return await OutboxRelay(s.database, bus).flush()
        finally:
            await bus.aclose()

    try:
        return asyncio.run(asyncio.wait_for(send(), timeout=timeout))
    except (BusUnavailableError, TimeoutError, OSError) as exc:
        _log.info("dockyard events wait in the outbox (bus %s): %s", url, exc)
        return 0
