"""The ``event_bus`` stack component kind (read through ``dockyard.stack_kinds``).

Flavors are registered in ``dockyard.event_buses`` under their URL scheme (``memory``,
``redis``, ``nats``, ``amqp``, ``kafka``); a stack names one with its URL::

    event_bus: {flavor: redis, url: "redis://127.0.0.1:6379/0"}

The default is the in-memory bus (one process, nothing to start).
"""

from __future__ import annotations

from dockyard.stacks.kinds import ComponentKind

__all__ = ["KIND"]

KIND = ComponentKind(
    "event_bus",
    group="dockyard.event_buses",
    port="dockyard.events.base:EventBus",
    default={"flavor": "memory"},
)
