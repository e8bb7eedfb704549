"""The local deployment agent: one background process per deployment.

``dockyard deployments agent NAME`` (started detached by ``dockyard deploy``) runs, in
one process:

- the **gateway** (uvicorn in a thread, :func:`~dockyard.rollout.gateway.create_gateway_app`
  over an in-process :class:`~dockyard.rollout.routing.RouteTableRef`) on the
  deployment's port;
- the **controller** (:class:`~dockyard.rollout.controller.Controller`), ticking every
  ``POLL_S``: operator commands (``rollout promote|abort|retry``, ``deployments down``)
  are left in the metadata store by the CLI and taken here on the next tick, so they
  work even while the agent restarts, and an abort reaches traffic within one tick;
- the **supervisor** (:class:`~dockyard.rollout.supervisor.Supervisor`, the local
  :class:`~dockyard.rollout.target.DeployTarget`) of the serve processes, one per model
  version.

The agent writes a heartbeat (its pid and the time) to the store every second. Killed
with SIGKILL, it leaves the serve processes running; the next agent adopts them from
the stored state and resumes the rollout where it was. Stopped with SIGTERM, it stops
them too. ``deployments down`` stops everything and deletes the deployment.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.rollout.store import DeploymentRecord

__all__ = ["POLL_S", "agent_alive", "run_agent", "spawn_agent"]

log = logging.getLogger("dockyard.rollout")

POLL_S = 0.2
HEARTBEAT_S = 1.0
#: A heartbeat older than this means the agent is gone.
STALE_S = 5.0


def agent_alive(record: DeploymentRecord) -> bool:
    """Whether the agent recorded on a deployment record is running."""
    from dockyard.rollout.supervisor import pid_alive

    if not record.agent_pid or record.heartbeat_at is None:
        return False
    age = (datetime.now(UTC) - record.heartbeat_at).total_seconds()
    return age < STALE_S and pid_alive(record.agent_pid)


def log_dir(root: Path, name: str) -> Path:
    return root / ".dockyard" / "deployments" / name


def spawn_agent(name: str, root: Path, stack: str | None = None) -> int:
    """Start the agent of ``name`` as a detached process; returns its pid."""
    folder = log_dir(root, name)
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "dockyard", "deployments", "agent", name]
    if stack:
        argv += ["--stack", stack]
    env = {**os.environ, "DOCKYARD_HOME": str(root)}
    with open(folder / "agent.log", "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=env,
            start_new_session=True,  # outlives the CLI and its terminal
        )
    # Reaped by a daemon thread if it exits while this process lives (no zombie, and no
    # ResourceWarning from a Popen dropped while its process runs).
    threading.Thread(target=proc.wait, name=f"reap-agent-{name}", daemon=True).start()
    return proc.pid


class _Gateway:
    """uvicorn serving the gateway app in a thread of the agent."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="on", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def run_agent(name: str, *, stack_name: str | None = None) -> int:
    """Run the agent of deployment ``name`` until it is brought down or signalled."""
    from dockyard.rollout.controller import Controller
    from dockyard.rollout.gateway import create_gateway_app
    from dockyard.rollout.metrics import RolloutMetrics
    from dockyard.rollout.supervisor import Supervisor
    from dockyard.stacks.stack import load_stack

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stack = load_stack(stack_name)
    store = stack.deployment_store
    record = store.get_deployment(name)
    if agent_alive(record) and record.agent_pid != os.getpid():
        log.info("deployment %s already has an agent (pid %s)", name, record.agent_pid)
        return 0

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    metrics = RolloutMetrics()
    supervisor = Supervisor(log_dir=log_dir(stack.root, name))
    controller = Controller(name, store, stack.registry_store, metrics, supervisor)
    controller.load()
    store.heartbeat(name, os.getpid())
    log.info(
        "agent of %s started (pid %s), gateway on %s:%s",
        name,
        os.getpid(),
        record.host,
        record.port,
    )

    gateway: _Gateway | None = None
    app: Any = None
    last_beat = 0.0
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                controller.tick()
            except Exception:  # the agent must outlive a bad tick (e.g. a database hiccup)
                log.exception("tick of %s failed; trying again", name)
            if controller.down_requested:
                break
            if gateway is None and controller.routes is not None:
                app = create_gateway_app(controller.routes, metrics)
                gateway = _Gateway(app, record.host, record.port)
                gateway.start()
                log.info("gateway of %s listening on %s:%s", name, record.host, record.port)
            if app is not None and controller.state is not None:
                app.failover = controller.state.rollout_spec.failover
            if started - last_beat >= HEARTBEAT_S:
                with contextlib.suppress(Exception):
                    store.heartbeat(name, os.getpid())
                last_beat = started
            stop.wait(max(0.0, POLL_S - (time.monotonic() - started)))
    finally:
        if gateway is not None:
            gateway.stop()
        supervisor.stop_all()
        if controller.down_requested:
            with contextlib.suppress(Exception):
                store.delete_deployment(name)
            log.info("deployment %s is down", name)
        else:
            with contextlib.suppress(Exception):
                store.heartbeat(name, None)
        stack.close()
    return 0
