"""The ``trigger_store`` stack component kind (read through ``dockyard.stack_kinds``)."""

from __future__ import annotations

from dockyard.stacks.kinds import ComponentKind

__all__ = ["KIND"]

KIND = ComponentKind(
    "trigger_store",
    group="dockyard.trigger_stores",
    port="dockyard.events.trigger_store:TriggerStore",
    default={"flavor": "sql"},
    database=True,
)
