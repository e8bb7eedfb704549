"""Deployments from Python: what ``dockyard deploy`` and ``dockyard rollout`` do.

The CLI is a thin layer over these functions. They only write intent to the metadata
store (a new rollout, an operator command) and make sure the deployment's agent runs;
the agent (``rollout/agent.py``) does the rest and records every decision.

Example::

    from dockyard.rollout import RolloutSpec, deploy, abort

    deploy("churn-api", "churn@production", port=8080)               # first deployment
    final = deploy(
        "churn-api", "churn:4",
        spec=RolloutSpec.from_cli(strategy="canary", steps="10,25,50,100", interval="30s",
                                  max_error_rate=0.01, max_p99_ms=50, min_requests=200),
        on_event=lambda e: print(e.kind, e.reason),
    )
    print(final.phase)            # "completed" or "rolled_back"
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import RecordNotFoundError, RolloutError, StaleStateError
from dockyard.rollout.machine import RolloutState, new_rollout
from dockyard.rollout.spec import RolloutSpec

if TYPE_CHECKING:
    from dockyard.registry.store import ModelVersionRecord
    from dockyard.rollout.store import DeploymentRecord, DeploymentStore, RolloutEventRecord
    from dockyard.stacks.stack import Stack

EventCallback = Callable[["RolloutEventRecord"], None]
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Started:
    """A rollout (or first deployment) written to the store and handed to the agent."""

    deployment: DeploymentRecord
    state: RolloutState
    version: ModelVersionRecord
    #: id of the last event before this rollout: follow from here.
    after_event: int
    first: bool
    #: Things the operator should know (settings in their environment that were ignored).
    notes: tuple[str, ...] = ()


def _stack(stack: str | Stack | None) -> Stack:
    from dockyard.stacks.stack import Stack, load_stack

    return stack if isinstance(stack, Stack) else load_stack(stack)


def signature_problem(stable: ModelVersionRecord, candidate: ModelVersionRecord) -> str | None:
    """Why ``candidate``'s inputs do not fit ``stable``'s (None when they do)."""
    old, new = stable.signature, candidate.signature
    if old is None or new is None:
        return None
    old_in = [(c.name, c.dtype) for c in old.inputs]
    new_in = [(c.name, c.dtype) for c in new.inputs]
    if old_in and new_in and old_in != new_in:
        missing = [f"{n} ({t})" for n, t in old_in if (n, t) not in new_in]
        extra = [f"{n} ({t})" for n, t in new_in if (n, t) not in old_in]
        parts = []
        if missing:
            parts.append("stable takes " + ", ".join(missing) + " which the candidate does not")
        if extra:
            parts.append("the candidate takes " + ", ".join(extra) + " which stable does not")
        if not parts:
            parts.append("the same columns in another order")
        return "; ".join(parts)
    if old.n_features and new.n_features and old.n_features != new.n_features:
        return f"stable takes {old.n_features} features, the candidate {new.n_features}"
    return None


def _gateway_answers(record: DeploymentRecord) -> bool:
    from dockyard.rollout.processes import http_ok

    return http_ok(record.port, record.host, path="/gateway/health")


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def ensure_agent(name: str, stack: str | Stack | None = None) -> None:
    """Start the deployment's agent unless one is alive."""
    from dockyard.rollout.processes import agent_alive, spawn_agent

    s = _stack(stack)
    if not agent_alive(s.deployment_store.get_deployment(name)):
        spawn_agent(name, s.root, s.name)


def _check_port(port: int | None) -> None:
    if port is not None and (isinstance(port, bool) or not 0 < port < 65536):
        raise RolloutError(f"Invalid gateway port {port!r}: use 1-65535 (e.g. --port 8080).")


def _environment_notes(spec: RolloutSpec) -> tuple[str, ...]:
    """Settings in the deploying shell that a deployment never takes from it."""
    notes = []
    if os.environ.get("DOCKYARD_SERVE_TOKEN") and not spec.needs_token:
        notes.append(
            "DOCKYARD_SERVE_TOKEN is set here, but a deployment takes its token only from "
            "--token-env NAME or --token-file PATH (recorded with it); this one serves "
            "without a token."
        )
    if os.environ.get("DOCKYARD_TRUST_PICKLE", "").lower() in ("1", "true", "yes") and (
        not spec.trust_pickle
    ):
        notes.append(
            "DOCKYARD_TRUST_PICKLE is set here, but a deployment trusts pickled models only "
            "with --trust-pickle (recorded with it); this one does not."
        )
    return tuple(notes)


