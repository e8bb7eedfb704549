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
import re
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

#: A stack name is a YAML key, a CLI argument and part of default file names
#: (``metadata-NAME.db``, ``artifacts-NAME``): no path separators, spaces or leading dash.
_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def check_stack_name(name: str) -> str:
    """Return ``name`` if it can name a stack.

    Raises:
        StackError: not 1 to 64 letters, digits, '_', '.' or '-' starting with a letter
            or digit.
    """
    if not isinstance(name, str) or _STACK_NAME.fullmatch(name) is None:
        raise StackError(
            f"Invalid stack name {name!r}: use 1 to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (e.g. team, gpu-2)."
        )
    return name


def read_config_text(path: Path, *, what: str) -> str:
    """The text of a YAML file the user wrote (UTF-8, as YAML says), or a ConfigError
    naming the file and what to do.

    Raises:
        ConfigError: the file cannot be read, or is not UTF-8 text.
    """
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} {str(path)!r} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
            f"offset {exc.start}); save it as UTF-8."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}.") from None


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
            if path.exists():
                raise ConfigError(f"{path} is not a file; remove it, then run: dockyard init")
            return cls(root=root, stacks={DEFAULT_STACK: copy.deepcopy(DEFAULT_STACK_CONFIG)})
        try:
            data = yaml.safe_load(read_config_text(path, what="Project config")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("stacks") or {}, dict):
            raise ConfigError(f"{path} must be a mapping with a 'stacks' mapping.")
        stacks = data.get("stacks") or {}
        for name, components in stacks.items():
            _check_stack_shape(path, name, components)
        stacks.setdefault(DEFAULT_STACK, copy.deepcopy(DEFAULT_STACK_CONFIG))
        active = data.get("active_stack", DEFAULT_STACK)
        if not isinstance(active, str):
            raise ConfigError(f"{path}: active_stack must be a stack name, got {active!r}.")
        return cls(root=root, active_stack=active, stacks=stacks)

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
        check_stack_name(name)
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


def _check_stack_shape(path: Path, name: object, components: object) -> None:
    """A stack in the file is a non-empty mapping of kinds, each with a flavor."""
    example = "e.g. orchestrator: {flavor: local}"
    if not isinstance(name, str):
        raise ConfigError(f"{path}: stack names are text; quote {name!r} as '{name}'.")
    if not isinstance(components, dict):
        raise ConfigError(
            f"{path}: stacks.{name} must be a mapping of components ({', '.join(COMPONENT_TYPES)}"
            f"), got {type(components).__name__} {components!r}; {example}."
        )
    if not components:
        raise ConfigError(
            f"{path}: stack {name!r} has no components; give it an orchestrator, "
            f"artifact_store and metadata_store ({example}) or delete it."
        )
    for kind, options in components.items():
        flavor = options.get("flavor") if isinstance(options, dict) else None
        if not isinstance(flavor, str) or not flavor:
            default = DEFAULT_STACK_CONFIG.get(str(kind), {}).get("flavor", "NAME")
            raise ConfigError(
                f"{path}: stacks.{name}.{kind} must be a mapping with a 'flavor', got "
                f"{options!r}; e.g. {kind}: {{flavor: {default}}}."
            )


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
