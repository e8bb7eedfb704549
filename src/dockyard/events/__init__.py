"""Event-driven delivery: the ``EventBus`` port over brokers, and stream scoring.

Names are re-exported lazily: ``import dockyard.events`` loads no broker client::

    from dockyard.events import open_bus

    async with await open_bus("redis://127.0.0.1:6379") as bus:
        await bus.publish("customers.events", b'{"id": 1, "features": {...}}')

    # score the stream with a registered model until SIGTERM (``dockyard consume``)
    from dockyard.events import consume

    consume("churn@production", bus="redis://127.0.0.1:6379",
            input="customers.events", output="churn.predictions")
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.events.base import EventBus, Message, Outgoing
    from dockyard.events.bus import open_bus
    from dockyard.events.consumer import ConsumerStats, StreamConsumer, consume
    from dockyard.events.decisions import ConsumerConfig
    from dockyard.events.publishing import OutboxRelay, flush_outbox
    from dockyard.events.status import ConsumerStatus, consumer_status

_EXPORTS = {
    "ConsumerConfig": "decisions",
    "ConsumerStats": "consumer",
    "ConsumerStatus": "status",
    "consumer_status": "status",
    "StreamConsumer": "consumer",
    "consume": "consumer",
    "EventBus": "base",
    "Message": "base",
    "Outgoing": "base",
    "open_bus": "bus",
    "OutboxRelay": "publishing",
    "flush_outbox": "publishing",
}

__all__ = [
    "ConsumerConfig",
    "ConsumerStats",
    "ConsumerStatus",
    "EventBus",
    "Message",
    "OutboxRelay",
    "Outgoing",
    "StreamConsumer",
    "consume",
    "consumer_status",
    "flush_outbox",
    "open_bus",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.events' has no attribute {name!r}")
    value = getattr(import_module(f"dockyard.events.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