def _deployment_settings(spec: RolloutSpec, current: RolloutState | None) -> RolloutSpec:
    """What belongs to the deployment, not one rollout (its serve token, its replicas): a
    new rollout keeps the recorded ones unless it names others."""
    old = current.rollout_spec if current is not None else RolloutSpec()
    changes: dict[str, Any] = {}
    if not spec.needs_token:
        changes.update(token_env=old.token_env, token_file=old.token_file)
    if spec.replicas is None:
        changes["replicas"] = old.replicas or 1
    return dataclasses.replace(spec, **changes) if changes else spec


def _given_token(spec: RolloutSpec) -> str | None:
    """The serve token a deploy names with ``--token-env`` (read now), None otherwise.

    Raises:
        RolloutError: the variable is unset or empty, or the ``--token-file`` is missing.
    """
    if spec.token_file and not Path(spec.token_file).is_file():
        raise RolloutError(f"No serve token file at {spec.token_file}.")
    if not spec.token_env:
        return None
    value = os.environ.get(spec.token_env, "").strip()
    if not value:
        raise RolloutError(
            f"--token-env {spec.token_env}: that environment variable is not set (or is "
            f"empty) here; export {spec.token_env}=... and deploy again."
        )
    return value


def _save_token(store: DeploymentStore, name: str, token: str | None) -> None:
    if token is not None:  # kept as the deployment's secret, never in its spec
        store.set_secrets(name, {**store.secrets(name), "serve_token": token})


def start(
    name: str,
    model: str,
    spec: RolloutSpec | None = None,
    *,
    port: int | None = None,
    stack: str | Stack | None = None,
) -> Started:
    """Record a first deployment or a new rollout of ``model`` on ``name``.

    Raises:
        ModelNotFoundError: the model, version or alias does not exist.
        RolloutError: the port is taken or invalid, a rollout is in progress, the
            candidate's signature is incompatible with the stable version's, the serve
            token cannot be read, ...
    """
    from dockyard.registry import resolve
    from dockyard.rollout.gateway_process import control_token

    spec = spec or RolloutSpec.from_cli()
    _check_port(port)
    s = _stack(stack)
    store = s.deployment_store
    version = resolve(model, s.registry_store)
    now = time.time()
    notes = _environment_notes(spec)
    try:
        record = store.get_deployment(name)
    except RecordNotFoundError:
        record = None

    if record is None:
        gateway_port = port or DEFAULT_PORT
        taken = [d.name for d in store.list_deployments() if d.port == gateway_port]
        if taken or not _port_free("127.0.0.1", gateway_port):
            owner = f"deployment {taken[0]!r}" if taken else "another program"
            raise RolloutError(
                f"Port {gateway_port} is in use by {owner}; choose another with --port."
            )
        token = _given_token(spec)
        spec = _deployment_settings(spec, None)
        state, decisions = new_rollout(None, version.name, version.version, spec, now)
        store.create_deployment(name, port=gateway_port, state=state.to_dict())
        control_token(store, name)  # the gateway's control secret, made once, kept in the store
        _save_token(store, name, token)
        after_event = 0
    else:
        if port is not None and port != record.port:
            raise RolloutError(
                f"Deployment {name!r} listens on port {record.port}; its port cannot change "
                f"during a rollout. Bring it down first to move it (dockyard deployments down {name})."
            )
        current = RolloutState.from_dict(record.state)
        token = _given_token(spec)
        spec = _deployment_settings(spec, current)
        if current.stable is not None and version.name == current.model:
            stable = s.registry_store.get_model_version(current.model, current.stable)
            problem = signature_problem(stable, version)
            if problem:
                raise RolloutError(
                    f"{version.ref} cannot replace {stable.ref}: its signature is incompatible "
                    f"({problem}). Clients would send inputs it cannot take; deploy it under "
                    "another name, or fix its signature."
                )
        state, decisions = new_rollout(current, version.name, version.version, spec, now)
        _save_token(store, name, token)
        events = store.list_events(name, limit=1)
        after_event = events[-1].id if events else 0
        try:
            store.update_state(name, state.to_dict(), record.revision)
        except StaleStateError:
            raise RolloutError(
                f"Deployment {name!r} changed while this deploy was being prepared; run it again."
            ) from None
    for d in decisions:
        store.append_event(name, d.kind, d.reason, dict(d.figures))
    ensure_agent(name, s)
    return Started(store.get_deployment(name), state, version, after_event, record is None, notes)


