"""``dockyard deploy``, ``dockyard rollout ...`` and ``dockyard deployments ...``.

The CLI only writes to the metadata store (a new rollout, an operator command) and
reads from it and from the gateway; the deployment agent does the rest.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from dockyard.cli._common import ago, check_port, console, err_console, esc, stack

if TYPE_CHECKING:
    from dockyard.rollout.views import DeploymentStatus

rollout_app = typer.Typer(help="Watch and steer a deployment's rollout.", no_args_is_help=True)
deployments_app = typer.Typer(help="List and remove deployments.", no_args_is_help=True)

_STACK = typer.Option(None, "--stack", "-s", help="Stack whose stores to use.")

#: ``deploy --wait`` exit statuses (documented in its --help and the README).
EXIT_ROLLED_BACK = 3
EXIT_ABORTED = 4
EXIT_TIMEOUT = 5


# helpers --------------------------------------------------------------------------------
def _store(stack_name: str | None) -> Any:
    return stack(stack_name).deployment_store


def _state(record: Any) -> Any:
    from dockyard.rollout.machine import RolloutState

    return RolloutState.from_dict(record.state)


def _print_event(e: Any) -> None:
    when = e.created_at.astimezone().strftime("%H:%M:%S") if e.created_at else "-"
    console.print(f"{when}  [bold]{esc(e.kind):<9}[/] {esc(e.reason)}", soft_wrap=True)


def _print_events(events: list[Any]) -> None:
    for e in events:
        _print_event(e)


# deploy ---------------------------------------------------------------------------------
def deploy(
    name: str | None = typer.Argument(None, help="Deployment name, e.g. churn-api."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="NAME, NAME:VERSION or NAME@ALIAS."
    ),
    strategy: str | None = typer.Option(
        None, "--strategy", help="canary, bluegreen, shadow or direct (default: canary)."
    ),
    steps: str | None = typer.Option(None, "--steps", help="Canary weights, e.g. 10,25,50,100."),
    interval: str | None = typer.Option(None, "--interval", help="Step length, e.g. 30s, 5m."),
    max_error_rate: float | None = typer.Option(None, "--max-error-rate", help="e.g. 0.01 for 1%."),
    max_p99_ms: float | None = typer.Option(None, "--max-p99-ms"),
    max_divergence: float | None = typer.Option(
        None, "--max-divergence", help="Jensen-Shannon distance of predictions, 0 to 1."
    ),
    min_requests: int | None = typer.Option(None, "--min-requests"),
    failure_limit: int | None = typer.Option(None, "--failure-limit"),
    relative: bool = typer.Option(False, "--relative", help="Limits are factors of stable's."),
    bake: str | None = typer.Option(None, "--bake", help="Blue/green: bake time, e.g. 60s."),
    mirror: float | None = typer.Option(None, "--mirror", help="Shadow: percent mirrored."),
    sticky_header: str | None = typer.Option(None, "--sticky-header", help="e.g. x-user-id."),
    no_failover: bool = typer.Option(False, "--no-failover", help="Do not retry on stable."),
    alias: str | None = typer.Option(None, "--alias", help="Alias moved on completion."),
    port: int | None = typer.Option(
        None, "--port", callback=check_port, help="Gateway port (first deploy: 8080)."
    ),
    file: Path | None = typer.Option(None, "-f", "--file", help="Deploy file (YAML)."),
    trust_pickle: bool = typer.Option(
        False,
        "--trust-pickle",
        help="Let the serve processes load pickled models (recorded with the deployment; "
        "DOCKYARD_TRUST_PICKLE in this shell is not).",
    ),
    token_env: str | None = typer.Option(
        None,
        "--token-env",
        metavar="NAME",
        help="Serve processes require 'Authorization: Bearer <token>', the token read now "
        "from environment variable NAME and kept as the deployment's secret.",
    ),
    token_file: Path | None = typer.Option(
        None,
        "--token-file",
        help="The same, with the token read from this file whenever a process starts.",
    ),
    replicas: int | None = typer.Option(
        None,
        "--replicas",
        min=1,
        max=64,
        help="Processes per version (default 1); a crashed one is retried on another.",
    ),
    ready_timeout: str | None = typer.Option(
        None,
        "--ready-timeout",
        help="Roll back a candidate not ready this long after the rollout began (default 120s).",
    ),
    wait: bool = typer.Option(
        False,
        "--wait",
        help="Print decisions until the rollout ends. Exit status: 0 completed, "
        f"{EXIT_ROLLED_BACK} rolled back, {EXIT_ABORTED} aborted, {EXIT_TIMEOUT} still "
        "running at --timeout, 1 for any other error.",
    ),
    timeout: float = typer.Option(600.0, "--timeout", help="Longest wait in seconds."),
    stack_name: str | None = _STACK,
) -> None:
    """Deploy a model version: the first time at once, then by a rollout strategy."""
    from dockyard.errors import RolloutError
    from dockyard.rollout import api
    from dockyard.rollout.spec import RolloutSpec, load_deploy_file

    base = load_deploy_file(file) if file is not None else None
    name = name or (base.name if base else None)
    model = model or (base.model if base else None)
    if not name:
        raise RolloutError("Name the deployment: dockyard deploy NAME --model REF.")
    if not model:
        raise RolloutError(f"Say which model to deploy: dockyard deploy {name} --model churn:3.")
    spec = RolloutSpec.from_cli(
        strategy=strategy or (base.spec.strategy if base else "canary"),
        steps=steps,
        interval=interval,
        bake=bake,
        mirror=mirror,
        max_error_rate=max_error_rate,
        max_p99_ms=max_p99_ms,
        max_divergence=max_divergence,
        min_requests=min_requests,
        failure_limit=failure_limit,
        relative=relative,
        sticky_header=sticky_header,
        failover=not no_failover,
        alias=alias,
        trust_pickle=trust_pickle,
        token_env=token_env,
        token_file=token_file,
        ready_timeout=ready_timeout,
        replicas=replicas,
        base=base.spec if base else None,
    )
    started = api.start(
        name, model, spec, port=port or (base.port if base else None), stack=stack_name
    )
    version, state, first_event = started.version, started.state, started.after_event
    dep = started.deployment
    for note in started.notes:
        err_console.print(f"[yellow]Note:[/] {esc(note)}", soft_wrap=True)
    if started.first:
        console.print(
            f"Deploying {version.ref} as [bold]{name}[/] on http://127.0.0.1:{dep.port} ..."
        )
        final = api.follow(
            name, after=first_event, timeout_s=timeout, on_event=_print_event, stack=stack_name
        )
        if final.phase != "completed":
            raise RolloutError(
                f"{version.ref} did not become ready ({final.phase}); see "
                f".dockyard/deployments/{name}/ for the logs."
            )
        console.print(f"[green]{name}[/] serves {version.ref} on http://127.0.0.1:{dep.port}")
        return
    console.print(
        f"{spec.strategy} rollout of {version.ref} on [bold]{name}[/] started "
        f"(stable: {state.ref(state.stable)}). Follow it with: dockyard rollout status {name}"
    )
    if wait:
        final = api.follow(
            name, after=first_event, timeout_s=timeout, on_event=_print_event, stack=stack_name
        )
        if final.active:
            console.print(
                f"Still {final.phase} after {timeout:g}s; follow it with: dockyard rollout status {name}"
            )
            raise typer.Exit(EXIT_TIMEOUT)
        console.print(f"Rollout ended: {final.phase}; stable is {final.ref(final.stable)}.")
        if final.phase != "completed":
            raise typer.Exit(EXIT_ROLLED_BACK if final.phase == "rolled_back" else EXIT_ABORTED)


# rollout --------------------------------------------------------------------------------
def _command(name: str, kind: str, stack_name: str | None, wait_s: float = 10.0) -> Any:
    """Hand ``kind`` to the agent and print what it decided; exit 1 when it refused."""
    from dockyard.errors import RolloutError
    from dockyard.rollout import api

    store = _store(stack_name)
    last = api.command(name, kind, stack=stack_name)  # RolloutError if another is waiting
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        record = store.get_deployment(name)
        if record.command is None:
            new = [e for e in store.list_events(name, limit=20) if e.id > last]
            if new:
                _print_events(new)
                refused = [e for e in new if e.kind == "reject"]
                if refused:
                    raise RolloutError(f"{kind} was refused: {refused[0].reason}")
                return _state(record)
        time.sleep(0.05)
    console.print(f"The agent of {name} has not acted yet; it will when it runs.")
    return None


@rollout_app.command("promote")
def promote(name: str = typer.Argument(...), stack_name: str | None = _STACK) -> None:
    """Skip to 100% for the candidate now, and make it the stable version."""
    _command(name, "promote", stack_name)


@rollout_app.command("abort")
def abort(name: str = typer.Argument(...), stack_name: str | None = _STACK) -> None:
    """Send all traffic back to the stable version now."""
    _command(name, "abort", stack_name)


@rollout_app.command("retry")
def retry(name: str = typer.Argument(...), stack_name: str | None = _STACK) -> None:
    """Start an aborted or rolled-back rollout again."""
    _command(name, "retry", stack_name)


@rollout_app.command("history")
def history(
    name: str = typer.Argument(...),
    limit: int = typer.Option(100, "--limit", "-n", min=1),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    stack_name: str | None = _STACK,
) -> None:
    """Every decision with its reason and the figures it was based on."""
    from dockyard.rollout.views import history as deployment_history

    events = deployment_history(name, limit=limit, stack=stack_name)
    if as_json:
        rows = [
            {
                "id": e.id,
                "kind": e.kind,
                "reason": e.reason,
                "figures": e.figures,
                "at": e.created_at.isoformat() if e.created_at else None,
            }
            for e in events
        ]
        print(json.dumps(rows, default=str))
        return
    if not events:
        console.print(f"No decisions recorded for {name} yet.")
    _print_events(events)


def _fmt(value: Any, kind: str = "") -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{value * 100:.2f}%"
    if kind == "ms":
        return f"{value:.1f} ms"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _print_status(data: DeploymentStatus) -> None:
    head = f"[bold]{data.name}[/] {data.url}  model {data.model}  phase [bold]{data.phase}[/]"
    if data.step:
        head += f"  step {data.step} of {len(data.steps)} ({data.weight:g}%)"
    console.print(head)
    agent = "running" if data.agent_alive else "[red]not running[/]"
    console.print(f"strategy {data.strategy}, failures {data.failures}, agent {agent}")
    table = Table(
        "role",
        "version",
        "traffic",
        "requests",
        "errors",
        "error rate",
        "p50",
        "p99",
        "divergence",
        "agreement",
        box=None,
    )
    for row in data.versions:
        traffic = f"{row.weight:g}%" if row.weight is not None else f"mirror {row.mirror:g}%"
        table.add_row(
            row.role,
            row.ref,
            traffic,
            _fmt(row.requests),
            _fmt(row.errors),
            _fmt(row.error_rate, "pct"),
            _fmt(row.p50_ms, "ms"),
            _fmt(row.p99_ms, "ms"),
            _fmt(row.divergence),
            _fmt(row.agreement_rate, "pct"),
        )
    console.print(table)
    verdict = data.last_verdict
    if verdict:
        console.print(
            f"last analysis: [bold]{esc(verdict['outcome'])}[/] {esc(verdict['reason'])}",
            soft_wrap=True,
        )
    if data.next_decision:
        when = data.next_check_in_s
        suffix = f" (in {when:.0f}s)" if when is not None else ""
        console.print(f"next: {esc(data.next_decision)}{suffix}", soft_wrap=True)
    if not data.gateway_up:
        console.print("[yellow]The gateway is not answering; live figures are missing.[/]")


@rollout_app.command("status")
def status(
    name: str = typer.Argument(...),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh every second."),
    stack_name: str | None = _STACK,
) -> None:
    """Step, weights, per-version requests/errors/p99/divergence, next decision."""
    from dockyard.rollout.views import status as deployment_status

    while True:
        data = deployment_status(name, stack=stack_name)
        if as_json:
            print(json.dumps(data.to_dict(), default=str))
        else:
            if watch:
                console.clear()
            _print_status(data)
        if not watch:
            return
        time.sleep(1.0)


# deployments ----------------------------------------------------------------------------
@deployments_app.command("list")
def list_deployments(stack_name: str | None = _STACK) -> None:
    """Every deployment: address, stable version, rollout phase, agent."""
    from dockyard.rollout.processes import agent_alive

    records = _store(stack_name).list_deployments()
    if not records:
        console.print("No deployments. Create one with: dockyard deploy NAME --model REF")
        return
    table = Table("name", "url", "stable", "phase", "candidate", "agent", "updated", box=None)
    for r in records:
        s = _state(r)
        table.add_row(
            r.name,
            f"http://{r.host}:{r.port}",
            s.ref(s.stable) or "-",
            s.phase,
            s.ref(s.candidate) if s.active else "-",
            "running" if agent_alive(r) else "stopped",
            ago(r.updated_at),
        )
    console.print(table)


@deployments_app.command("down")
def down(
    name: str = typer.Argument(...),
    timeout: float = typer.Option(30.0, "--timeout"),
    stack_name: str | None = _STACK,
) -> None:
    """Stop a deployment's gateway and model processes, and forget it."""
    from dockyard.rollout import api

    api.down(name, timeout_s=timeout, stack=stack_name)
    console.print(f"Deployment {name} is down.")


