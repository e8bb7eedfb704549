"""The gateway of a local deployment as a process of its own, and the client to steer it.

``dockyard deployments gateway NAME`` (started detached by the deployment's agent) serves
the deployment's traffic on its port, independently of the agent, so killing the
controller never interrupts traffic: the route table stays as last set. It binds two
sockets in one uvicorn server:

- the deployment's public TCP port: clients' requests, forwarded by
  :class:`~dockyard.rollout.gateway.GatewayApp`; the control routes do not exist here;
- a Unix socket, ``.dockyard/deployments/NAME/gateway.sock`` (mode 0600): the control
  plane (routes, metrics windows, stop), which also needs the deployment's control
  token, a secret generated at the first deploy and kept in the deployment store.

The two processes watch each other: the agent restarts a gateway that stops answering
its control socket, and the gateway starts a new agent when the deployment's agent is
gone (no heartbeat and no live process), which then adopts the serve processes, pushes
the routes and carries on from the recorded step. On start the gateway takes its routes
from the stored state (the versions' recorded URLs), so it is right before the agent
speaks to it.

:class:`GatewayClient` is how the agent and ``dockyard rollout status`` talk to it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import RecordNotFoundError, RolloutError

if TYPE_CHECKING:
    from dockyard.rollout.metrics import MetricsSnapshot
    from dockyard.rollout.routing import RouteTable
    from dockyard.rollout.store import DeploymentRecord, DeploymentStore
    from dockyard.stacks.stack import Stack

__all__ = [
    "GatewayClient",
    "RemoteMetrics",
    "RemoteRoutes",
    "control_token",
    "run_gateway",
]

log = logging.getLogger("dockyard.rollout")

#: How often the gateway looks at its agent.
WATCH_S = 1.0
#: Least time between two agents the gateway starts (a crash-looping agent is not forked
#: every second).
RESPAWN_S = 10.0


def control_token(store: DeploymentStore, name: str) -> str:
    """The deployment's control token, generated (and kept in the store) on first use."""
    current = store.secrets(name)
    token = current.get("control")
    if not token:
        token = secrets.token_urlsafe(32)
        store.set_secrets(name, {**current, "control": token})
    return token


