"""The :class:`Controller`: carries out the rollout state machine's decisions.

The policy is :func:`dockyard.rollout.machine.decide` (pure); this module is the I/O
around it: the stored state and events, the deploy target, the metrics, the routes and
the model alias.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from dockyard.errors import DockyardError, RolloutError, StaleStateError
from dockyard.rollout.analysis import Verdict
from dockyard.rollout.machine import (
    Decision,
    RolloutState,
    analysis_config,
    decide,
    due,
)

if TYPE_CHECKING:
    from dockyard.registry.store import ModelRegistryStore
    from dockyard.rollout.metrics import MetricsSnapshot
    from dockyard.rollout.routing import RouteTable
    from dockyard.rollout.store import DeploymentStore
    from dockyard.rollout.target import DeployTarget

__all__ = ["Controller", "MetricsSource", "RoutesSink", "route_table"]

log = logging.getLogger("dockyard.rollout")


class MetricsSource(Protocol):
    """Where the controller reads the live figures it judges: the gateway's
    :class:`~dockyard.rollout.metrics.RolloutMetrics` in process, or the gateway process
    over its control socket."""

    def snapshot(self) -> MetricsSnapshot: ...

    def rotate(self) -> MetricsSnapshot: ...


class RoutesSink(Protocol):
    """Where the controller puts the route table: a
    :class:`~dockyard.rollout.routing.RouteTableRef` in process, or the gateway process."""

    def __call__(self) -> RouteTable | None: ...

    def set(self, table: RouteTable) -> RouteTable: ...


# the runner -----------------------------------------------------------------------------
class Controller:
    """Carries out the state machine for one deployment: the only part that does I/O.

    Every :meth:`tick` reads the stored state (and any operator command), lets the
    deploy target bring the wanted versions up or down, asks for a verdict when one is
    due, calls :func:`~dockyard.rollout.machine.decide`, points the route table at the result, saves the state, appends
    every decision as an event, and moves the model alias on completion. All of it is
    driven by the stored state, so a new controller on the same store resumes exactly.

    Args:
        name: The deployment.
        store: Where state and events live (the rollout context's store).
        registry: Where the model alias is moved on completion.
        metrics: The gateway's live figures.
        target: Runs the versions (the local
            :class:`~dockyard.rollout.supervisor.Supervisor`, or another
            :class:`~dockyard.rollout.target.DeployTarget`).
        routes: The gateway's table holder; created on the first table when ``None``.
        hooks: Extra analysis checks.
        clock: Seconds since the epoch (tests pass a fake one).
    """

    def __init__(
        self,
        name: str,
        store: DeploymentStore,
        registry: ModelRegistryStore,
        metrics: MetricsSource,
        target: DeployTarget,
        *,
        routes: RoutesSink | None = None,
        hooks: Iterable[Callable[..., Any]] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.store = store
        self.registry = registry
        self.metrics = metrics
        self.target = target
        self.routes = routes
        self.hooks = tuple(hooks)
        self.clock = clock
        self.revision = 0
        self.state: RolloutState | None = None
        self.down_requested = False

    # state ------------------------------------------------------------------------------
    def load(self) -> RolloutState:
        record = self.store.get_deployment(self.name)
        self.revision = record.revision
        self.state = RolloutState.from_dict(record.state)
        self.target.adopt(self.state.backends)
        return self.state

    def _save(
        self,
        state: RolloutState,
        decisions: Sequence[Decision] = (),
        *,
        clear_command: bool = False,
    ) -> bool:
        events = [(d.kind, d.reason, dict(d.figures)) for d in decisions]
        try:
            record = self.store.update_state(
                self.name,
                state.to_dict(),
                self.revision,
                events=events,
                clear_command=clear_command,
            )
        except StaleStateError:
            log.info("state of %s changed under us; reloading", self.name)
            self.load()
            return False
        self.revision = record.revision
        self.state = state
        return True

    # one iteration ----------------------------------------------------------------------
    def tick(self) -> list[Decision]:
        """Do whatever is due now; returns the decisions taken."""
        now = self.clock()
        record = self.store.get_deployment(self.name)
        if self.state is None or record.revision != self.revision:
            self.revision = record.revision
            self.state = RolloutState.from_dict(record.state)
        state = self.state
        command, command_at = None, None
        if record.command is not None:
            # Read, not taken: it is cleared with the state it leads to (one transaction),
            # so a tick that fails half-way leaves it to act on again.
            command = str(record.command.get("kind") or "") or None
            command_at = record.command.get("at")
            if command == "down":
                self.store.take_command(self.name)
                self.down_requested = True
                return []

        spec = state.rollout_spec
        self.target.reconcile(
            state.model,
            state.wanted_versions(now),
            trust_pickle=spec.trust_pickle,
            replicas=spec.replicas or 1,
        )
        ready = state.candidate is not None and self.target.is_ready(state.candidate)
        verdict = self._analyze(state) if due(state, now) else None
        new, decisions = decide(state, verdict, now, command, ready=ready)
        if command is not None and isinstance(command_at, int | float):
            # How long the operator's command took to reach the routes (abort: < 1 s).
            waited = {"command_at": command_at, "acted_after_ms": (now - command_at) * 1000}
            decisions = [dataclasses.replace(d, figures={**d.figures, **waited}) for d in decisions]
        new = new.replace(backends=self.target.record())

        self.apply_routes(new)  # first: an abort must reach traffic at once
        if any(d.new_window for d in decisions):
            try:
                self.metrics.rotate()
            except DockyardError as exc:  # the gateway is restarting: its window is new too
                log.warning("%s: could not open a new analysis window: %s", self.name, exc)
        if new != state:
            if not self._save(new, decisions, clear_command=command is not None):
                return []
        else:
            if command is not None:
                self.store.take_command(self.name)
            for decision in decisions:
                self.store.append_event(self.name, decision.kind, decision.reason, decision.figures)
        for decision in decisions:
            log.info("%s: %s: %s", self.name, decision.kind, decision.reason)
        if new.phase == "completed" and not new.alias_moved and new.stable is not None:
            decisions.append(self._move_alias(new))
        return decisions

    def _analyze(self, state: RolloutState) -> Verdict | None:
        from dockyard.rollout.analysis import analyze

        try:
            snapshot = self.metrics.snapshot()
        except DockyardError as exc:  # no figures now: no verdict this tick, never a guess
            log.warning("%s: no live figures for the analysis: %s", self.name, exc)
            return None
        stable = snapshot[str(state.stable)]
        candidate = snapshot[str(state.candidate)]
        return analyze(stable, candidate, analysis_config(state), self.hooks)

    def _move_alias(self, state: RolloutState) -> Decision:
        alias, version = state.rollout_spec.alias, state.stable
        try:
            if version is None:  # pragma: no cover - only called once a version is stable
                raise RolloutError(f"no stable version of {state.model} to point {alias} at")
            self.registry.set_alias(state.model, alias, version)
        except DockyardError as exc:  # e.g. the version was deleted: say so, go on
            decision = Decision("alias", f"could not move {state.model}@{alias}: {exc}")
        else:
            decision = Decision(
                "alias",
                f"{state.model}@{alias} now points at {state.ref(state.stable)}",
                {"alias": alias, "version": state.stable},
            )
        self._save(state.replace(alias_moved=True), [decision])
        return decision

    # effects ----------------------------------------------------------------------------
    def route_table(self, state: RolloutState | None = None) -> RouteTable | None:
        """The gateway table the state asks for; None while no stable version is up."""
        state = state or self.state
        return None if state is None else route_table(state, self.target.urls)

    def apply_routes(self, state: RolloutState) -> None:
        from dockyard.rollout.routing import RouteTableRef

        table = self.route_table(state)
        if table is None:
            return
        if self.routes is None:
            self.routes = RouteTableRef(table)
        elif self.routes() != table:
            try:
                self.routes.set(table)
            except DockyardError as exc:
                # The decision is recorded anyway: a gateway that starts again takes its
                # routes from the stored state, and the next tick pushes them again.
                log.warning("%s: could not set the gateway's routes: %s", self.name, exc)


def route_table(state: RolloutState, urls_of: Callable[[int], Sequence[str]]) -> RouteTable | None:
    """The gateway table ``state`` asks for, with each version at ``urls_of(version)``
    (its replicas); None while the stable version has none (nothing can take traffic)."""
    from dockyard.rollout.routing import Backend, RouteTable

    if state.stable is None:
        return None
    routes = state.routes()

    def backend(version: int | None) -> Backend | None:
        urls = list(urls_of(version)) if version is not None else []
        return Backend(str(version), urls[0], tuple(urls[1:])) if urls else None

    stable = backend(routes["stable"])
    if stable is None:
        return None
    candidate, shadow = backend(routes["candidate"]), backend(routes["shadow"])
    spec = state.rollout_spec
    return RouteTable(
        stable=stable,
        candidate=candidate,
        weight=routes["weight"] if candidate is not None else 0.0,
        shadow=shadow,
        mirror_percent=routes["mirror"] if shadow is not None else 0.0,
        sticky_header=spec.sticky_header,
        failover=spec.failover,
    )
