"""The ``lake`` stack component kind (read through ``dockyard.stack_kinds``).

The default lake is a folder ``lake`` under the project's ``.dockyard/`` (made absolute
like the artifact store's path); a stack names another with ``path: s3://bucket/prefix``.
"""

from __future__ import annotations

from dockyard.stacks.kinds import ComponentKind

__all__ = ["KIND"]

KIND = ComponentKind(
    "lake",
    group="dockyard.lakes",
    port="dockyard.lake.base:Lake",
    default={"flavor": "delta", "path": "lake"},
)
