"""The project config (``.dockyard/config.yaml``): stacks and which one is active.

::

    active_stack: default
    stacks:
      default:
        orchestrator: {flavor: local}
        artifact_store: {flavor: local, path: artifacts}        # relative to .dockyard/
        metadata_store: {flavor: sql, url: sqlite:///metadata.db}
      team:
        orchestrator: {flavor: local-parallel, workers: 4}
        artifact_store: {flavor: fsspec, path: s3://ml-bucket/artifacts}
        metadata_store: {flavor: sql, url: postgresql+psycopg://ml@db/dockyard}
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import ConfigError, StackError, UnknownStackError
from dockyard.settings import CONFIG_DIR
from dockyard.stacks.kinds import CORE_KINDS

#: The kinds every stack names (the others have defaults).
COMPONENT_TYPES = tuple(CORE_KINDS)
DEFAULT_STACK = "default"
DEFAULT_STACK_CONFIG: dict[str, dict[str, Any]] = {
    name: dict(kind.default or {}) for name, kind in CORE_KINDS.items()
}


@dataclass
class ProjectConfig:
    root: Path
    active_stack: str = DEFAULT_STACK
    stacks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.root / CONFIG_DIR

    @property
    def path(self) -> Path:
        return self.dir / "config.yaml"

    @classmethod
    def load(cls, root: Path) -> ProjectConfig:
        import yaml

        path = root / CONFIG_DIR / "config.yaml"
        if not path.is_file():
            return cls(root=root, stacks={DEFAULT_STACK: copy.deepcopy(DEFAULT_STACK_CONFIG)})
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("stacks", {}), dict):
            raise ConfigError(f"{path} must be a mapping with a 'stacks' mapping.")
        stacks = data.get("stacks") or {}
        stacks.setdefault(DEFAULT_STACK, copy.deepcopy(DEFAULT_STACK_CONFIG))
        return cls(root=root, active_stack=data.get("active_stack", DEFAULT_STACK), stacks=stacks)

    def save(self) -> None:
        import yaml

        self.dir.mkdir(parents=True, exist_ok=True)
        body = {"active_stack": self.active_stack, "stacks": self.stacks}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(body, sort_keys=False))
        tmp.replace(self.path)

    def stack(self, name: str) -> dict[str, dict[str, Any]]:
        try:
            return self.stacks[name]
        except KeyError:
            raise UnknownStackError(
                f"Unknown stack {name!r}. Stacks: {', '.join(sorted(self.stacks))}. "
                f"Create it with: dockyard stack register {name} ..."
            ) from None

    def register(self, name: str, components: dict[str, dict[str, Any]]) -> None:
        for kind in COMPONENT_TYPES:
            if kind not in components or "flavor" not in components[kind]:
                raise StackError(f"Stack {name!r} needs a {kind} with a flavor.")
        self.stacks[name] = components

    def delete(self, name: str) -> None:
        self.stack(name)
        if name == DEFAULT_STACK:
            raise StackError("The default stack cannot be deleted.")
        if name == self.active_stack:
            raise StackError(f"Stack {name!r} is active; switch first: dockyard stack use default")
        del self.stacks[name]


def resolve_paths(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make relative local paths and SQLite files relative to ``.dockyard/``."""
    out = dict(options)
    path = out.get("path")
    if isinstance(path, str) and "://" not in path and not Path(path).is_absolute():
        out["path"] = str(base / path)
    url = out.get("url")
    if isinstance(url, str) and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        file = url.removeprefix("sqlite:///")
        if not Path(file).is_absolute():
            out["url"] = f"sqlite:///{base / file}"
    return out