class GatewayClient:
    """Steers a deployment's gateway over its control socket (all calls are quick).

    Args:
        path: The control socket.
        token: The deployment's control token.
        timeout_s: Limit of each call.
    """

    def __init__(self, path: Path, token: str, *, timeout_s: float = 1.0) -> None:
        import httpx

        self.path = path
        self._client = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(path)),
            base_url="http://gateway",
            headers={"authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    @classmethod
    def for_deployment(cls, stack: Stack, name: str, *, timeout_s: float = 1.0) -> GatewayClient:
        store = stack.deployment_store
        from dockyard.rollout.processes import control_socket

        token = control_token(store, name)
        return cls(control_socket(stack.root, name), token, timeout_s=timeout_s)

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        import httpx

        try:
            response = self._client.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise RolloutError(
                f"the gateway's control socket {self.path} does not answer: {exc}"
            ) from exc
        if response.status_code != 200:
            raise RolloutError(
                f"the gateway refused {method} {path}: {response.status_code} {response.text[:200]}"
            )
        return response.json()

    def alive(self) -> bool:
        """Whether the gateway answers its control socket (with this token)."""
        try:
            self._call("GET", "/gateway/routes")
        except RolloutError:
            return False
        return True

    def routes(self) -> RouteTable:
        from dockyard.rollout.routing import RouteTable

        return RouteTable.from_dict(self._call("GET", "/gateway/routes"))

    def set_routes(self, table: RouteTable) -> None:
        self._call("PUT", "/gateway/routes", table.to_dict())

    def snapshot(self, *, scores: bool = True) -> MetricsSnapshot:
        from dockyard.rollout.metrics import MetricsSnapshot

        return MetricsSnapshot.from_dict(self.figures(scores=scores))

    def figures(self, *, scores: bool = True) -> dict[str, Any]:
        """The current window's figures, as the gateway reports them (JSON)."""
        data: dict[str, Any] = self._call(
            "GET", "/gateway/metrics" + ("?scores=1" if scores else "")
        )
        return data

    def rotate(self) -> MetricsSnapshot:
        """Close the current window (returned) and open the next."""
        from dockyard.rollout.metrics import MetricsSnapshot

        return MetricsSnapshot.from_dict(self._call("POST", "/gateway/metrics/rotate"))

    def stop(self) -> None:
        """Ask the gateway to stop serving (the deployment is going down)."""
        with contextlib.suppress(RolloutError):
            self._call("POST", "/gateway/stop")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteRoutes:
    """The controller's view of a gateway's route table.

    ``set`` pushes a table to the gateway when it answers, and otherwise keeps it as the
    wanted one (a starting gateway takes its routes from the stored state, and its keeper
    pushes the wanted table once it answers); the last table pushed is remembered, so an
    unchanged one is not sent again.
    """

    def __init__(self, client: GatewayClient) -> None:
        self.client = client
        self.table: RouteTable | None = None  # what the gateway has, as far as we know
        self.wanted: RouteTable | None = None
        self.available = False

    def __call__(self) -> RouteTable | None:
        return self.table

    def set(self, table: RouteTable) -> RouteTable:
        self.wanted = table
        if self.available:
            self.client.set_routes(table)
            self.table = table
        return table

    def up(self) -> None:
        """The gateway answers (again): push the wanted table if it has another."""
        self.available = True
        if self.wanted is not None and self.table != self.wanted:
            self.set(self.wanted)

    def down(self) -> None:
        """The gateway is (re)starting: what it holds is unknown until it answers."""
        self.available = False
        self.table = None


class RemoteMetrics:
    """The gateway's live figures, as the controller reads and rotates them."""

    def __init__(self, client: GatewayClient) -> None:
        self.client = client

    def snapshot(self) -> MetricsSnapshot:
        return self.client.snapshot()

    def rotate(self) -> MetricsSnapshot:
        return self.client.rotate()


def _bind(host: str, port: int, path: Path) -> tuple[socket.socket, socket.socket]:
    tcp = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp.bind((host, port))
    except OSError as exc:
        tcp.close()
        raise RolloutError(f"the gateway cannot listen on {host}:{port}: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a socket left by a killed gateway
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        unix.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return tcp, unix


def _watch(
    name: str,
    stack: Stack,
    stop: threading.Event,
    server: Any,
) -> None:
    """Start a new agent when the deployment's agent is gone; stop when the deployment is."""
    from dockyard.rollout.processes import agent_alive, spawn_agent

    store = stack.deployment_store
    last_spawn = 0.0
    while not stop.wait(WATCH_S):
        try:
            record: DeploymentRecord = store.get_deployment(name)
        except RecordNotFoundError:
            log.info("deployment %s is gone; the gateway stops", name)
            server.should_exit = True
            return
        except Exception:  # a database hiccup: look again next time
            log.warning("gateway of %s cannot read its deployment", name, exc_info=True)
            continue
        if not agent_alive(record) and time.monotonic() - last_spawn > RESPAWN_S:
            pid = spawn_agent(name, stack.root, stack.name)
            last_spawn = time.monotonic()
            log.warning("the agent of %s is gone; started a new one (pid %s)", name, pid)


def run_gateway(name: str, *, stack_name: str | None = None) -> int:
    """Serve the gateway of deployment ``name`` until it is stopped."""
    import uvicorn

    from dockyard.rollout.controller import route_table
    from dockyard.rollout.gateway import create_gateway_app
    from dockyard.rollout.machine import RolloutState
    from dockyard.rollout.metrics import RolloutMetrics
    from dockyard.rollout.processes import configure_logging, control_socket, deployment_dir
    from dockyard.rollout.routing import RouteTableRef
    from dockyard.stacks.stack import load_stack

    stack = load_stack(stack_name)
    configure_logging(deployment_dir(stack.root, name) / "gateway.log")
    store = stack.deployment_store
    record = store.get_deployment(name)
    state = RolloutState.from_dict(record.state)
    urls = {
        int(v): [str(r["url"]) for r in (b, *(b.get("replicas") or ())) if r.get("url")]
        for v, b in state.backends.items()
    }
    table = route_table(state, lambda v: urls.get(v, []))
    if table is None:
        raise RolloutError(
            f"Deployment {name!r} has no stable version running yet; its agent starts the "
            "gateway once one answers."
        )
    ref = RouteTableRef(table)
    token = control_token(store, name)
    path = control_socket(stack.root, name)
    tcp, unix = _bind(record.host, record.port, path)

    holder: dict[str, uvicorn.Server] = {}

    def stop_serving() -> None:
        holder["server"].should_exit = True

    app = create_gateway_app(ref, RolloutMetrics(), control_token=token, on_stop=stop_serving)
    server = holder["server"] = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=10,
        )
    )
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(name, stack, stop, server), daemon=True)
    watcher.start()
    log.info(
        "gateway of %s (pid %s) on %s:%s, control on %s",
        name,
        os.getpid(),
        record.host,
        record.port,
        path,
    )
    try:
        server.run(sockets=[tcp, unix])
    finally:
        stop.set()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        stack.close()
    return 0
