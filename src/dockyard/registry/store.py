"""The registry's port: model versions and aliases, as frozen records.

Example::

    db = Database("sqlite:///:memory:")
    artifact = SqlMetadataStore(db).record_artifact(draft)
    store = SqlRegistryStore(db)
    v1 = store.create_model_version("churn", artifact_id=artifact.id, metrics={"auc": 0.91})
    store.set_alias("churn", "production", v1.version)
    assert store.resolve_alias("churn", "production") == 1

The registry never reads another context's records: which versions a deployment serves
is asked of whoever implements :class:`VersionUsers` (the rollout context's store).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from dockyard.registry.signature import Signature

__all__ = ["ModelRegistryStore", "ModelSummary", "ModelVersionRecord", "VersionUsers"]


@dataclass(frozen=True, slots=True)
class ModelVersionRecord:
    """One registered version of a model.

    Attributes:
        name: the model's name (``churn``).
        version: its number, 1, 2, ... per model.
        artifact_id: the stored model object (an artifact of the metadata context).
        run_id, step: the run and step that produced it, when registered in a step.
        metrics: numbers to compare versions by.
        signature: the inputs it takes and the output it gives, when known.
        requirements: Python and library versions needed to load it again.
        aliases: the aliases pointing at it (``production``...).
    """

    name: str
    version: int
    artifact_id: str
    run_id: str | None
    step: str | None
    metrics: dict[str, Any]
    signature: Signature | None
    requirements: dict[str, Any]
    description: str | None
    created_at: datetime
    aliases: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> str:
        """``name:version``, the reference that names exactly this version."""
        return f"{self.name}:{self.version}"


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """A model as ``dockyard models list`` shows it."""

    name: str
    latest_version: int
    versions: int
    aliases: dict[str, int]
    updated_at: datetime


@runtime_checkable
class VersionUsers(Protocol):
    """Something outside the registry that uses model versions (deployments, jobs...).

    The registry asks it before deleting a version, so a version in use is never
    deleted from under its users.
    """

    def versions_in_use(self, model: str) -> Mapping[int, Sequence[str]]:
        """Version -> who uses it (e.g. ``{3: ["deployment churn-api"]}``)."""
        ...


class ModelRegistryStore(ABC):
    """Port for the registry's records. Versions are numbered 1, 2, ... per model, and
    a number is never given twice, even after its version was deleted (a pinned
    ``churn:3`` must never come to name another model).

    Implementations must be thread-safe, and safe across processes sharing the data:
    concurrent registrations get distinct numbers, concurrent alias moves all succeed,
    and a delete racing an alias move ends one way or the other with a registry error.
    """

    flavor: ClassVar[str] = ""

    @abstractmethod
    def create_model_version(
        self,
        name: str,
        *,
        artifact_id: str,
        run_id: str | None = None,
        step: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        signature: Signature | None = None,
        requirements: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersionRecord:
        """Record the next version of ``name`` for a recorded artifact: one above the
        highest number ever given to ``name``.

        Raises:
            RegistryError: the name breaks :func:`~dockyard.registry.refs.check_model_name`.
            RecordNotFoundError: no such artifact (or run) is recorded.
        """

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
        """Point ``alias`` at ``version`` (moving it from any other version), atomically.

        Raises:
            RegistryError: the alias breaks :func:`~dockyard.registry.refs.check_alias`.
            ModelNotFoundError: no such model or version.
        """

    @abstractmethod
    def remove_alias(self, name: str, alias: str) -> None:
        """Remove an alias; ModelNotFoundError when the model has no such alias."""

    @abstractmethod
    def resolve_alias(self, name: str, alias: str) -> int:
        """The version ``alias`` points at; raises ModelNotFoundError."""

    @abstractmethod
    def update_model_version(
        self,
        name: str,
        version: int,
        *,
        signature: Signature | None = None,
        description: str | None = None,
    ) -> ModelVersionRecord:
        """Edit what the user may edit: the signature and the description."""

    @abstractmethod
    def delete_model_version(self, name: str, version: int) -> None:
        """Delete a version; its number is not given again.

        Raises:
            RegistryError: an alias points at it.
            ModelNotFoundError: no such model or version.
        """

    def describe(self) -> dict[str, Any]:
        """Config that recreates this store, secrets masked."""
        return {"flavor": self.flavor}

    def close(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Release connections."""
