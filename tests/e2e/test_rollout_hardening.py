"""Rollouts under a hostile or careless operator (issue #8, items 1-4 and 9).

Each reproduction from the issue, driven through the CLI in a temporary project with
real agent, gateway and serve processes; traffic bounded in count and time.
"""

from __future__ import annotations

import os
import signal

import httpx
import pytest
from rollout_support import Project

pytestmark = pytest.mark.slow

ROW = {"instances": [[0.1, 0.2]]}


def _statuses(url: str, n: int, **headers: str) -> list[int]:
    with httpx.Client(timeout=10) as client:
        return [
            client.post(url + "/predict", json=ROW, headers=headers).status_code for _ in range(n)
        ]


def test_a_serve_token_comes_from_the_recorded_spec_never_the_environment(
    proj: Project,
) -> None:
    """Item 4a: a deployment's token survives an agent restarted from a shell that does
    not have it (the gateway restarts the agent), and a canary started without any
    token in the environment still requires it; the value is never in the spec."""
    v1, v2 = proj.register("Good", "Good")
    proj.env["API_TOKEN"] = "t0ken-of-the-deployment"
    proj.env.pop("DOCKYARD_SERVE_TOKEN", None)
    url = proj.deploy_first("sec", v1, "--token-env", "API_TOKEN")
    del proj.env["API_TOKEN"]
    assert set(_statuses(url, 5)) == {401}
    assert set(_statuses(url, 5, authorization="Bearer t0ken-of-the-deployment")) == {200}
    spec = proj.state("sec").spec
    assert spec["token_env"] == "API_TOKEN" and "t0ken" not in repr(spec)

    os.kill(int(proj.store.get_deployment("sec").agent_pid), signal.SIGKILL)
    proj.cli("deploy", "sec", "--model", f"churn:{v2}", "--strategy", "direct",
             "--trust-pickle", "--wait", "--timeout", "120")  # fmt: skip
    assert proj.state("sec").stable == v2
    assert set(_statuses(url, 20)) == {401}  # 7 of 20 were answered in the issue
    assert set(_statuses(url, 3, authorization="Bearer t0ken-of-the-deployment")) == {200}


def test_trust_comes_from_the_recorded_spec_never_the_environment(proj: Project) -> None:
    """Item 4b: DOCKYARD_TRUST_PICKLE=1 in the deploying shell does not let a pickled
    candidate be served; deploy says so, and the candidate that cannot load is rolled
    back at the ready timeout with the reason (exit status 3)."""
    v1, v2 = proj.register("Good", "Good")
    proj.deploy_first("pk", v1)
    assert proj.env["DOCKYARD_TRUST_PICKLE"] == "1"
    proc = proj.cli("deploy", "pk", "--model", f"churn:{v2}", "--strategy", "canary",
                    "--ready-timeout", "6s", "--wait", "--timeout", "90", ok=False)  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "DOCKYARD_TRUST_PICKLE is set here" in proc.stderr
    assert "exited 3 times before it was ready" in proc.stdout or "was not ready 6s" in proc.stdout
    state = proj.state("pk")
    assert (state.phase, state.stable) == ("rolled_back", v1)
    folder = proj.root / ".dockyard" / "deployments" / "pk"
    output = "".join(p.read_text() for p in folder.glob(f"{v2}.*") if p.is_file())
    assert "saved with pickle" in output


def test_deploy_wait_exit_status_tells_the_outcome(proj: Project) -> None:
    """Item 9: `deploy --wait` exits non-zero after a rollback (it exited 0)."""
    v1, v2 = proj.register("Good", "Flaky")
    url = proj.deploy_first("api", v1)
    with httpx.Client(timeout=10) as client:
        for _ in range(5):
            client.post(url + "/predict", json=ROW)
    from rollout_support import Traffic

    with Traffic(url, max_s=90):
        proc = proj.cli("deploy", "api", "--model", f"churn:{v2}", "--strategy", "canary",
                        "--steps", "50,100", "--interval", "2s", "--min-requests", "10",
                        "--max-error-rate", "0.05", "--trust-pickle", "--wait",
                        "--timeout", "90", ok=False)  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Rollout ended: rolled_back" in proc.stdout


def test_a_refused_operator_command_exits_non_zero(proj: Project) -> None:
    """Item 9: a command the agent refuses (promote with nothing in progress) says so
    and exits 1; a second command while one waits is refused, never dropped."""
    (v1,) = proj.register("Good")
    proj.deploy_first("api", v1)
    proc = proj.cli("rollout", "promote", "api", ok=False)
    assert proc.returncode == 1
    assert "promote was refused: promote: no rollout in progress (completed)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_killed_stable_process_is_not_seen_by_clients(proj: Project) -> None:
    """Item 6: with two processes per version, SIGKILL of one under traffic costs no
    client request (136 answered 502 in the issue); the supervisor starts it again."""
    from rollout_support import Traffic

    (v1,) = proj.register("Good")
    url = proj.deploy_first("api", v1, "--replicas", "2")
    backends = proj.state("api").backends[str(v1)]
    assert len(backends["replicas"]) == 1
    with Traffic(url, threads=2, max_s=60) as traffic:
        proj.wait(lambda: len(traffic.answers) > 100, 30, "traffic")
        os.kill(int(backends["pid"]), signal.SIGKILL)
        proj.wait(
            lambda: proj.state("api").backends[str(v1)]["pid"] != backends["pid"],
            30,
            "the process to be started again",
        )
        seen = len(traffic.answers)
        proj.wait(lambda: len(traffic.answers) > seen + 100, 30, "more traffic")
    print(f"stable SIGKILL: {len(traffic.answers)} requests, {len(traffic.failed())} failed")
    assert traffic.failed() == []
