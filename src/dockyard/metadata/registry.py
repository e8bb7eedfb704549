"""The ModelRegistryStore port: model versions and aliases, as frozen records.

Example::

    store = SqlMetadataStore("sqlite:///:memory:")
    v1 = store.create_model_version("churn", artifact=draft, metrics={"auc": 0.91})
    store.set_alias("churn", "production", v1.version)
    assert store.resolve_alias("churn", "production") == 1
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dockyard.metadata.base import ArtifactDraft


@dataclass(frozen=True, slots=True)
class ModelVersionRecord:
    name: str
    version: int
    artifact_id: str
    run_id: str | None
    step: str | None
    metrics: dict[str, Any]
    signature: dict[str, Any] | None
    requirements: dict[str, Any]
    description: str | None
    created_at: datetime
    aliases: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True, slots=True)
class ModelSummary:
    name: str
    latest_version: int
    versions: int
    aliases: dict[str, int]
    updated_at: datetime


class ModelRegistryStore(ABC):
    """Port for the registry's records. Versions are numbered 1, 2, ... per model."""

    @abstractmethod
    def create_model_version(
        self,
        name: str,
        *,
        artifact: ArtifactDraft | str,
        run_id: str | None = None,
        step: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        signature: Mapping[str, Any] | None = None,
        requirements: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersionRecord:
        """Record the next version of ``name`` (the artifact is recorded if new)."""

    @abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersionRecord:
        """Raises ModelNotFoundError for an unknown model or version."""

    @abstractmethod
    def list_model_versions(self, name: str) -> list[ModelVersionRecord]:
        """Oldest first; raises ModelNotFoundError for an unknown model."""

    @abstractmethod
    def list_models(self) -> list[ModelSummary]:
        """Every model, by name."""

    @abstractmethod
    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version`` (moving it from any other version)."""

    @abstractmethod
    def remove_alias(self, name: str, alias: str) -> None: ...

    @abstractmethod
    def resolve_alias(self, name: str, alias: str) -> int:
        """The version ``alias`` points at; raises ModelNotFoundError."""

    @abstractmethod
    def update_model_version(
        self,
        name: str,
        version: int,
        *,
        signature: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersionRecord:
        """Edit what the user may edit: the signature and the description."""

    @abstractmethod
    def delete_model_version(self, name: str, version: int) -> None:
        """Raises RegistryError while an alias points at it."""
