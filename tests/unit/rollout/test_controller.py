"""The rollout state machine, transition by transition, and its runner on a real store.

The machine is pure, so every rule is checked with a fake clock and hand-made verdicts:
what a rollout does on pass, fail and lack of evidence, what operator commands do in each
phase, and that a runner started on the stored state carries on where the last one was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import RolloutError
from dockyard.metadata.sql_store import SqlMetadataStore
from dockyard.rollout.analysis import AnalysisConfig, Outcome, Verdict
from dockyard.rollout.controller import (
    RolloutState,
    due,
    new_rollout,
    step,
)
from dockyard.rollout.metrics import RolloutMetrics
from dockyard.rollout.runner import Controller
from dockyard.rollout.spec import RolloutSpec

PASS = Verdict(Outcome.PASS, "all good", {"candidate_requests": 300})
FAIL = Verdict(Outcome.FAIL, "error rate 20% is over 1%", {"candidate_errors": 60})
WAIT = Verdict(Outcome.INCONCLUSIVE, "candidate answered 3 requests; 200 needed")


def canary(**kw: object) -> RolloutSpec:
    return RolloutSpec.from_cli(strategy="canary", steps="10,25,50,100", interval="30s", **kw)  # type: ignore[arg-type]


def stable_state(version: int = 3) -> RolloutState:
    return RolloutState(model="churn", stable=version, phase="completed", rollout=1)


def started(spec: RolloutSpec, now: float = 0.0) -> RolloutState:
    state, decisions = new_rollout(stable_state(), "churn", 4, spec, now)
    assert [d.kind for d in decisions] == ["start"]
    state, decisions = step(state, None, now, ready=True)
    return state


def kinds(decisions: list) -> list[str]:  # type: ignore[type-arg]
    return [d.kind for d in decisions]


# first deployment -----------------------------------------------------------------------
def test_first_deployment_goes_live_when_ready() -> None:
    state, decisions = new_rollout(None, "churn", 3, canary(), 0.0)
    assert state.phase == "starting" and state.stable is None and state.candidate == 3
    assert state.rollout_spec.strategy == "direct"
    same, nothing = step(state, None, 1.0, ready=False)
    assert same == state and nothing == []
    live, decisions = step(state, None, 2.0, ready=True)
    assert kinds(decisions) == ["ready", "complete"]
    assert (live.phase, live.stable, live.candidate, live.retiring) == ("completed", 3, None, ())
    assert live.alias_moved is False


# canary ---------------------------------------------------------------------------------
def test_canary_advances_through_every_step_then_completes() -> None:
    state = started(canary(), now=0.0)
    assert (state.phase, state.weight, state.step_index) == ("progressing", 10.0, 0)
    assert state.routes() == {
        "stable": 3,
        "candidate": 4,
        "weight": 10.0,
        "shadow": None,
        "mirror": 0.0,
    }
    assert not due(state, 29.9) and due(state, 30.0)
    same, nothing = step(state, PASS, 29.0)  # not due yet: a verdict is ignored
    assert same == state and nothing == []
    weights = []
    now = 30.0
    for _ in range(2):
        state, decisions = step(state, PASS, now)
        assert kinds(decisions) == ["advance"] and decisions[0].new_window
        weights.append(state.weight)
        now += 30.0
    assert weights == [25.0, 50.0]
    state, decisions = step(state, PASS, now)
    assert kinds(decisions) == ["complete"]
    assert (state.phase, state.stable, state.candidate) == ("completed", 4, None)
    assert state.retiring == ({"version": 3, "until": now + 2.0},)
    assert state.wanted_versions(now) == [4, 3]
    assert state.wanted_versions(now + 2.0) == [4]


def test_inconclusive_waits_and_never_passes() -> None:
    state = started(canary(), 0.0)
    for i in range(5):
        now = 30.0 + i * 2.0
        state, decisions = step(state, WAIT, now)
        assert kinds(decisions) == ["wait"] and not decisions[0].new_window
        assert state.phase == "progressing" and state.weight == 10.0
        assert state.inconclusive == i + 1
        assert "waiting for enough evidence" in state.next_decision
        assert state.last_verdict is not None and state.last_verdict["outcome"] == "inconclusive"
        assert state.next_check_at == now + 2.0
    state, decisions = step(state, PASS, state.next_check_at or 0)
    assert kinds(decisions) == ["advance"] and state.inconclusive == 0


def test_failure_rolls_back_at_the_failure_limit() -> None:
    state = started(canary(failure_limit=2), 0.0)
    state, decisions = step(state, FAIL, 30.0)
    assert kinds(decisions) == ["fail"] and decisions[0].new_window
    assert (state.phase, state.failures, state.weight) == ("progressing", 1, 10.0)
    state, decisions = step(state, FAIL, 60.0)
    assert kinds(decisions) == ["rollback"]
    assert "error rate 20%" in decisions[0].reason
    assert decisions[0].figures["candidate_errors"] == 60
    assert (state.phase, state.weight, state.stable, state.candidate) == ("rolled_back", 0.0, 3, 4)
    assert state.routes()["candidate"] is None
    assert state.retiring == ({"version": 4, "until": 62.0},)


def test_one_failure_rolls_back_by_default() -> None:
    state = started(canary(), 0.0)
    state, decisions = step(state, FAIL, 30.0)
    assert kinds(decisions) == ["rollback"] and state.phase == "rolled_back"


# blue/green -----------------------------------------------------------------------------
def test_bluegreen_bakes_switches_then_completes() -> None:
    spec = RolloutSpec.from_cli(strategy="bluegreen", bake="10s", interval="5s")
    state = started(spec, 0.0)
    assert (state.phase, state.weight) == ("baking", 0.0)
    assert state.wanted_versions(0.0) == [3, 4]  # green runs before it gets traffic
    same, _ = step(state, None, 9.0)
    assert same.phase == "baking"
    state, decisions = step(state, None, 10.0)
    assert kinds(decisions) == ["switch"] and state.weight == 100.0 and state.phase == "switched"
    assert state.wanted_versions(10.0) == [3, 4]  # blue stays warm
    state, decisions = step(state, PASS, 15.0)
    assert kinds(decisions) == ["complete"] and state.stable == 4


def test_bluegreen_abort_after_switch_returns_traffic_to_blue() -> None:
    state = started(RolloutSpec.from_cli(strategy="bluegreen"), 0.0)
    state, _ = step(state, None, 0.0)
    assert state.phase == "switched"
    state, decisions = step(state, None, 1.0, "abort")
    assert kinds(decisions) == ["abort"]
    assert state.routes() == {
        "stable": 3,
        "candidate": None,
        "weight": 0.0,
        "shadow": None,
        "mirror": 0.0,
    }


def test_post_switch_analysis_drops_comparisons_with_blue() -> None:
    spec = RolloutSpec.from_cli(
        strategy="bluegreen", max_error_rate=0.01, max_divergence=0.1, max_p99_ms=50
    )
    post = spec.post_switch_analysis()
    assert (post.max_error_rate, post.max_p99_ms, post.max_divergence) == (0.01, 50.0, None)
    relative = RolloutSpec.from_cli(strategy="bluegreen", max_p99_ms=1.5, relative=True)
    assert relative.post_switch_analysis().max_p99_ms is None


# shadow ---------------------------------------------------------------------------------
def test_shadow_reports_then_waits_for_promote() -> None:
    spec = RolloutSpec.from_cli(strategy="shadow", mirror=50, interval="1m")
    state = started(spec, 0.0)
    assert state.phase == "shadowing"
    assert state.routes() == {
        "stable": 3,
        "candidate": None,
        "weight": 0.0,
        "shadow": 4,
        "mirror": 50.0,
    }
    state, decisions = step(state, PASS, 60.0)
    assert kinds(decisions) == ["report"] and state.phase == "shadow_passed"
    assert not due(state, 1e9)  # never takes traffic by itself
    assert state.routes()["shadow"] == 4  # keeps mirroring until promoted
    state, decisions = step(state, None, 70.0, "promote")
    assert kinds(decisions) == ["complete"] and state.stable == 4


def test_shadow_failure_ends_it() -> None:
    state = started(RolloutSpec.from_cli(strategy="shadow"), 0.0)
    state, decisions = step(state, FAIL, 30.0)
    assert kinds(decisions) == ["rollback"] and state.routes()["shadow"] is None


# commands -------------------------------------------------------------------------------
def test_promote_skips_to_completion() -> None:
    state = started(canary(), 0.0)
    state, decisions = step(state, None, 5.0, "promote")
    assert kinds(decisions) == ["complete"] and "operator" in decisions[0].reason
    assert state.stable == 4


def test_promote_before_the_candidate_is_ready_is_rejected() -> None:
    state, _ = new_rollout(stable_state(), "churn", 4, canary(), 0.0)
    same, decisions = step(state, None, 1.0, "promote", ready=False)
    assert same == state and kinds(decisions) == ["reject"]


def test_abort_and_retry() -> None:
    state = started(canary(), 0.0)
    state, decisions = step(state, None, 5.0, "abort")
    assert kinds(decisions) == ["abort"] and state.phase == "aborted" and state.weight == 0
    same, decisions = step(state, None, 6.0, "abort")
    assert same == state and kinds(decisions) == ["reject"]
    state, decisions = step(state, None, 7.0, "retry")
    assert kinds(decisions) == ["retry"] and state.phase == "starting" and state.failures == 0
    state, decisions = step(state, None, 8.0, ready=True)
    assert state.phase == "progressing" and state.weight == 10.0


def test_retry_needs_an_ended_rollout() -> None:
    state = started(canary(), 0.0)
    same, decisions = step(state, None, 1.0, "retry")
    assert same == state and kinds(decisions) == ["reject"]
    same, decisions = step(stable_state(), None, 1.0, "retry")
    assert kinds(decisions) == ["reject"]


def test_abort_of_a_first_deployment_is_rejected() -> None:
    state, _ = new_rollout(None, "churn", 3, canary(), 0.0)
    same, decisions = step(state, None, 1.0, "abort")
    assert same == state and "no stable version" in decisions[0].reason


def test_unknown_command_is_rejected() -> None:
    state = started(canary(), 0.0)
    same, decisions = step(state, None, 1.0, "explode")
    assert same == state and kinds(decisions) == ["reject"]


# new rollouts ---------------------------------------------------------------------------
def test_a_second_rollout_while_one_is_in_progress_is_refused() -> None:
    state = started(canary(), 0.0)
    with pytest.raises(RolloutError, match="A rollout of churn:4 is in progress"):
        new_rollout(state, "churn", 5, canary(), 1.0)


def test_rolling_out_the_stable_version_or_another_model_is_refused() -> None:
    with pytest.raises(RolloutError, match="already the stable version"):
        new_rollout(stable_state(3), "churn", 3, canary(), 0.0)
    with pytest.raises(RolloutError, match="serves model 'churn'"):
        new_rollout(stable_state(3), "fraud", 1, canary(), 0.0)


def test_state_round_trips_through_json() -> None:
    import json

    state = started(canary(), 0.0)
    state, _ = step(state, WAIT, 30.0)
    again = RolloutState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    assert state.to_dict()["candidate_ref"] == "churn:4"


# the runner, on a real store ------------------------------------------------------------
class FakeSupervisor:
    """Every wanted version is instantly ready; remembers what it was asked."""

    def __init__(self) -> None:
        self.running: dict[int, int] = {}
        self.adopted: dict[str, object] = {}

    def adopt(self, backends: dict) -> None:  # type: ignore[type-arg]
        self.adopted = dict(backends)
        self.running = {int(v): int(info["port"]) for v, info in backends.items()}

    def reconcile(self, model: str, wanted: list[int], *, trust_pickle: bool = False) -> None:
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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    from dockyard.metadata import ArtifactDraft

    s = SqlMetadataStore(f"sqlite:///{tmp_path}/metadata.db")
    for version in range(1, 5):
        draft = ArtifactDraft(f"file:///m{version}", f"{version:064x}", 1, "x.M", "builtins", "1")
        s.create_model_version("churn", artifact=draft)
    yield s
    s.close()


def feed(metrics: RolloutMetrics, version: str, n: int, *, errors: int = 0) -> None:
    for i in range(n):
        metrics.record(version, latency_ms=2.0, error=i < errors, predictions=[i % 2])


def test_runner_drives_routes_records_events_and_resumes(store: SqlMetadataStore) -> None:
    spec = RolloutSpec.from_cli(
        strategy="canary", steps="10,50,100", interval="10s", max_error_rate=0.05, min_requests=20
    )
    first, _ = new_rollout(stable_state(), "churn", 4, spec, 0.0)
    store.create_deployment("api", port=8080, state=first.to_dict())
    clock, metrics = Clock(), RolloutMetrics()
    ctl = Controller("api", store, metrics, FakeSupervisor(), clock=clock)
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
    fresh = Controller("api", store, RolloutMetrics(), FakeSupervisor(), clock=clock)
    resumed = fresh.load()
    assert (resumed.phase, resumed.weight, resumed.step_index) == ("progressing", 50.0, 1)
    assert fresh.supervisor.adopted.keys() == {"3", "4"}
    assert fresh.tick() == []
    assert fresh.routes is not None and fresh.routes().weight == 50.0

    clock.now += 10
    feed(fresh.metrics, "4", 25)
    feed(fresh.metrics, "3", 25)
    assert kinds(fresh.tick()) == ["complete", "alias"]
    assert store.resolve_alias("churn", "production") == 4
    events = [e.kind for e in store.list_events("api")]
    assert events == ["ready", "advance", "wait", "advance", "complete", "alias"]
    final = RolloutState.from_dict(store.get_deployment("api").state)
    assert final.alias_moved and final.stable == 4


def test_runner_takes_an_abort_on_the_next_tick(store: SqlMetadataStore) -> None:
    first, _ = new_rollout(stable_state(), "churn", 4, canary(), 0.0)
    store.create_deployment("api", port=8080, state=first.to_dict())
    ctl = Controller("api", store, RolloutMetrics(), FakeSupervisor(), clock=Clock())
    ctl.load()
    ctl.tick()
    assert ctl.routes is not None and ctl.routes().weight == 10.0
    store.set_command("api", {"kind": "abort"})
    assert kinds(ctl.tick()) == ["abort"]
    assert ctl.routes().candidate is None and ctl.routes().weight == 0.0
    assert store.get_deployment("api").command is None


def test_runner_rolls_back_on_errors(store: SqlMetadataStore) -> None:
    spec = RolloutSpec.from_cli(
        strategy="canary", interval="5s", max_error_rate=0.01, min_requests=20
    )
    first, _ = new_rollout(stable_state(), "churn", 4, spec, 0.0)
    store.create_deployment("api", port=8080, state=first.to_dict())
    clock, metrics = Clock(), RolloutMetrics()
    ctl = Controller("api", store, metrics, FakeSupervisor(), clock=clock)
    ctl.load()
    ctl.tick()
    feed(metrics, "4", 50, errors=10)
    feed(metrics, "3", 50)
    clock.now += 5
    assert kinds(ctl.tick()) == ["rollback"]
    assert ctl.routes is not None and ctl.routes().candidate is None
    history = store.list_events("api")
    assert history[-1].figures["candidate_errors"] == 10


def test_analysis_config_defaults_to_an_error_rate_check() -> None:
    assert RolloutSpec().analysis == AnalysisConfig(max_error_rate=0.01)
