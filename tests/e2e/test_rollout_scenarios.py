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
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support import free_port

HERE = Path(__file__).parent
SRC_ROOT = HERE.parents[1]

pytestmark = pytest.mark.slow


@dataclass
class Answer:
    started: float
    ended: float
    status: int
    backend: str | None
    prediction: Any
    expected: int


class Traffic:
    """Steady client traffic: ``threads`` loops of single-row ``/predict`` requests."""

    def __init__(
        self, url: str, *, threads: int = 2, max_requests: int = 20_000, max_s: float = 120.0
    ) -> None:
        self.url = url + "/predict"
        self.max_requests = max_requests
        self.max_s = max_s
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[Answer]:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)
        return self.answers

    def _run(self) -> None:
        import httpx

        deadline = time.monotonic() + self.max_s
        rng = random.Random()
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    if len(self.answers) >= self.max_requests:
                        return
                row = [rng.random(), rng.random()]
                started = time.time()
                try:
                    r = client.post(self.url, json={"instances": [row]})
                    status, backend = r.status_code, r.headers.get("x-dockyard-backend")
                    body = r.json() if status == 200 else {}
                    prediction = (body.get("predictions") or [None])[0]
                except Exception:
                    status, backend, prediction = 0, None, None
                answer = Answer(
                    started, time.time(), status, backend, prediction, int(row[0] > 0.5)
                )
                with self._lock:
                    self.answers.append(answer)
                time.sleep(0.004)

    def failed(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 200]


class Project:
    """The CLI, the store and the models of one temporary project."""

    def __init__(self, root: Path) -> None:
        self.root = root
        pythonpath = os.pathsep.join([str(HERE), str(SRC_ROOT), os.environ.get("PYTHONPATH", "")])
        self.env = {
            **os.environ,
            "DOCKYARD_HOME": str(root),
            "PYTHONPATH": pythonpath,
            "DOCKYARD_TRUST_PICKLE": "1",
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
        self.env.pop("DOCKYARD_STACK", None)
        self.deployments: list[str] = []
        self._store: Any = None

    def cli(
        self, *args: str, ok: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "dockyard", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if ok and proc.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def register(self, *classes: str, signature: dict[str, Any] | None = None) -> list[int]:
        sig = signature or {
            "inputs": [{"name": "a", "dtype": "FP64"}, {"name": "b", "dtype": "FP64"}]
        }
        code = (
            "import json, sys, _models\n"
            "from dockyard.registry import register_model\n"
            "sig = json.loads(sys.argv[1])\n"
            "for name in sys.argv[2:]:\n"
            "    print(register_model('churn', getattr(_models, name)(), signature=sig).version)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(sig), *classes],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        return [int(line) for line in out.split()]

    @property
    def store(self) -> Any:
        if self._store is None:
            from dockyard.db.engine import Database

            self._store = Database(f"sqlite:///{self.root}/.dockyard/metadata.db")
        from dockyard.rollout.sql_store import SqlDeploymentStore

        return SqlDeploymentStore(self._store)

    @property
    def registry(self) -> Any:
        from dockyard.registry.sql_store import SqlRegistryStore

        self.store  # noqa: B018 - opens the database
        return SqlRegistryStore(self._store)

    def state(self, name: str) -> Any:
        from dockyard.rollout.machine import RolloutState

        return RolloutState.from_dict(self.store.get_deployment(name).state)

    def events(self, name: str) -> list[Any]:
        return list(self.store.list_events(name, limit=500))

    def deploy_first(self, name: str, version: int) -> str:
        port = free_port()
        self.cli(
            "deploy", name, "--model", f"churn:{version}", "--port", str(port), "--trust-pickle"
        )
        self.deployments.append(name)
        return f"http://127.0.0.1:{port}"

    def wait(self, what: Callable[[], bool], timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {message}")

    def close(self) -> None:
        from dockyard.rollout.supervisor import pid_alive

        for name in self.deployments:
            try:
                record = self.store.get_deployment(name)
            except Exception:
                continue
            pids = [int(b.get("pid") or 0) for b in record.state.get("backends", {}).values()]
            self.cli("deployments", "down", name, ok=False, timeout=60)
            for pid in [*pids, record.agent_pid or 0]:
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
        if self._store is not None:
            self._store.close()


@pytest.fixture
def proj(project: Path) -> Iterator[Project]:
    p = Project(project)
    p.cli("init")
    yield p
    p.close()


CANARY = ["--strategy", "canary", "--max-error-rate", "0.01", "--min-requests", "20"]


def _ended(proj: Project, name: str) -> Callable[[], bool]:
    def check() -> bool:
        state = proj.state(name)
        return not state.active and (state.phase != "completed" or state.alias_moved)

    return check


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
        proj.wait(_ended(proj, "api"), 90, "the canary to end")
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
    from dockyard.rollout.supervisor import pid_alive

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
        proj.wait(_ended(proj, "api"), 60, "the rollback")
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
        proj.wait(_ended(proj, "api"), 60, "the rollback")
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
        proj.wait(_ended(proj, "api"), 60, "the rollback")
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
    from dockyard.rollout.gateway_process import GatewayClient, control_socket

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
        proj.wait(_ended(proj, "api"), 60, "the canary to end")
        # the serve processes were adopted, not restarted
        assert {v: int(b["pid"]) for v, b in after.backends.items()} == serve_pids
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
