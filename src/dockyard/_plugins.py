"""Resolve plug-ins by name from Python entry points.

Built-in components are registered through dockyard's own ``pyproject.toml`` exactly like
third-party ones, so the core never imports an adapter by name. The groups are:

===============================  ======================================================
``dockyard.stack_kinds``         :class:`dockyard.stacks.kinds.ComponentKind` (more kinds)
``dockyard.orchestrators``       :class:`dockyard.orchestrators.Orchestrator`
``dockyard.compilers``           :class:`dockyard.orchestrators.PipelineCompiler` (export)
``dockyard.artifact_stores``     :class:`dockyard.artifacts.ArtifactStore`
``dockyard.metadata_stores``     :class:`dockyard.metadata.MetadataStore`
``dockyard.registry_stores``     :class:`dockyard.registry.ModelRegistryStore`
``dockyard.deployment_stores``   :class:`dockyard.rollout.DeploymentStore`
``dockyard.lakes``               :class:`dockyard.lake.Lake` (table formats)
``dockyard.batch_stores``        :class:`dockyard.batch.BatchStore`
``dockyard.schedule_stores``     :class:`dockyard.schedules.ScheduleStore`
``dockyard.event_buses``         :class:`dockyard.events.EventBus` (by URL scheme)
``dockyard.materializers``       :class:`dockyard.artifacts.Materializer`
``dockyard.framework_adapters``  :class:`dockyard.runtime.FrameworkAdapter` (model frameworks)
===============================  ======================================================
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from dockyard.errors import UnknownComponentError

GROUPS = (
    "dockyard.stack_kinds",
    "dockyard.orchestrators",
    "dockyard.compilers",
    "dockyard.artifact_stores",
    "dockyard.metadata_stores",
    "dockyard.registry_stores",
    "dockyard.deployment_stores",
    "dockyard.lakes",
    "dockyard.batch_stores",
    "dockyard.schedule_stores",
    "dockyard.event_buses",
    "dockyard.materializers",
    "dockyard.framework_adapters",
)


@functools.cache
def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def available(group: str) -> list[str]:
    """Names of the plug-ins installed for ``group``, sorted."""
    return sorted(_entry_points(group))


def load(group: str, name: str) -> Any:
    """Load the object registered as ``name`` in ``group``.

    Raises:
        UnknownComponentError: nothing of that name is installed; the message lists what is.
    """
    eps = _entry_points(group)
    if name not in eps:
        kind = group.removeprefix("dockyard.").replace("_", " ").rstrip("s")
        known = ", ".join(sorted(eps)) or "none"
        raise UnknownComponentError(
            f"Unknown {kind} {name!r}. Installed: {known}. "
            f"Install the package that provides it, or pick one of those."
        )
    return eps[name].load()


def load_all(group: str) -> dict[str, Any]:
    """Load every plug-in of ``group`` (used for materializers, which all take part)."""
    return {name: ep.load() for name, ep in _entry_points(group).items()}
