"""Helpers of the rollout end-to-end tests: a temporary project driven through the CLI,
and bounded client traffic (importable as ``rollout_support``)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import free_port

HERE = Path(__file__).parent
SRC_ROOT = HERE.parents[1]


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

    def deploy_first(self, name: str, version: int, *extra: str) -> str:
        port = free_port()
        self.cli(
            "deploy",
            name,
            "--model",
            f"churn:{version}",
            "--port",
            str(port),
            "--trust-pickle",
            *extra,
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

    def control(self, name: str) -> Any:
        from dockyard.rollout.gateway_process import GatewayClient
        from dockyard.rollout.processes import control_socket

        token = self.store.secrets(name).get("control", "")
        return GatewayClient(control_socket(self.root, name), token)

    def stop_gateway(self, name: str) -> None:
        try:
            with self.control(name) as client:
                client.stop()
        except Exception:  # gone already
            return

    def close(self) -> None:
        from dockyard.rollout.processes import pid_alive

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
            self.stop_gateway(name)
        if self._store is not None:
            self._store.close()


CANARY = ["--strategy", "canary", "--max-error-rate", "0.01", "--min-requests", "20"]


def ended(proj: Project, name: str) -> Callable[[], bool]:
    def check() -> bool:
        state = proj.state(name)
        return not state.active and (state.phase != "completed" or state.alias_moved)

    return check