def follow(
    name: str,
    *,
    after: int = 0,
    timeout_s: float = 600.0,
    on_event: EventCallback | None = None,
    stack: str | Stack | None = None,
) -> RolloutState:
    """Report decisions as they are taken until the rollout ends (or ``timeout_s``)."""
    store = _stack(stack).deployment_store
    deadline = time.monotonic() + timeout_s
    last = after
    while True:
        # The state first: its decisions are written with it, so the events read next
        # include every reason for the state seen.
        record = store.get_deployment(name)
        state = RolloutState.from_dict(record.state)
        events = [e for e in store.list_events(name, limit=50) if e.id > last]
        for event in events:
            if on_event is not None:
                on_event(event)
        if events:
            last = events[-1].id
        ended = not state.active and (state.phase != "completed" or state.alias_moved)
        # Done, once clients can reach it: the gateway starts after the first version.
        if ended and (state.phase != "completed" or _gateway_answers(record)):
            return state
        if time.monotonic() > deadline:
            return state
        time.sleep(0.3)


def deploy(
    name: str,
    model: str,
    *,
    spec: RolloutSpec | None = None,
    port: int | None = None,
    wait: bool = True,
    timeout_s: float = 600.0,
    on_event: EventCallback | None = None,
    stack: str | Stack | None = None,
) -> RolloutState:
    """Deploy ``model`` on ``name``: the first time at once, then by ``spec``'s strategy.

    With ``wait`` (the default) it returns when the rollout has ended: check
    ``.phase`` (``completed``, ``rolled_back``, ``aborted``).
    """
    started = start(name, model, spec, port=port, stack=stack)
    if not wait:
        return started.state
    return follow(
        name, after=started.after_event, timeout_s=timeout_s, on_event=on_event, stack=stack
    )


def command(name: str, kind: str, *, stack: str | Stack | None = None) -> int:
    """Hand an operator command (promote, abort, retry, down) to the agent.

    Returns the id of the last event before it, to follow its effect from.
    """
    s = _stack(stack)
    store = s.deployment_store
    store.get_deployment(name)  # RecordNotFoundError with the hint
    events = store.list_events(name, limit=1)
    store.set_command(name, {"kind": kind, "at": time.time()})
    ensure_agent(name, s)
    return events[-1].id if events else 0


def promote(name: str, *, stack: str | Stack | None = None) -> int:
    """Skip to 100% of the candidate now."""
    return command(name, "promote", stack=stack)


def abort(name: str, *, stack: str | Stack | None = None) -> int:
    """All traffic back to the stable version now."""
    return command(name, "abort", stack=stack)


def retry(name: str, *, stack: str | Stack | None = None) -> int:
    """Start an aborted or rolled-back rollout again."""
    return command(name, "retry", stack=stack)


def down(name: str, *, timeout_s: float = 30.0, stack: str | Stack | None = None) -> None:
    """Stop a deployment's gateway and model processes, and forget it."""
    from dockyard.rollout.gateway_process import GatewayClient
    from dockyard.rollout.processes import agent_alive, pid_alive

    s = _stack(stack)
    store = s.deployment_store
    record = store.get_deployment(name)
    if agent_alive(record):
        with contextlib.suppress(RolloutError):  # an abort still waiting: down goes after it
            _set_command_waiting(store, name, {"kind": "down", "at": time.time()}, timeout_s)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                store.get_deployment(name)
            except RecordNotFoundError:
                return
            time.sleep(0.1)
    # No agent (or it did not answer): stop what it recorded ourselves.
    with GatewayClient.for_deployment(s, name) as client:
        client.stop()
    for info in RolloutState.from_dict(record.state).backends.values():
        pid = int(info.get("pid") or 0)
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
    if record.agent_pid and pid_alive(record.agent_pid):
        os.kill(record.agent_pid, signal.SIGTERM)
    store.delete_deployment(name)


def _set_command_waiting(
    store: DeploymentStore, name: str, command: dict[str, object], timeout_s: float
) -> None:
    """Leave ``command``, waiting (bounded) for a command already waiting to be taken."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            store.set_command(name, command)
            return
        except RolloutError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


__all__ = [
    "Started",
    "abort",
    "command",
    "deploy",
    "down",
    "ensure_agent",
    "follow",
    "promote",
    "retry",
    "signature_problem",
    "start",
]
