"""The ``registry_store`` stack component kind (read through ``dockyard.stack_kinds``)."""

from __future__ import annotations

from dockyard.stacks.kinds import ComponentKind

__all__ = ["KIND"]

KIND = ComponentKind(
    "registry_store",
    group="dockyard.registry_stores",
    port="dockyard.registry.store:ModelRegistryStore",
    default={"flavor": "sql"},
    database=True,
)
