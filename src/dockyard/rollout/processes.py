"""The processes of a local deployment: starting them detached, telling whether they
live, and what they inherit.

A local deployment is three kinds of processes, each started detached (its own session,
so it outlives whoever started it) and reaped by a thread of its starter:

- its **agent** (``dockyard deployments agent NAME``): the controller and the supervisor;
- its **gateway** (``dockyard deployments gateway NAME``): the data plane, and the
  control plane on a Unix socket;
- one **serve** process per model version, started by the supervisor.

None of them inherits ``DOCKYARD_TRUST_PICKLE`` or ``DOCKYARD_SERVE_TOKEN`` from whoever
starts it: a deployment takes trust and its token from its recorded spec only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.rollout.store import DeploymentRecord

__all__ = [
    "SCRUBBED_ENV",
    "STALE_S",
    "agent_alive",
    "child_env",
    "configure_logging",
    "control_socket",
    "deployment_dir",
    "http_ok",
    "pid_alive",
    "spawn_agent",
    "spawn_gateway",
]

READY_PATH = "/v2/health/ready"
#: A heartbeat older than this means the agent is gone.
STALE_S = 5.0


def deployment_dir(root: Path, name: str) -> Path:
    """Where a deployment's logs and control socket live."""
    return root / ".dockyard" / "deployments" / name


def control_socket(root: Path, name: str) -> Path:
    """The Unix socket of the deployment's control plane."""
    return deployment_dir(root, name) / "gateway.sock"


def pid_alive(pid: int | None) -> bool:
    """Whether a process with ``pid`` exists (and is not a zombie of ours)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie exists but is dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def http_ok(
    port: int, host: str = "127.0.0.1", timeout: float = 0.3, path: str = READY_PATH
) -> bool:
    """One quick HTTP GET answered 200 (no client library: this runs often)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            sock.sendall(request.encode())
            head = sock.recv(64)
    except OSError:
        return False
    return head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))


def agent_alive(record: DeploymentRecord) -> bool:
    """Whether the agent recorded on a deployment record is running."""
    if not record.agent_pid or record.heartbeat_at is None:
        return False
    age = (datetime.now(UTC) - record.heartbeat_at).total_seconds()
    return age < STALE_S and pid_alive(record.agent_pid)


#: Settings a deployment takes from its recorded spec only, never from whoever's
#: environment happens to start or restart one of its processes.
SCRUBBED_ENV = ("DOCKYARD_TRUST_PICKLE", "DOCKYARD_SERVE_TOKEN")


def child_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the settings a deployment never inherits (see SCRUBBED_ENV)."""
    for key in SCRUBBED_ENV:
        env.pop(key, None)
    return env


def configure_logging(path: Path) -> None:
    """Log to ``path``, size-bounded (see :func:`dockyard._logs.configure_file_logging`)."""
    from dockyard._logs import configure_file_logging

    configure_file_logging(path)


def _spawn(argv: list[str], root: Path, out: Path, name: str) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    env = child_env({**os.environ, "DOCKYARD_HOME": str(root)})
    # stdout/stderr carry only what escapes logging (a crash at start-up); the logs proper
    # go to rotated files (configure_logging).
    with open(out, "ab") as stream:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=env,
            start_new_session=True,  # outlives its starter and its terminal
        )
    # Reaped by a daemon thread if it exits while this process lives (no zombie, and no
    # ResourceWarning from a Popen dropped while its process runs).
    threading.Thread(target=proc.wait, name=f"reap-{name}", daemon=True).start()
    return proc.pid


def spawn_agent(name: str, root: Path, stack: str | None = None) -> int:
    """Start the agent of ``name`` as a detached process; returns its pid."""
    argv = [sys.executable, "-m", "dockyard", "deployments", "agent", name]
    if stack:
        argv += ["--stack", stack]
    return _spawn(argv, root, deployment_dir(root, name) / "agent.out", f"agent-{name}")


def spawn_gateway(name: str, root: Path, stack: str | None = None) -> int:
    """Start the gateway of ``name`` as a detached process; returns its pid."""
    argv = [sys.executable, "-m", "dockyard", "deployments", "gateway", name]
    if stack:
        argv += ["--stack", stack]
    return _spawn(argv, root, deployment_dir(root, name) / "gateway.out", f"gateway-{name}")
