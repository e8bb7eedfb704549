"""The local deployment agent: the controller process of one deployment.

``dockyard deployments agent NAME`` (started detached by ``dockyard deploy``) runs:

- the **controller** (:class:`~dockyard.rollout.controller.Controller`), ticking every
  ``POLL_S``: operator commands (``rollout promote|abort|retry``, ``deployments down``)
  are left in the deployment store by the CLI and taken here on the next tick, so they
  work even while the agent restarts, and an abort reaches traffic within one tick;
- the **supervisor** (:class:`~dockyard.rollout.supervisor.Supervisor`, the local
  :class:`~dockyard.rollout.target.DeployTarget`) of the serve processes, one per model
  version;
- the keeper of the deployment's **gateway**, a process of its own
  (:mod:`dockyard.rollout.gateway_process`) that the controller steers over a Unix
  socket with the deployment's control token: started once a stable version answers,
  started again if it stops answering.

The agent writes a heartbeat (its pid and the time) to the store every second. Killed
with SIGKILL, it leaves the gateway and the serve processes running, so traffic goes on
with the last route table; the gateway starts a new agent, which adopts them from the
stored state and resumes the rollout where it was. Stopped with SIGTERM, it stops them
too. ``deployments down`` stops everything and deletes the deployment.

Logs go to size-bounded files under ``.dockyard/deployments/NAME/`` (``agent.log``,
rotated at 5 MB, three kept); no line per proxied request is ever written.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.rollout.gateway_process import GatewayClient, RemoteRoutes
    from dockyard.rollout.machine import RolloutState
    from dockyard.rollout.store import DeploymentStore
    from dockyard.stacks.stack import Stack

__all__ = ["POLL_S", "GatewayKeeper", "run_agent", "serve_token"]

log = logging.getLogger("dockyard.rollout")

POLL_S = 0.2
HEARTBEAT_S = 1.0
#: How long a gateway just started may take to answer before it is started again.
GATEWAY_START_S = 20.0


class GatewayKeeper:
    """Keeps the deployment's gateway process running while there are routes to serve.

    A gateway that exits before answering is started again after 1 s, 2 s, 4 s ... (at
    most ``GATEWAY_START_S``); one that runs but does not answer within
    ``GATEWAY_START_S`` is stopped and started again.
    """

    def __init__(self, name: str, stack: Stack, client: GatewayClient, routes: RemoteRoutes):
        self.name = name
        self.stack = stack
        self.client = client
        self.routes = routes
        self.pid: int | None = None
        self.started_at: float | None = None
        self.failures = 0
        self.up = False

    def ensure(self) -> None:
        """Called every tick: start the gateway when it does not answer."""
        from dockyard.rollout.processes import pid_alive, spawn_gateway

        if self.client.alive():
            if not self.up:
                log.info("gateway of %s answers on %s", self.name, self.client.path)
                self.up = True
                self.failures = 0
                self.routes.up()
            return
        if self.up:
            log.warning("gateway of %s stopped answering; starting it again", self.name)
            self.up = False
            self.started_at = None
            self.routes.down()
        now = time.monotonic()
        if self.started_at is not None:
            waited = now - self.started_at
            if self.pid is not None and pid_alive(self.pid):
                if waited < GATEWAY_START_S:
                    return  # still starting
                log.warning(
                    "gateway of %s (pid %s) is not answering; replacing it", self.name, self.pid
                )
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(self.pid, signal.SIGKILL)
            elif waited < min(GATEWAY_START_S, 2.0**self.failures):
                return  # it exited: back off before the next try (see gateway.log)
            self.failures += 1
        self.pid = spawn_gateway(self.name, self.stack.root, self.stack.name)
        self.started_at = now
        self.routes.down()  # it takes the stored routes; ours are pushed once it answers
        log.info("started the gateway of %s (pid %s)", self.name, self.pid)

    def stop(self) -> None:
        self.client.stop()


def serve_token(store: DeploymentStore, name: str, state: RolloutState | None) -> str | None:
    """The bearer token the deployment's serve processes require, from its recorded spec:
    the secret saved at deploy time (``--token-env``) or the recorded file
    (``--token-file``); None when the spec asks for none.

    Raises:
        RolloutError: the spec asks for a token that cannot be read (the process must not
            start without it).
    """
    from dockyard.errors import RolloutError

    spec = state.rollout_spec if state is not None else None
    if spec is None or not spec.needs_token:
        return None
    if spec.token_file:
        try:
            value = Path(spec.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise RolloutError(
                f"cannot read the serve token file {spec.token_file}: {exc}"
            ) from exc
    else:
        value = store.secrets(name).get("serve_token", "")
    if not value:
        raise RolloutError(f"deployment {name!r} needs a serve token, and its token is empty")
    return value


def run_agent(name: str, *, stack_name: str | None = None) -> int:
    """Run the agent of deployment ``name`` until it is brought down or signalled."""
    from dockyard.rollout.controller import Controller
    from dockyard.rollout.gateway_process import GatewayClient, RemoteMetrics, RemoteRoutes
    from dockyard.rollout.processes import agent_alive, configure_logging, deployment_dir
    from dockyard.rollout.supervisor import Supervisor
    from dockyard.stacks.stack import load_stack

    stack = load_stack(stack_name)
    configure_logging(deployment_dir(stack.root, name) / "agent.log")
    store = stack.deployment_store
    record = store.get_deployment(name)
    if agent_alive(record) and record.agent_pid != os.getpid():
        log.info("deployment %s already has an agent (pid %s)", name, record.agent_pid)
        return 0

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    client = GatewayClient.for_deployment(stack, name)
    routes = RemoteRoutes(client)

    def token() -> str | None:
        return serve_token(store, name, controller.state)

    supervisor = Supervisor(log_dir=deployment_dir(stack.root, name), token=token)
    controller = Controller(
        name, store, stack.registry_store, RemoteMetrics(client), supervisor, routes=routes
    )
    controller.load()
    keeper = GatewayKeeper(name, stack, client, routes)
    store.heartbeat(name, os.getpid())
    log.info("agent of %s started (pid %s)", name, os.getpid())

    last_beat = 0.0
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                controller.tick()
                if controller.route_table() is not None:
                    keeper.ensure()
            except Exception:  # the agent must outlive a bad tick (e.g. a database hiccup)
                log.exception("tick of %s failed; trying again", name)
            if controller.down_requested:
                break
            if started - last_beat >= HEARTBEAT_S:
                with contextlib.suppress(Exception):
                    store.heartbeat(name, os.getpid())
                last_beat = started
            stop.wait(max(0.0, POLL_S - (time.monotonic() - started)))
    finally:
        keeper.stop()
        supervisor.stop_all()
        client.close()
        if controller.down_requested:
            with contextlib.suppress(Exception):
                store.delete_deployment(name)
            log.info("deployment %s is down", name)
        else:
            with contextlib.suppress(Exception):
                store.heartbeat(name, None)
        stack.close()
    return 0
