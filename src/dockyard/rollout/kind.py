"""The ``deployment_store`` stack component kind (read through ``dockyard.stack_kinds``)."""

from __future__ import annotations

from dockyard.stacks.kinds import ComponentKind

__all__ = ["KIND"]

KIND = ComponentKind(
    "deployment_store",
    group="dockyard.deployment_stores",
    port="dockyard.rollout.store:DeploymentStore",
    default={"flavor": "sql"},
    database=True,
)
