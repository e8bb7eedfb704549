"""Model references: ``churn`` (latest), ``churn:3`` (a version), ``churn@production`` (an alias)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.errors import RegistryError
from dockyard.registry.store import ModelRegistryStore, ModelVersionRecord

_REF = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)(?::(?P<version>\d+)|@(?P<alias>[A-Za-z0-9_.\-]+))?$"
)


@dataclass(frozen=True, slots=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        match = _REF.match(text.strip())
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
