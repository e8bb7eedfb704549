"""Pick the materializer for a value, by walking its class's MRO.

The registry holds one instance of every materializer installed under the
``dockyard.materializers`` entry point group (loaded on first use), plus any added with
:meth:`MaterializerRegistry.register`. Matching is by qualified class name, so asking
about a DataFrame never imports pandas here.

Example::

    registry = MaterializerRegistry()
    m = registry.for_object({"a": 1})          # the JSON materializer
    value = m.load(m.save({"a": 1}), "builtins.dict")

Selection: walk ``type(obj).__mro__``; at each class take the materializers naming it,
highest ``priority`` first (then the most recently registered); the first whose
``can_save(obj)`` is true wins. The cloudpickle fallback names ``builtins.object`` with
the lowest priority, so it is tried last.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from dockyard import _plugins
from dockyard.artifacts.materializers.base import Materializer, qualified_name
from dockyard.errors import NoMaterializerError

GROUP = "dockyard.materializers"


class MaterializerRegistry:
    """The installed materializers, and the choice of one per value. Thread-safe."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._load_entry_points = load_entry_points
        self._loaded = not load_entry_points
        self._lock = threading.RLock()
        # name -> (registration order, instance); a later register() of a name replaces it.
        self._by_name: dict[str, tuple[int, Materializer]] = {}
        self._counter = 0
        self._by_type_name: dict[str, list[Materializer]] = {}
        self._candidates: dict[type, list[Materializer]] = {}

    # -- building ------------------------------------------------------------------------

    def register(self, cls: type[Materializer] | Materializer) -> Materializer:
        """Add a materializer (a class, instantiated without arguments, or an instance).

        A materializer registered later wins over an earlier one of the same priority
        matching at the same class, and replaces one of the same ``name``.
        """
        self._ensure_loaded()
        with self._lock:
            return self._add(cls)

    def _add(self, cls: type[Materializer] | Materializer) -> Materializer:
        instance = cls() if isinstance(cls, type) else cls
        if not isinstance(instance, Materializer):
            raise TypeError(
                f"{cls!r} is not a dockyard.artifacts.Materializer; subclass it to register."
            )
        name = getattr(instance, "name", "")
        if not name or not instance.type_names:
            raise TypeError(
                f"Materializer {type(instance).__qualname__} needs a name and type_names "
                f"(qualified class names such as 'pandas.DataFrame')."
            )
        self._counter += 1
        self._by_name[name] = (self._counter, instance)
        self._reindex()
        return instance

    def _reindex(self) -> None:
        index: dict[str, list[tuple[int, int, Materializer]]] = {}
        for order, m in self._by_name.values():
            for type_name in m.type_names:
                index.setdefault(type_name, []).append((m.priority, order, m))
        self._by_type_name = {
            t: [m for _, _, m in sorted(ms, key=lambda e: (e[0], e[1]), reverse=True)]
            for t, ms in index.items()
        }
        self._candidates = {}

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            for name in _plugins.available(GROUP):
                try:
                    self._add(_plugins.load(GROUP, name))
                except Exception as exc:  # one broken plug-in must not stop every save
                    warnings.warn(
                        f"Materializer plug-in {name!r} ({GROUP}) could not be loaded and "
                        f"is skipped: {type(exc).__name__}: {exc}",
                        RuntimeWarning,
                        stacklevel=3,
                    )
            self._loaded = True

    # -- using ---------------------------------------------------------------------------

    def _candidates_for(self, cls: type) -> list[Materializer]:
        found = self._candidates.get(cls)
        if found is None:
            found = []
            for klass in cls.__mro__:
                found.extend(self._by_type_name.get(qualified_name(klass), ()))
            self._candidates[cls] = found
        return found

    def for_object(self, obj: Any) -> Materializer:
        """The materializer that will save ``obj``.

        Raises:
            NoMaterializerError: none of the installed materializers can save it.
        """
        self._ensure_loaded()
        candidates = self._candidates_for(type(obj))
        refusals: list[str] = []
        for m in candidates:
            if m.can_save(obj):
                return m
            reason = getattr(m, "refusal_reason", lambda: None)()
            if reason:
                refusals.append(f"{m.name}: {reason}")
        type_name = qualified_name(type(obj))
        tried = ", ".join(m.name for m in candidates) or "none matched"
        detail = f" ({'; '.join(refusals)})" if refusals else ""
        raise NoMaterializerError(
            f"No materializer can save a value of type {type_name} (tried: {tried}){detail}. "
            f"Return a value that can be serialised from the step, or add a materializer: "
            f"subclass dockyard.artifacts.Materializer with type_names=({type_name!r},) and "
            f"register it under the entry point group {GROUP!r} in your package's "
            f"pyproject.toml (or call MaterializerRegistry.register)."
        )

    def get(self, name: str) -> Materializer:
        """The materializer registered as ``name`` (as recorded with an artifact).

        Raises:
            NoMaterializerError: no materializer of that name is installed.
        """
        self._ensure_loaded()
        entry = self._by_name.get(name)
        if entry is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise NoMaterializerError(
                f"No materializer named {name!r} is installed (installed: {known}). The "
                f"artifact was written with a plug-in missing here: install the package "
                f"that provides it (entry point group {GROUP!r})."
            )
        return entry[1]

    def names(self) -> list[str]:
        """Names of the registered materializers, sorted."""
        self._ensure_loaded()
        return sorted(self._by_name)

    def fingerprint(self) -> str:
        """``name:version`` of every materializer, sorted: part of each step's cache key.

        Bumping a materializer's version (a new byte format) changes it, so cached
        artifacts written in the old format are not reused.
        """
        self._ensure_loaded()
        return ",".join(f"{n}:{self._by_name[n][1].version}" for n in sorted(self._by_name))