@deployments_app.command("agent", hidden=True)
def agent(name: str = typer.Argument(...), stack_name: str | None = _STACK) -> None:
    """Run the deployment agent in the foreground (started by dockyard deploy)."""
    from dockyard.rollout.agent import run_agent

    raise typer.Exit(run_agent(name, stack_name=stack_name))


@deployments_app.command("gateway", hidden=True)
def gateway(name: str = typer.Argument(...), stack_name: str | None = _STACK) -> None:
    """Run the deployment's gateway in the foreground (started by its agent)."""
    from dockyard.rollout.gateway_process import run_gateway

    raise typer.Exit(run_gateway(name, stack_name=stack_name))


@deployments_app.command("up")
def up(name: str = typer.Argument(...), stack_name: str | None = _STACK) -> None:
    """Start a deployment's agent again (after a reboot or a crash); it resumes the
    rollout where it was, adopting the model processes still running."""
    from dockyard.rollout.processes import agent_alive

    store = _store(stack_name)
    if agent_alive(store.get_deployment(name)):
        console.print(f"The agent of {name} is running.")
        return
    from dockyard.rollout import api

    api.ensure_agent(name, stack_name)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if agent_alive(store.get_deployment(name)):
            console.print(f"The agent of {name} is running again.")
            return
        time.sleep(0.1)
    console.print(f"[yellow]The agent of {name} has not reported yet; see its log.[/]")
