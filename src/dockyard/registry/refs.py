"""Model references: ``churn`` (latest), ``churn:3`` (a version), ``churn@production`` (an alias)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.errors import RegistryError
from dockyard.registry.store import ModelRegistryStore, ModelVersionRecord

#: The one rule for model names and aliases: what a reference can spell, in a name the
#: registry's column holds (255), not starting with '-' (read as a CLI option) or '.'.
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}"
_NAME_RE = re.compile(_NAME)
_REF = re.compile(rf"(?P<name>{_NAME})(?::(?P<version>[0-9]+)|@(?P<alias>{_NAME}))?")
_RULE = (
    "use letters, digits, '_', '.' or '-' (ASCII only; 1 to 255 characters, the first a "
    "letter or digit)"
)


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 60 else f"{value[:57]!r}... ({len(value)} characters)"


def check_model_name(name: str) -> str:
    """Return ``name`` if it can name a model: what ``NAME``, ``NAME:VERSION`` and
    ``NAME@ALIAS`` references spell, and what every store can hold.

    Raises:
        RegistryError: the name breaks the rule; the message names it and the rule.
    """
    if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
        shown = _shown(name) if isinstance(name, str) else f"{name!r} (a {type(name).__name__})"
        raise RegistryError(f"Invalid model name {shown}: {_RULE} (e.g. churn, churn-v2).")
    return name


def check_alias(alias: str) -> str:
    """Return ``alias`` if it can name an alias (the model-name rule, and not a number,
    which would read as a version).

    Raises:
        RegistryError: the alias breaks the rule; the message names it and the rule.
    """
    if not isinstance(alias, str) or _NAME_RE.fullmatch(alias) is None:
        shown = _shown(alias) if isinstance(alias, str) else repr(alias)
        raise RegistryError(f"Invalid alias {shown}: {_RULE} (e.g. production, staging).")
    if alias.isdigit():
        raise RegistryError(f"Invalid alias {alias!r}: an alias cannot be a number.")
    return alias


@dataclass(frozen=True, slots=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        match = _REF.fullmatch(text.strip())
        if match is None:
            raise RegistryError(
                f"Invalid model reference {text!r}. Use NAME (latest version), NAME:VERSION "
                f"(e.g. churn:3) or NAME@ALIAS (e.g. churn@production)."
            )
        version = match.group("version")
        return cls(match.group("name"), int(version) if version else None, match.group("alias"))

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def resolve(ref: str | ModelRef, store: ModelRegistryStore) -> ModelVersionRecord:
    """The model version a reference names (ModelNotFoundError when there is none)."""
    ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
    if ref.version is not None:
        return store.get_model_version(ref.name, ref.version)
    if ref.alias is not None:
        return store.get_model_version(ref.name, store.resolve_alias(ref.name, ref.alias))
    return store.list_model_versions(ref.name)[-1]
