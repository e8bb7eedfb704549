"""A stack: the orchestrator, artifact store and metadata store a run uses."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard import _plugins
from dockyard.errors import StackError
from dockyard.settings import Settings, find_project_root
from dockyard.stacks.config import COMPONENT_TYPES, ProjectConfig, resolve_paths

if TYPE_CHECKING:
    from dockyard.artifacts.base import ArtifactStore
    from dockyard.artifacts.materializers.registry import MaterializerRegistry
    from dockyard.metadata.base import MetadataStore
    from dockyard.orchestrators.base import Orchestrator

_GROUPS = {
    "orchestrator": "dockyard.orchestrators",
    "artifact_store": "dockyard.artifact_stores",
    "metadata_store": "dockyard.metadata_stores",
}


@dataclass(frozen=True)
class Stack:
    name: str
    orchestrator: Orchestrator
    artifact_store: ArtifactStore
    metadata_store: MetadataStore
    materializers: MaterializerRegistry
    root: Path


def build_component(kind: str, options: dict[str, Any]) -> Any:
    """Instantiate one component from its config (``flavor`` plus options)."""
    options = dict(options)
    flavor = options.pop("flavor", None)
    if not flavor:
        raise StackError(f"The {kind} config needs a 'flavor'.")
    cls = _plugins.load(_GROUPS[kind], flavor)
    try:
        return cls(**options)
    except TypeError as exc:
        raise StackError(f"Bad options for {kind} {flavor!r}: {exc}") from None


_cache: dict[str, Stack] = {}
_lock = threading.Lock()


def load_stack(name: str | None = None, *, root: Path | None = None) -> Stack:
    """The named stack (default: DOCKYARD_STACK, else the project's active stack).

    Components are built once per process and config, so repeated runs reuse
    connections.
    """
    from dockyard.artifacts.materializers.registry import MaterializerRegistry

    settings = Settings.from_env()
    root = root or find_project_root(settings)
    config = ProjectConfig.load(root)
    name = name or settings.stack or config.active_stack
    components = config.stack(name)
    key = json.dumps([str(root), name, components], sort_keys=True, default=str)
    with _lock:
        stack = _cache.get(key)
        if stack is None:
            config.dir.mkdir(parents=True, exist_ok=True)
            built = {
                kind: build_component(kind, resolve_paths(components[kind], config.dir))
                for kind in COMPONENT_TYPES
            }
            stack = Stack(
                name=name,
                materializers=MaterializerRegistry(),
                root=root,
                **built,
            )
            _cache[key] = stack
    return stack


def clear_cache() -> None:
    """Forget built stacks (tests; after editing the config in-process)."""
    with _lock:
        for stack in _cache.values():
            stack.metadata_store.close()
        _cache.clear()
