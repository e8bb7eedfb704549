"""The rollout state machine, transition by transition.

The machine is pure, so every rule is checked with a fake clock and hand-made verdicts:
what a rollout does on pass, fail and lack of evidence, and what operator commands do in
each phase.
"""

from __future__ import annotations

import pytest

from dockyard.errors import RolloutError
from dockyard.rollout.analysis import AnalysisConfig, Outcome, Verdict
from dockyard.rollout.machine import (
    RolloutState,
    decide,
    due,
    new_rollout,
)
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
    state, decisions = decide(state, None, now, ready=True)
    return state


def kinds(decisions: list) -> list[str]:  # type: ignore[type-arg]
    return [d.kind for d in decisions]


# first deployment -----------------------------------------------------------------------
def test_first_deployment_goes_live_when_ready() -> None:
    state, decisions = new_rollout(None, "churn", 3, canary(), 0.0)
    assert state.phase == "starting" and state.stable is None and state.candidate == 3
    assert state.rollout_spec.strategy == "direct"
    same, nothing = decide(state, None, 1.0, ready=False)
    assert same == state and nothing == []
    live, decisions = decide(state, None, 2.0, ready=True)
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
    same, nothing = decide(state, PASS, 29.0)  # not due yet: a verdict is ignored
    assert same == state and nothing == []
    weights = []
    now = 30.0
    for _ in range(2):
        state, decisions = decide(state, PASS, now)
        assert kinds(decisions) == ["advance"] and decisions[0].new_window
        weights.append(state.weight)
        now += 30.0
    assert weights == [25.0, 50.0]
    state, decisions = decide(state, PASS, now)
    assert kinds(decisions) == ["complete"]
    assert (state.phase, state.stable, state.candidate) == ("completed", 4, None)
    assert state.retiring == ({"version": 3, "until": now + 2.0},)
    assert state.wanted_versions(now) == [4, 3]
    assert state.wanted_versions(now + 2.0) == [4]


def test_inconclusive_waits_and_never_passes() -> None:
    state = started(canary(), 0.0)
    for i in range(5):
        now = 30.0 + i * 2.0
        state, decisions = decide(state, WAIT, now)
        assert kinds(decisions) == ["wait"] and not decisions[0].new_window
        assert state.phase == "progressing" and state.weight == 10.0
        assert state.inconclusive == i + 1
        assert "waiting for enough evidence" in state.next_decision
        assert state.last_verdict is not None and state.last_verdict["outcome"] == "inconclusive"
        assert state.next_check_at == now + 2.0
    state, decisions = decide(state, PASS, state.next_check_at or 0)
    assert kinds(decisions) == ["advance"] and state.inconclusive == 0


def test_failure_rolls_back_at_the_failure_limit() -> None:
    state = started(canary(failure_limit=2), 0.0)
    state, decisions = decide(state, FAIL, 30.0)
    assert kinds(decisions) == ["fail"] and decisions[0].new_window
    assert (state.phase, state.failures, state.weight) == ("progressing", 1, 10.0)
    state, decisions = decide(state, FAIL, 60.0)
    assert kinds(decisions) == ["rollback"]
    assert "error rate 20%" in decisions[0].reason
    assert decisions[0].figures["candidate_errors"] == 60
    assert (state.phase, state.weight, state.stable, state.candidate) == ("rolled_back", 0.0, 3, 4)
    assert state.routes()["candidate"] is None
    assert state.retiring == ({"version": 4, "until": 62.0},)


def test_one_failure_rolls_back_by_default() -> None:
    state = started(canary(), 0.0)
    state, decisions = decide(state, FAIL, 30.0)
    assert kinds(decisions) == ["rollback"] and state.phase == "rolled_back"


# blue/green -----------------------------------------------------------------------------
def test_bluegreen_bakes_switches_then_completes() -> None:
    spec = RolloutSpec.from_cli(strategy="bluegreen", bake="10s", interval="5s")
    state = started(spec, 0.0)
    assert (state.phase, state.weight) == ("baking", 0.0)
    assert state.wanted_versions(0.0) == [3, 4]  # green runs before it gets traffic
    same, _ = decide(state, None, 9.0)
    assert same.phase == "baking"
    state, decisions = decide(state, None, 10.0)
    assert kinds(decisions) == ["switch"] and state.weight == 100.0 and state.phase == "switched"
    assert state.wanted_versions(10.0) == [3, 4]  # blue stays warm
    state, decisions = decide(state, PASS, 15.0)
    assert kinds(decisions) == ["complete"] and state.stable == 4


