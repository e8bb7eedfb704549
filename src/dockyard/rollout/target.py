"""The DeployTarget port: where a deployment's model versions run.

The controller (:class:`~dockyard.rollout.controller.Controller`) decides *which*
versions must run and how traffic is split; a deploy target makes them run and says
where each one answers. The first adapter is the local
:class:`~dockyard.rollout.supervisor.Supervisor` (one ``dockyard serve`` process per
version on this machine); a Kubernetes target implements the same five calls over
Deployments and Services.

Every call is made from the controller's tick and must return quickly (start things,
never wait for them)::

    class PrintTarget(DeployTarget):
        def __init__(self):
            self.running = {}

        def reconcile(self, model, wanted, *, trust_pickle=False, replicas=1):
            self.running = {v: f"http://{model}-{v}.local" for v in wanted}

        def is_ready(self, version):
            return version in self.running

        def url(self, version):
            return self.running.get(version)

        def record(self):
            return {str(v): {"url": u} for v, u in self.running.items()}

        def adopt(self, backends):
            self.running.update({int(v): b["url"] for v, b in backends.items()})
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DeployTarget"]


class DeployTarget(ABC):
    """Runs the model versions of one deployment and says where each answers."""

    @abstractmethod
    def reconcile(
        self, model: str, wanted: Iterable[int], *, trust_pickle: bool = False, replicas: int = 1
    ) -> None:
        """Bring what runs in line with ``wanted`` versions of ``model``, ``replicas``
        processes (pods...) each: start what is missing, restart what died, stop what is
        no longer wanted. Never blocks long."""

    @abstractmethod
    def is_ready(self, version: int) -> bool:
        """Whether ``version`` is up and passes its readiness check."""

    @abstractmethod
    def url(self, version: int) -> str | None:
        """The base URL ``version`` answers on (None while it has none)."""

    def urls(self, version: int) -> list[str]:
        """Every base URL ``version`` answers on (its replicas); default: :meth:`url`."""
        url = self.url(version)
        return [url] if url else []

    @abstractmethod
    def record(self) -> dict[str, dict[str, Any]]:
        """What the controller stores so a restarted one can :meth:`adopt` it
        (JSON-ready, by version: ``{"3": {"port": 8001, "pid": 123}}``)."""

    @abstractmethod
    def adopt(self, backends: Mapping[str, Mapping[str, Any]]) -> None:
        """Take over what an earlier controller recorded, keeping what still answers."""

    def stop_all(self) -> None:  # noqa: B027 - a target whose versions outlive it needs nothing
        """Stop every version (the deployment is going down)."""
