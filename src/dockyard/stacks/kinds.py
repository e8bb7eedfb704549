"""The table of stack component kinds: ``kind -> entry-point group, port, default``.

A stack is one component of each kind. The three every run needs (``orchestrator``,
``artifact_store``, ``metadata_store``) are listed here; further kinds are plug-ins in the
``dockyard.stack_kinds`` entry-point group, each a :class:`ComponentKind` declared by the
context that owns its port (``registry_store`` by the registry, ``deployment_store`` by
rollouts; next ``lake``, ``event_bus``, ``deploy_target``), so adding a kind changes no
core code::

    # pyproject.toml of the package that owns the kind
    [project.entry-points."dockyard.stack_kinds"]
    lake = "dockyard.lake.kind:KIND"

    # dockyard/lake/kind.py (keep it light: it is imported to read the table)
    KIND = ComponentKind("lake", group="dockyard.lakes", port="dockyard.lake.base:Lake",
                         default={"flavor": "delta", "path": "lake"})

A kind with ``database=True`` is built over the stack's one
:class:`~dockyard.db.Database` (the URL of the ``metadata_store``), so every context's
store shares one engine and can share a transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard import _plugins
from dockyard.errors import StackError

__all__ = ["CORE_KINDS", "KINDS_GROUP", "ComponentKind", "all_kinds", "find_kind"]

KINDS_GROUP = "dockyard.stack_kinds"


@dataclass(frozen=True)
class ComponentKind:
    """One kind of stack component.

    Attributes:
        name: the key in a stack's config and the ``Stack`` attribute (``registry_store``).
        group: the entry-point group its flavors are registered in.
        port: ``module:Class`` of the port every flavor implements (checked when built;
            a string, so reading the table imports no context).
        default: the config used when a stack does not name one; ``None`` makes the kind
            required in every stack.
        database: built over the stack's shared database (``cls(database=db, **options)``).
    """

    name: str
    group: str
    port: str
    default: Mapping[str, Any] | None = field(default=None)
    database: bool = False


CORE_KINDS: dict[str, ComponentKind] = {
    kind.name: kind
    for kind in (
        ComponentKind(
            "orchestrator",
            group="dockyard.orchestrators",
            port="dockyard.orchestrators.base:Orchestrator",
            default={"flavor": "local"},
        ),
        ComponentKind(
            "artifact_store",
            group="dockyard.artifact_stores",
            port="dockyard.artifacts.base:ArtifactStore",
            default={"flavor": "local", "path": "artifacts"},
        ),
        ComponentKind(
            "metadata_store",
            group="dockyard.metadata_stores",
            port="dockyard.metadata.base:MetadataStore",
            default={"flavor": "sql", "url": "sqlite:///metadata.db"},
            database=True,
        ),
    )
}


@functools.cache
def all_kinds() -> dict[str, ComponentKind]:
    """The core kinds and every kind installed through ``dockyard.stack_kinds``."""
    kinds = dict(CORE_KINDS)
    for name, kind in _plugins.load_all(KINDS_GROUP).items():
        if not isinstance(kind, ComponentKind) or kind.name != name:
            raise StackError(
                f"The {KINDS_GROUP} entry point {name!r} must be a ComponentKind named "
                f"{name!r}, got {kind!r}."
            )
        kinds.setdefault(name, kind)
    return kinds


def find_kind(name: str) -> ComponentKind | None:
    """The kind called ``name``, or None (core kinds never read the entry points)."""
    return CORE_KINDS.get(name) or all_kinds().get(name)
