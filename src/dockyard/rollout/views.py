"""What a deployment is doing now, as typed records: ``status(name)`` and ``history(name)``.

Every front end (the CLI's ``rollout status``, a dashboard, a script) reads a rollout
through these two functions, so none of them computes anything the others would have to
copy::

    from dockyard.rollout import status

    now = status("churn-api")
    print(now.phase, now.weight)
    for v in now.versions:
        print(v.role, v.ref, v.requests, v.error_rate, v.p99_ms, v.divergence)
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.rollout.machine import RolloutState

if TYPE_CHECKING:
    from dockyard.rollout.store import RolloutEventRecord
    from dockyard.stacks.stack import Stack

__all__ = ["DeploymentStatus", "VersionStatus", "history", "status"]

#: The live figures the gateway reports per version.
_FIGURES = ("requests", "errors", "error_rate", "p50_ms", "p99_ms", "agreement_rate")


@dataclass(frozen=True)
class VersionStatus:
    """One version behind the gateway, with its live figures (None while unknown).

    Attributes:
        role: ``stable``, ``candidate`` or ``shadow``.
        weight: percent of traffic (stable and candidate); ``mirror`` for a shadow.
        divergence: Jensen-Shannon distance of its predictions from stable's.
    """

    role: str
    version: int
    ref: str
    weight: float | None = None
    mirror: float | None = None
    requests: int | None = None
    errors: int | None = None
    error_rate: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    agreement_rate: float | None = None
    divergence: float | None = None


@dataclass(frozen=True)
class DeploymentStatus:
    """A deployment's rollout as it stands: phase, step, weights, live figures.

    Attributes:
        step: the canary step (1-based) while progressing, else None.
        last_verdict: the last analysis (``outcome``, ``reason``, figures).
        next_decision: what the controller will decide next, in words.
        window_s: seconds of traffic in the current analysis window (live).
        last_decision: the newest recorded decision.
        gateway_up: the gateway answered (live figures are present).
    """

    name: str
    url: str
    model: str
    phase: str
    strategy: str
    stable: int | None
    candidate: int | None
    step: int | None
    steps: tuple[float, ...]
    weight: float
    mirror: float
    failures: int
    inconclusive: int
    last_verdict: dict[str, Any] | None
    next_decision: str
    next_check_in_s: float | None
    window_s: float | None
    versions: tuple[VersionStatus, ...]
    agent_pid: int | None
    agent_alive: bool
    gateway_up: bool
    last_decision: RolloutEventRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``dockyard rollout status --json``)."""
        data = dataclasses.asdict(self)
        data["steps"] = list(self.steps)
        data["agent"] = {"pid": data.pop("agent_pid"), "alive": data.pop("agent_alive")}
        if self.last_decision is not None:
            e = self.last_decision
            data["last_decision"] = {
                "id": e.id,
                "kind": e.kind,
                "reason": e.reason,
                "figures": dict(e.figures),
                "at": e.created_at.isoformat() if e.created_at else None,
            }
        return data


def _stack(stack: str | Stack | None) -> Stack:
    from dockyard.stacks.stack import Stack, load_stack

    return stack if isinstance(stack, Stack) else load_stack(stack)


def gateway_figures(stack: Stack, name: str, timeout_s: float = 1.0) -> dict[str, Any] | None:
    """The gateway's live figures (over its control socket), None when it does not answer."""
    from dockyard.errors import RolloutError
    from dockyard.rollout.gateway_process import GatewayClient

    with GatewayClient.for_deployment(stack, name, timeout_s=timeout_s) as client:
        try:
            return client.figures()
        except RolloutError:
            return None


def status(name: str, *, stack: str | Stack | None = None, live: bool = True) -> DeploymentStatus:
    """The deployment ``name`` now: its stored rollout state plus the gateway's figures.

    Args:
        live: ask the gateway for per-version figures (False: stored state only).

    Raises:
        RecordNotFoundError: no deployment of that name.
    """
    from dockyard.rollout.analysis import prediction_divergence
    from dockyard.rollout.metrics import VersionSnapshot
    from dockyard.rollout.processes import agent_alive

    s = _stack(stack)
    store = s.deployment_store
    record = store.get_deployment(name)
    state = RolloutState.from_dict(record.state)
    figures = gateway_figures(s, name) if live else None
    per_version = (figures or {}).get("versions", {})
    routes = state.routes()
    stable_data = per_version.get(str(state.stable))
    stable_snap = VersionSnapshot.from_dict(stable_data) if stable_data else None
    versions = []
    for role, version in (
        ("stable", state.stable),
        ("candidate", routes["candidate"]),
        ("shadow", routes["shadow"]),
    ):
        if version is None:
            continue
        data = per_version.get(str(version), {})
        divergence = None
        if role != "stable" and data and stable_snap is not None:
            divergence = prediction_divergence(stable_snap, VersionSnapshot.from_dict(data))
        versions.append(
            VersionStatus(
                role=role,
                version=version,
                ref=f"{state.model}:{version}",
                weight=(
                    100.0 - routes["weight"]
                    if role == "stable"
                    else routes["weight"]
                    if role == "candidate"
                    else None
                ),
                mirror=routes["mirror"] if role == "shadow" else None,
                divergence=divergence,
                **{key: data.get(key) for key in _FIGURES},
            )
        )
    events = store.list_events(name, limit=1)
    now = time.time()
    spec = state.rollout_spec
    return DeploymentStatus(
        name=record.name,
        url=f"http://{record.host}:{record.port}",
        model=state.model,
        phase=state.phase,
        strategy=spec.strategy,
        stable=state.stable,
        candidate=state.candidate,
        step=state.step_index + 1 if state.phase == "progressing" else None,
        steps=tuple(spec.steps),
        weight=routes["weight"],
        mirror=routes["mirror"],
        failures=state.failures,
        inconclusive=state.inconclusive,
        last_verdict=dict(state.last_verdict) if state.last_verdict else None,
        next_decision=state.next_decision,
        next_check_in_s=(
            max(0.0, state.next_check_at - now) if state.next_check_at is not None else None
        ),
        window_s=(figures or {}).get("window_s"),
        versions=tuple(versions),
        agent_pid=record.agent_pid,
        agent_alive=agent_alive(record),
        gateway_up=figures is not None,
        last_decision=events[-1] if events else None,
    )


def history(
    name: str, *, limit: int = 100, stack: str | Stack | None = None
) -> list[RolloutEventRecord]:
    """Every decision of the deployment ``name``, oldest first (the newest ``limit``).

    Raises:
        RecordNotFoundError: no deployment of that name.
    """
    return _stack(stack).deployment_store.list_events(name, limit=limit)
