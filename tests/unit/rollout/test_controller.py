"""The rollout controller on a real store: routes, events, alias, resume after a restart.

The state machine's rules are in test_machine.py; these tests check that the controller
carries its decisions out (route table, stored state and events, the model alias) and
that a controller started on the stored state carries on where the last one was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from dockyard.db.engine import Database
from dockyard.metadata.base import ArtifactDraft
from dockyard.metadata.sql_store import SqlMetadataStore
from dockyard.registry.sql_store import SqlRegistryStore
from dockyard.rollout.controller import Controller
from dockyard.rollout.machine import RolloutState, new_rollout
from dockyard.rollout.metrics import RolloutMetrics
from dockyard.rollout.spec import RolloutSpec
from dockyard.rollout.sql_store import SqlDeploymentStore
from dockyard.rollout.target import DeployTarget


def canary(**kw: Any) -> RolloutSpec:
    return RolloutSpec.from_cli(strategy="canary", steps="10,25,50,100", interval="30s", **kw)


def stable_state(version: int = 3) -> RolloutState:
    return RolloutState(model="churn", stable=version, phase="completed", rollout=1)


def kinds(decisions: list[Any]) -> list[str]:
    return [d.kind for d in decisions]


class FakeTarget(DeployTarget):
    """Every wanted version is instantly ready; remembers what it was asked."""

    def __init__(self) -> None:
        self.running: dict[int, int] = {}
        self.adopted: dict[str, object] = {}

    def adopt(self, backends: Any) -> None:
        self.adopted = dict(backends)
        self.running = {int(v): int(info["port"]) for v, info in backends.items()}

    def reconcile(
        self, model: str, wanted: list[int], *, trust_pickle: bool = False, replicas: int = 1
    ) -> None:
        self.running = {v: self.running.get(v, 9000 + v) for v in wanted}

    def is_ready(self, version: int) -> bool:
        return version in self.running

    def url(self, version: int) -> str | None:
        port = self.running.get(version)
        return f"http://127.0.0.1:{port}" if port else None

    def record(self) -> dict[str, dict[str, int]]:
        return {str(v): {"port": p, "pid": 1} for v, p in self.running.items()}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Stores(NamedTuple):
    deployments: SqlDeploymentStore
    registry: SqlRegistryStore


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    database = Database(f"sqlite:///{tmp_path}/metadata.db")
    runs, registry = SqlMetadataStore(database), SqlRegistryStore(database)
    for version in range(1, 5):
        draft = ArtifactDraft(f"file:///m{version}", f"{version:064x}", 1, "x.M", "builtins", "1")
        registry.create_model_version("churn", artifact_id=runs.record_artifact(draft).id)
    yield Stores(SqlDeploymentStore(database), registry)
    database.close()


def feed(metrics: RolloutMetrics, version: str, n: int, *, errors: int = 0) -> None:
    for i in range(n):
        metrics.record(version, latency_ms=2.0, error=i < errors, predictions=[i % 2])


def test_runner_drives_routes_records_events_and_resumes(stores: Stores) -> None:
    store = stores.deployments
    spec = RolloutSpec.from_cli(
        strategy="canary", steps="10,50,100", interval="10s", max_error_rate=0.05, min_requests=20
    )
    first, _ = new_rollout(stable_state(), "churn", 4, spec, 0.0)
    store.create_deployment("api", port=8080, state=first.to_dict())
    clock, metrics = Clock(), RolloutMetrics()
    ctl = Controller("api", store, stores.registry, metrics, FakeTarget(), clock=clock)
    ctl.load()
    assert kinds(ctl.tick()) == ["ready", "advance"]
    assert ctl.routes is not None and ctl.routes().weight == 10.0
    assert ctl.routes().candidate is not None and ctl.routes().candidate.url.endswith(":9004")

    clock.now += 10
    feed(metrics, "4", 5)
    feed(metrics, "3", 50)
    assert kinds(ctl.tick()) == ["wait"]  # 5 requests are not evidence
    status = RolloutState.from_dict(store.get_deployment("api").state)
    assert status.inconclusive == 1 and "enough evidence" in status.next_decision

    clock.now += 2
    feed(metrics, "4", 30)
    assert kinds(ctl.tick()) == ["advance"]
    assert ctl.routes().weight == 50.0

    # The controller dies; a new one on the same store carries on at 50%.
    fresh = Controller("api", store, stores.registry, RolloutMetrics(), FakeTarget(), clock=clock)
    resumed = fresh.load()
    assert (resumed.phase, resumed.weight, resumed.step_index) == ("progressing", 50.0, 1)
    target = fresh.target
    assert isinstance(target, FakeTarget) and target.adopted.keys() == {"3", "4"}
    assert fresh.tick() == []
    assert fresh.routes is not None and fresh.routes().weight == 50.0

    clock.now += 10
    feed(fresh.metrics, "4", 25)
    feed(fresh.metrics, "3", 25)
    assert kinds(fresh.tick()) == ["complete", "alias"]
    assert stores.registry.resolve_alias("churn", "production") == 4
    events = [e.kind for e in store.list_events("api")]
    assert events == ["ready", "advance", "wait", "advance", "complete", "alias"]
    final = RolloutState.from_dict(store.get_deployment("api").state)
    assert final.alias_moved and final.stable == 4


def test_runner_takes_an_abort_on_the_next_tick(stores: Stores) -> None:
    store = stores.deployments
    first, _ = new_rollout(stable_state(), "churn", 4, canary(), 0.0)
    store.create_deployment("api", port=8080, state=first.to_dict())
    ctl = Controller("api", store, stores.registry, RolloutMetrics(), FakeTarget(), clock=Clock())
    ctl.load()
    ctl.tick()
    assert ctl.routes is not None and ctl.routes().weight == 10.0
    store.set_command("api", {"kind": "abort"})
    assert kinds(ctl.tick()) == ["abort"]
    assert ctl.routes().candidate is None and ctl.routes().weight == 0.0
    assert store.get_deployment("api").command is None


def test_runner_rolls_back_on_errors(stores: Stores) -> None:
    store = stores.deployments
    spec = RolloutSpec.from_cli(
        strategy="canary", interval="5s", max_error_rate=0.01, min_requests=20
    )
    first, _ = new_rollout(stable_state(), "churn", 4, spec, 0.0)
    store.create_deployment("api", port=8080, state=first.to_dict())
    clock, metrics = Clock(), RolloutMetrics()
    ctl = Controller("api", store, stores.registry, metrics, FakeTarget(), clock=clock)
    ctl.load()
    ctl.tick()
    feed(metrics, "4", 50, errors=10)
    feed(metrics, "3", 50)
    clock.now += 5
    assert kinds(ctl.tick()) == ["rollback"]
    assert ctl.routes is not None and ctl.routes().candidate is None
    history = store.list_events("api")
    assert history[-1].figures["candidate_errors"] == 10
