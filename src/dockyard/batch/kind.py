"""The ``batch_store`` stack component kind (read through ``dockyard.stack_kinds``)."""

from __future__ import annotations

from dockyard.stacks.kinds import ComponentKind

__all__ = ["KIND"]

KIND = ComponentKind(
    "batch_store",
    group="dockyard.batch_stores",
    port="dockyard.batch.store:BatchStore",
    default={"flavor": "sql"},
    database=True,
)
