"""The rollout context's port: deployments, their rollout state, and every decision.

A deployment is a named endpoint (a gateway on a port) in front of model versions. Its
*state* is a JSON document owned by the rollout controller (opaque to every other
context); the store keeps it with a *revision* number so that two writers (the
deployment agent and an operator's ``dockyard deploy``) can never overwrite each other
unknowingly: a write names the revision it was based on, and fails with
:class:`~dockyard.errors.StaleStateError` when someone else wrote in between (optimistic
concurrency). Decisions are appended as *events*, never changed.

Operator commands (promote, abort, retry, down) travel in their own column, apart from
the state, so an operator never has to race the agent for the state's revision: the CLI
sets a command, the agent takes it (read and cleared atomically) on its next poll.

Example::

    store = SqlDeploymentStore("sqlite:///:memory:")
    dep = store.create_deployment("churn-api", port=8080, state={"phase": "starting"})
    dep = store.update_state("churn-api", {"phase": "stable"}, expected_revision=dep.revision)
    store.append_event("churn-api", "complete", "version 3 is live", {"version": 3})
    store.set_command("churn-api", {"kind": "abort"})
    assert store.take_command("churn-api") == {"kind": "abort"}
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

__all__ = ["DeploymentRecord", "DeploymentStore", "RolloutEventRecord"]


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """A deployment: its gateway address, the controller's state and its revision.

    ``command`` is the operator command waiting for the agent, if any. ``agent_pid`` and
    ``heartbeat_at`` say which agent process last reported, and when.
    """

    name: str
    host: str
    port: int
    state: dict[str, Any]
    revision: int
    created_at: datetime
    updated_at: datetime
    command: dict[str, Any] | None = None
    agent_pid: int | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RolloutEventRecord:
    """One decision of a deployment's controller, in the order it was taken."""

    id: int
    deployment: str
    kind: str
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


class DeploymentStore(ABC):
    """Port for deployments and rollout events. Implementations must be thread-safe.

    It also answers the registry's question "which versions of this model are in use?"
    (:class:`~dockyard.registry.store.VersionUsers`), so a served version is never
    deleted.
    """

    flavor: ClassVar[str] = ""

    @abstractmethod
    def create_deployment(
        self, name: str, *, port: int, host: str = "127.0.0.1", state: Mapping[str, Any]
    ) -> DeploymentRecord:
        """Record a new deployment at revision 1.

        Raises:
            RolloutError: a deployment of that name exists, or the name or port is invalid.
        """

    @abstractmethod
    def get_deployment(self, name: str) -> DeploymentRecord:
        """Raises RecordNotFoundError for an unknown name."""

    @abstractmethod
    def list_deployments(self) -> list[DeploymentRecord]:
        """Every deployment, by name."""

    @abstractmethod
    def delete_deployment(self, name: str) -> None:
        """Delete a deployment and its events; RecordNotFoundError when unknown."""

    @abstractmethod
    def update_state(
        self,
        name: str,
        state: Mapping[str, Any],
        expected_revision: int,
        *,
        events: Sequence[tuple[str, str, Mapping[str, Any]]] = (),
        clear_command: bool = False,
    ) -> DeploymentRecord:
        """Replace the state if the stored revision is ``expected_revision``, with the
        decisions that led to it and the operator command they answer, atomically.

        Args:
            events: ``(kind, reason, figures)`` decisions appended in the same
                transaction: a reader never sees the new state without its reasons.
            clear_command: the waiting operator command was acted on; it is cleared in
                the same transaction (so a failed write leaves it to act on again).

        Returns:
            The record at the new revision (``expected_revision + 1``).

        Raises:
            StaleStateError: the stored revision differs (someone wrote in between).
            RecordNotFoundError: no such deployment.
        """

    @abstractmethod
    def append_event(
        self, name: str, kind: str, reason: str, figures: Mapping[str, Any] | None = None
    ) -> RolloutEventRecord:
        """Append one decision with its reason and the figures it was based on."""

    @abstractmethod
    def list_events(self, name: str, limit: int = 100) -> list[RolloutEventRecord]:
        """The newest ``limit`` events, oldest first."""

    @abstractmethod
    def set_command(self, name: str, command: Mapping[str, Any] | None) -> None:
        """Leave an operator command for the agent (None clears a waiting one).

        Raises:
            RolloutError: another command is still waiting for the agent (two operators
                at once: the second is refused, never silently dropped).
        """

    @abstractmethod
    def take_command(self, name: str) -> dict[str, Any] | None:
        """The waiting command, cleared in the same transaction; None when there is none."""

    @abstractmethod
    def heartbeat(self, name: str, pid: int | None) -> None:
        """Record that agent ``pid`` is alive now (``None`` clears it); no new revision."""

    @abstractmethod
    def secrets(self, name: str) -> dict[str, str]:
        """The deployment's secrets (``control``: the gateway's control token, ...), {}
        when it has none. Kept apart from the record: no state, event or log has them."""

    @abstractmethod
    def set_secrets(self, name: str, secrets: Mapping[str, str]) -> None:
        """Replace the deployment's secrets."""

    @abstractmethod
    def versions_in_use(self, model: str) -> dict[int, list[str]]:
        """Versions of ``model`` that deployments serve or may serve again (stable,
        candidate), each with the deployments using it, in words a user can act on:
        ``{3: ["deployment 'churn-api' (take it down with: ...)"]}``."""

    def describe(self) -> dict[str, Any]:
        """Config that recreates this store, secrets masked."""
        return {"flavor": self.flavor}

    def close(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Release connections."""
