"""The ``schedule_store`` stack component kind (read through ``dockyard.stack_kinds``)."""

from __future__ import annotations

from dockyard.stacks.kinds import ComponentKind

__all__ = ["KIND"]

KIND = ComponentKind(
    "schedule_store",
    group="dockyard.schedule_stores",
    port="dockyard.schedules.store:ScheduleStore",
    default={"flavor": "sql"},
    database=True,
)
