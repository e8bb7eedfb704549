"""A stack: the orchestrator, artifact store and metadata store a run uses."""

from __future__ import annotations

import json
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard import _plugins
from dockyard.errors import StackError
from dockyard.settings import Settings, find_project_root
from dockyard.stacks.config import ProjectConfig, resolve_paths

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


class Stack:
    """A named stack. Components are built on first use, so a command that only reads
    the metadata store never imports the artifact store's or orchestrator's libraries."""

    def __init__(self, name: str, components: dict[str, dict[str, Any]], config_dir: Path) -> None:
        self.name = name
        self.components = components
        self.config_dir = config_dir
        self.root = config_dir.parent

    def _build(self, kind: str) -> Any:
        return build_component(kind, resolve_paths(self.components[kind], self.config_dir))

    @cached_property
    def orchestrator(self) -> Orchestrator:
        return self._build("orchestrator")  # type: ignore[no-any-return]

    @cached_property
    def artifact_store(self) -> ArtifactStore:
        return self._build("artifact_store")  # type: ignore[no-any-return]

    @cached_property
    def metadata_store(self) -> MetadataStore:
        return self._build("metadata_store")  # type: ignore[no-any-return]

    @cached_property
    def materializers(self) -> MaterializerRegistry:
        from dockyard.artifacts.materializers.registry import MaterializerRegistry

        return MaterializerRegistry()

    def close(self) -> None:
        if "metadata_store" in self.__dict__:
            self.metadata_store.close()

    def __repr__(self) -> str:
        return f"<Stack {self.name}>"


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
            stack = Stack(name, components, config.dir)
            _cache[key] = stack
    return stack


def clear_cache() -> None:
    """Forget built stacks (tests; after editing the config in-process)."""
    with _lock:
        for stack in _cache.values():
            stack.close()
        _cache.clear()
