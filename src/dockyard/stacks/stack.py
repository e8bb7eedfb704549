"""A stack: one component of each kind (orchestrator, stores, ...) that a run uses.

Components are built on first use from the stack's config and the table of kinds
(:mod:`dockyard.stacks.kinds`), so a command that only reads runs never imports the
artifact store's or orchestrator's libraries. The stores of every context are built over
one :class:`~dockyard.db.Database` (the ``metadata_store``'s URL)::

    stack = load_stack()
    stack.metadata_store.list_runs()          # runs, steps, artifacts, lineage
    stack.registry_store.list_models()        # model versions and aliases
    stack.deployment_store.list_deployments()
    stack.component("lake")                   # any installed kind, by name
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard import _plugins
from dockyard.errors import StackError
from dockyard.settings import Settings, find_project_root
from dockyard.stacks.config import ProjectConfig, resolve_paths
from dockyard.stacks.kinds import CORE_KINDS, ComponentKind, all_kinds, find_kind

if TYPE_CHECKING:
    from dockyard.artifacts.base import ArtifactStore
    from dockyard.artifacts.materializers.registry import MaterializerRegistry
    from dockyard.db.engine import Database
    from dockyard.metadata.base import MetadataStore
    from dockyard.orchestrators.base import Orchestrator
    from dockyard.registry.store import ModelRegistryStore
    from dockyard.rollout.store import DeploymentStore

__all__ = ["Stack", "build_component", "clear_cache", "load_stack"]


class Stack:
    """A named stack; its components are attributes named after their kind."""

    if TYPE_CHECKING:  # the kinds dockyard itself ships, typed; others via component()
        orchestrator: Orchestrator
        artifact_store: ArtifactStore
        metadata_store: MetadataStore
        registry_store: ModelRegistryStore
        deployment_store: DeploymentStore

    def __init__(self, name: str, components: dict[str, dict[str, Any]], config_dir: Path) -> None:
        self.name = name
        self.components = components
        self.config_dir = config_dir
        self.root = config_dir.parent
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not ordinary attributes: the component kinds.
        if name.startswith("_") or find_kind(name) is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return self.component(name)

    def component(self, kind: str) -> Any:
        """The component of ``kind``, built on first use.

        Raises:
            StackError: no such kind is installed, or the config cannot build it.
            UnknownComponentError: the config names a flavor no plug-in provides.
        """
        built = self._built.get(kind)
        if built is not None:
            return built
        spec = find_kind(kind)
        if spec is None:
            known = ", ".join(sorted(all_kinds()))
            raise StackError(f"Unknown stack component kind {kind!r}. Kinds: {known}.")
        with self._lock:
            if kind not in self._built:
                self._built[kind] = self._build(spec)
            return self._built[kind]

    def component_config(self, kind: str) -> dict[str, Any]:
        """The config ``kind`` is built from (defaults applied, paths made absolute), to
        build the same component in another process (:func:`build_component`)."""
        spec = find_kind(kind)
        if spec is None:
            raise StackError(f"Unknown stack component kind {kind!r}.")
        return self._config(spec)

    def _config(self, spec: ComponentKind) -> dict[str, Any]:
        options = self.components.get(spec.name)
        if options is None:
            if spec.default is None:
                raise StackError(f"Stack {self.name!r} has no {spec.name}; register one.")
            options = dict(spec.default)
        return resolve_paths(options, self.config_dir)

    def _build(self, spec: ComponentKind) -> Any:
        options = self._config(spec)
        if spec.database:
            options.pop("url", None)  # the stack's database is the metadata store's URL
            options["database"] = self.database
        return build_component(spec, options)

    @cached_property
    def database(self) -> Database:
        """The one database every SQL store of this stack uses (the metadata store's URL)."""
        from dockyard.db.engine import Database

        options = self._config(CORE_KINDS["metadata_store"])
        options.pop("flavor", None)
        url = options.pop("url", None)
        if not url:
            raise StackError(
                f"Stack {self.name!r}: the metadata_store needs a 'url' (the database every "
                "store of the stack uses), e.g. sqlite:///metadata.db."
            )
        return Database(str(url), **options)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes of several contexts' stores inside this block are one transaction
        (every SQL store of the stack shares :attr:`database`)."""
        with self.database.transaction():
            yield

    def components_implementing(self, protocol: type) -> list[Any]:
        """Every installed kind's component whose port implements ``protocol`` (built
        on demand); e.g. the users of model versions the registry asks before a delete."""
        found = []
        for kind in all_kinds().values():
            port = _port(kind)
            if isinstance(port, type) and issubclass(port, protocol):
                found.append(self.component(kind.name))
        return found

    @cached_property
    def materializers(self) -> MaterializerRegistry:
        from dockyard.artifacts.materializers.registry import MaterializerRegistry

        return MaterializerRegistry()

    def close(self) -> None:
        """Close every component built so far, then the database."""
        with self._lock:
            built, self._built = self._built, {}
            for component in built.values():
                close = getattr(component, "close", None)
                if callable(close):
                    close()
            database = self.__dict__.pop("database", None)
            if database is not None:
                database.close()

    def __repr__(self) -> str:
        return f"<Stack {self.name}>"


def build_component(kind: ComponentKind, options: dict[str, Any]) -> Any:
    """Instantiate one component from its config (``flavor`` plus options).

    Raises:
        StackError: no flavor, bad options, or the plug-in does not implement the port.
    """
    options = dict(options)
    flavor = options.pop("flavor", None)
    if not flavor:
        raise StackError(f"The {kind.name} config needs a 'flavor'.")
    cls = _plugins.load(kind.group, flavor)
    try:
        component = cls(**options)
    except (TypeError, ValueError) as exc:
        raise StackError(
            f"Bad options for {kind.name} {flavor!r}: {exc}. Fix it in .dockyard/config.yaml."
        ) from None
    port = _port(kind)
    if not isinstance(component, port):
        raise StackError(
            f"The {kind.name} plug-in {flavor!r} ({cls.__module__}.{cls.__qualname__}) does "
            f"not implement {port.__module__}.{port.__qualname__}."
        )
    return component


def _port(kind: ComponentKind) -> type:
    import importlib

    module, _, name = kind.port.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


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
