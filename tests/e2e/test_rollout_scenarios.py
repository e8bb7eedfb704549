"""The rollout scenarios of issue 4, with real processes and real HTTP traffic.

Each test deploys model versions of ``tests/e2e/_models.py`` with the ``dockyard`` CLI
in a temporary project: a deployment agent (gateway + controller + supervisor) in the
background, one serve process per version, and a bounded traffic generator (fixed max
count and max time) in threads, as a client would send. Intervals are short (1-3 s) and
``--min-requests`` small so the file runs in a few minutes.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from rollout_support import CANARY, Project, Traffic, ended

pytestmark = pytest.mark.slow


# 1 ----------------------------------------------------------------------------------------
def test_good_canary_is_promoted_with_zero_failed_requests(proj: Project) -> None:
    v1, v2 = proj.register("Good", "Good")
    url = proj.deploy_first("api", v1)
    with Traffic(url, max_s=120) as traffic:
        time.sleep(0.5)
        proj.cli(
            "deploy",
            "api",
            "--model",
            f"churn:{v2}",
            *CANARY,
            "--steps",
            "10,25,50,100",
            "--interval",
            "1s",
            "--max-divergence",
            "0.3",
            "--trust-pickle",
        )
        proj.wait(ended(proj, "api"), 90, "the canary to end")
        state = proj.state("api")
        # the old version keeps serving while it drains, then is stopped
        old_pid = int(state.backends[str(v1)]["pid"]) if str(v1) in state.backends else 0
        proj.wait(lambda: str(v1) not in proj.state("api").backends, 30, "v1 to be stopped")
        time.sleep(0.5)
    answers = traffic.answers
    assert state.phase == "completed" and state.stable == v2, proj.events("api")
    advances = [e.figures["weight"] for e in proj.events("api") if e.kind == "advance"]
    assert advances == [10.0, 25.0, 50.0]
    kinds = [e.kind for e in proj.events("api")]
    assert kinds[-2:] == ["complete", "alias"]
    assert proj.registry.resolve_alias("churn", "production") == v2
    assert len(answers) > 200 and traffic.failed() == []
    assert {a.backend for a in answers} == {str(v1), str(v2)}
    from dockyard.rollout.processes import pid_alive

    assert not pid_alive(old_pid)


# 2 ----------------------------------------------------------------------------------------
def test_failing_candidate_is_rolled_back_and_failover_hides_it(proj: Project) -> None:
    v1, v2 = proj.register("Good", "Flaky")
    url = proj.deploy_first("api", v1)
    with Traffic(url) as traffic:
        proj.cli(
            "deploy",
            "api",
            "--model",
            f"churn:{v2}",
            *CANARY,
            "--steps",
            "25,50,100",
            "--interval",
            "1s",
            "--trust-pickle",
        )
        proj.wait(ended(proj, "api"), 60, "the rollback")
        time.sleep(0.5)
    state = proj.state("api")
    assert state.phase == "rolled_back" and state.stable == v1
    rollback = next(e for e in proj.events("api") if e.kind == "rollback")
    assert "error rate" in rollback.reason and rollback.figures["candidate_errors"] > 0
    # judged at its first step: no advance ever happened
    assert [e.figures.get("weight") for e in proj.events("api") if e.kind == "advance"] == [25.0]
    assert traffic.failed() == []
    assert proj.registry.resolve_alias("churn", "production") == v1


# 3 ----------------------------------------------------------------------------------------
def test_slow_candidate_is_rolled_back(proj: Project) -> None:
    v1, v2 = proj.register("Good", "Slow")
    url = proj.deploy_first("api", v1)
    with Traffic(url, threads=3) as traffic:
        proj.cli(
            "deploy",
            "api",
            "--model",
            f"churn:{v2}",
            "--max-p99-ms",
            "100",
            "--min-requests",
            "10",
            "--steps",
            "50,100",
            "--interval",
            "1s",
            "--trust-pickle",
        )
        proj.wait(ended(proj, "api"), 60, "the rollback")
    state = proj.state("api")
    assert state.phase == "rolled_back"
    rollback = next(e for e in proj.events("api") if e.kind == "rollback")
    assert "p99 latency" in rollback.reason and rollback.figures["candidate_p99_ms"] > 100
    assert traffic.failed() == []


# 4 ----------------------------------------------------------------------------------------
def test_constant_candidate_is_rolled_back_by_divergence(proj: Project) -> None:
    v1, v2 = proj.register("Good", "Constant")
    url = proj.deploy_first("api", v1)
    with Traffic(url) as traffic:
        proj.cli(
            "deploy",
            "api",
            "--model",
            f"churn:{v2}",
            *CANARY,
            "--max-divergence",
            "0.25",
            "--steps",
            "50,100",
            "--interval",
            "1s",
            "--trust-pickle",
        )
        proj.wait(ended(proj, "api"), 60, "the rollback")
    state = proj.state("api")
    assert state.phase == "rolled_back"
    rollback = next(e for e in proj.events("api") if e.kind == "rollback")
    assert "divergence" in rollback.reason and "error rate" not in rollback.reason
    assert rollback.figures["candidate_errors"] == 0
    assert traffic.failed() == []


# 5 ----------------------------------------------------------------------------------------
def test_killed_agent_resumes_at_the_recorded_step(proj: Project) -> None:
    """SIGKILL of the agent mid-canary: not one client request fails (the gateway is a
    process of its own, keeping the last routes), the gateway starts a new agent, which
    adopts the serve processes and carries on from the recorded step."""
    from dockyard.rollout.gateway_process import GatewayClient
    from dockyard.rollout.processes import control_socket

    v1, v2 = proj.register("Good", "Good")
    url = proj.deploy_first("api", v1)
    with Traffic(url, threads=2, max_s=120) as traffic:
        proj.cli(
            "deploy",
            "api",
            "--model",
            f"churn:{v2}",
            *CANARY,
            "--steps",
            "10,50,100",
            "--interval",
            "10s",  # long enough that a restart on a loaded machine lands inside the step
            "--trust-pickle",
        )
        proj.wait(lambda: proj.state("api").weight == 50.0, 60, "the canary to reach 50%")
        record = proj.store.get_deployment("api")
        before = proj.state("api")
        serve_pids = {v: int(b["pid"]) for v, b in before.backends.items()}
        os.kill(int(record.agent_pid), signal.SIGKILL)
        killed_at = len(proj.events("api"))
        sent_at_kill = len(traffic.answers)
        proj.wait(
            lambda: proj.store.get_deployment("api").agent_pid not in (None, record.agent_pid),
            30,
            "the gateway to start a new agent",
        )
        token = proj.store.secrets("api")["control"]
        with GatewayClient(control_socket(proj.root, "api"), token) as client:
            routes = client.routes()
        after = proj.state("api")
        assert routes.weight == 50.0 and routes.candidate is not None
        assert routes.candidate.version == str(v2)
        assert (after.step_index, after.weight) == (before.step_index, before.weight)
        proj.wait(ended(proj, "api"), 60, "the canary to end")
        # the serve processes were adopted, not restarted
        assert {v: int(b["pid"]) for v, b in after.backends.items()} == serve_pids
    print(f"agent SIGKILL: {len(traffic.answers)} requests, {len(traffic.failed())} failed")
    assert traffic.failed() == []
    assert len(traffic.answers) > sent_at_kill  # traffic went on across the kill
    new_events = proj.events("api")[killed_at:]
    assert all(e.kind != "start" and e.kind != "ready" for e in new_events)
    assert new_events[0].figures.get("weight") == 50.0
    assert proj.state("api").stable == v2


# 6 ----------------------------------------------------------------------------------------
def test_bluegreen_switch_without_failures_and_fast_abort(proj: Project) -> None:
    v1, v2 = proj.register("Good", "Good")
    url = proj.deploy_first("api", v1)
    with Traffic(url, threads=2, max_s=120) as traffic:
        proj.cli(
            "deploy",
            "api",
            "--model",
            f"churn:{v2}",
            "--strategy",
            "bluegreen",
            "--bake",
            "1s",
            "--interval",
            "60s",
            "--trust-pickle",
        )
        proj.wait(lambda: proj.state("api").phase == "switched", 60, "the switch")
        switched = time.time()
        proj.wait(
            lambda: any(
                a.backend == str(v2) and a.started > switched + 0.3 for a in traffic.answers
            ),
            10,
            "green traffic",
        )
        time.sleep(1.0)
        cli_started = time.time()
        proj.cli("rollout", "abort", "api")
        cli_done = time.time()
        time.sleep(1.5)
    answers = traffic.answers
    print(f"blue/green switch: {len(answers)} requests, {len(traffic.failed())} failed")
    assert traffic.failed() == []
    after_switch = [a for a in answers if switched + 0.5 < a.started < cli_started]
    assert after_switch and all(a.backend == str(v2) for a in after_switch)
    abort = next(e for e in proj.events("api") if e.kind == "abort")
    decided = abort.created_at.timestamp()
    green_after = [a.started for a in answers if a.backend == str(v2) and a.started > cli_started]
    last_green = max(green_after, default=cli_started)
    # every request sent more than one second after the command was given went to blue
    late = [a for a in answers if a.started > decided + 1.0]
    assert late and all(a.backend == str(v1) for a in late)
    assert last_green - decided < 1.0
    first_all_blue = max((a.started for a in answers if a.backend == str(v2)), default=cli_started)
    print(
        f"\nabort figures: command recorded -> routes changed "
        f"{abort.figures['acted_after_ms']:.0f} ms; CLI start -> last request to green "
        f"{(first_all_blue - cli_started) * 1000:.0f} ms (the CLI itself took "
        f"{cli_done - cli_started:.2f} s)"
    )
    assert abort.figures["acted_after_ms"] < 1000
    assert proj.state("api").phase == "aborted"


# 7 ----------------------------------------------------------------------------------------
def test_shadow_never_answers_clients_and_status_reports_it(proj: Project) -> None:
    v1, v2 = proj.register("Good", "Inverted")
    url = proj.deploy_first("api", v1)
    with Traffic(url) as traffic:
        proj.cli(
            "deploy",
            "api",
            "--model",
            f"churn:{v2}",
            "--strategy",
            "shadow",
            "--mirror",
            "100",
            "--interval",
            "2s",
            "--min-requests",
            "20",
            "--max-error-rate",
            "0.01",
            "--trust-pickle",
        )
        proj.wait(lambda: proj.state("api").phase == "shadowing", 60, "the shadow to start")
        time.sleep(1.5)
        status = json.loads(proj.cli("rollout", "status", "api", "--json").stdout)
        proj.wait(lambda: proj.state("api").phase == "shadow_passed", 30, "the shadow report")
    assert traffic.failed() == []
    assert {a.backend for a in traffic.answers} == {str(v1)}
    assert all(a.prediction == a.expected for a in traffic.answers)
    shadow = next(r for r in status["versions"] if r["role"] == "shadow")
    assert shadow["version"] == v2 and shadow["mirror"] == 100.0
    assert shadow["requests"] > 0 and shadow["p99_ms"] is not None
    assert shadow["agreement_rate"] == 0.0
    report = next(e for e in proj.events("api") if e.kind == "report")
    assert report.figures["candidate_agreement_rate"] == 0.0
    text = proj.cli("rollout", "status", "api").stdout
    assert "shadow" in text and "0.00%" in text


# 8 ----------------------------------------------------------------------------------------
def test_operator_mistakes_get_clear_errors(proj: Project) -> None:
    v1, v2, v3 = proj.register("Good", "Good", "Good")
    (v4,) = proj.register("Good", signature={"inputs": [{"name": "x", "dtype": "BYTES"}]})

    def error(*args: str) -> str:
        proc = proj.cli(*args, ok=False)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        return proc.stderr

    assert "No model named 'nope'" in error("deploy", "x", "--model", "nope:1")
    assert "has no version 99" in error("deploy", "x", "--model", "churn:99")
    for steps, message in [
        ("10,50,25,100", "must increase"),
        ("10,150", "over 100"),
        ("10,50", "must end at 100"),
    ]:
        assert message in error("deploy", "x", "--model", "churn:1", "--steps", steps)
    assert "must not be negative" in error(
        "deploy", "x", "--model", "churn:1", "--max-error-rate", "-0.5"
    )
    assert "Unknown strategy" in error("deploy", "x", "--model", "churn:1", "--strategy", "big")

    url = proj.deploy_first("api", v1)
    assert url
    message = error("deploy", "api", "--model", f"churn:{v4}", "--trust-pickle")
    assert "signature is incompatible" in message and "a (FP64)" in message
    proj.cli("deploy", "api", "--model", f"churn:{v2}", "--interval", "60s", "--trust-pickle")
    assert "in progress" in error("deploy", "api", "--model", f"churn:{v3}")
    assert "No deployment named 'ghost'" in error("rollout", "abort", "ghost")
    proj.cli("rollout", "abort", "api")
    proj.wait(lambda: proj.state("api").phase == "aborted", 10, "the abort")
    history = json.loads(proj.cli("rollout", "history", "api", "--json").stdout)
    assert [h["kind"] for h in history][-1] == "abort"
    listing = proj.cli("deployments", "list").stdout
    assert "api" in listing and "aborted" in listing