def test_bluegreen_abort_after_switch_returns_traffic_to_blue() -> None:
    state = started(RolloutSpec.from_cli(strategy="bluegreen"), 0.0)
    state, _ = decide(state, None, 0.0)
    assert state.phase == "switched"
    state, decisions = decide(state, None, 1.0, "abort")
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
    state, decisions = decide(state, PASS, 60.0)
    assert kinds(decisions) == ["report"] and state.phase == "shadow_passed"
    assert not due(state, 1e9)  # never takes traffic by itself
    assert state.routes()["shadow"] == 4  # keeps mirroring until promoted
    state, decisions = decide(state, None, 70.0, "promote")
    assert kinds(decisions) == ["complete"] and state.stable == 4


def test_shadow_failure_ends_it() -> None:
    state = started(RolloutSpec.from_cli(strategy="shadow"), 0.0)
    state, decisions = decide(state, FAIL, 30.0)
    assert kinds(decisions) == ["rollback"] and state.routes()["shadow"] is None


# commands -------------------------------------------------------------------------------
def test_promote_skips_to_completion() -> None:
    state = started(canary(), 0.0)
    state, decisions = decide(state, None, 5.0, "promote")
    assert kinds(decisions) == ["complete"] and "operator" in decisions[0].reason
    assert state.stable == 4


def test_promote_before_the_candidate_is_ready_is_rejected() -> None:
    state, _ = new_rollout(stable_state(), "churn", 4, canary(), 0.0)
    same, decisions = decide(state, None, 1.0, "promote", ready=False)
    assert same == state and kinds(decisions) == ["reject"]


def test_abort_and_retry() -> None:
    state = started(canary(), 0.0)
    state, decisions = decide(state, None, 5.0, "abort")
    assert kinds(decisions) == ["abort"] and state.phase == "aborted" and state.weight == 0
    same, decisions = decide(state, None, 6.0, "abort")
    assert same == state and kinds(decisions) == ["reject"]
    state, decisions = decide(state, None, 7.0, "retry")
    assert kinds(decisions) == ["retry"] and state.phase == "starting" and state.failures == 0
    state, decisions = decide(state, None, 8.0, ready=True)
    assert state.phase == "progressing" and state.weight == 10.0


def test_retry_needs_an_ended_rollout() -> None:
    state = started(canary(), 0.0)
    same, decisions = decide(state, None, 1.0, "retry")
    assert same == state and kinds(decisions) == ["reject"]
    same, decisions = decide(stable_state(), None, 1.0, "retry")
    assert kinds(decisions) == ["reject"]


def test_abort_of_a_first_deployment_is_rejected() -> None:
    state, _ = new_rollout(None, "churn", 3, canary(), 0.0)
    same, decisions = decide(state, None, 1.0, "abort")
    assert same == state and "no stable version" in decisions[0].reason


def test_unknown_command_is_rejected() -> None:
    state = started(canary(), 0.0)
    same, decisions = decide(state, None, 1.0, "explode")
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
    state, _ = decide(state, WAIT, 30.0)
    again = RolloutState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    assert state.versions_in_use() == [3, 4]  # what the registry must keep


def test_analysis_config_defaults_to_an_error_rate_check() -> None:
    assert RolloutSpec().analysis == AnalysisConfig(max_error_rate=0.01)


def test_a_candidate_never_ready_is_rolled_back_at_the_ready_timeout() -> None:
    """Item 9 of issue #8: a candidate that never becomes ready stayed `starting`
    forever; it is rolled back at its ready timeout with the reason."""
    state, _ = new_rollout(stable_state(), "churn", 4, canary(ready_timeout="60s"), 0.0)
    same, nothing = decide(state, None, 59.0, ready=False)
    assert (same, nothing) == (state, [])
    ended, decisions = decide(state, None, 61.0, ready=False)
    assert ended.phase == "rolled_back" and ended.stable == 3
    assert decisions[0].kind == "rollback"
    assert "churn:4 was not ready 60s after its rollout began" in decisions[0].reason


def test_a_crash_looping_candidate_is_rolled_back_without_waiting() -> None:
    state, _ = new_rollout(stable_state(), "churn", 4, canary(), 0.0)
    looping = state.replace(backends={"4": {"port": 1, "pid": 2, "restarts": 3}})
    ended, decisions = decide(looping, None, 5.0, ready=False)
    assert ended.phase == "rolled_back"
    assert "churn:4 exited 3 times before it was ready" in decisions[0].reason


def test_a_first_deployment_never_ready_fails_with_nothing_serving() -> None:
    state, _ = new_rollout(None, "churn", 1, canary(ready_timeout="10s"), 0.0)
    ended, decisions = decide(state, None, 11.0, ready=False)
    assert (ended.phase, ended.stable) == ("rolled_back", None)
    assert decisions[0].reason.endswith("; nothing was serving before")
