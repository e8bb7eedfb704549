"""``dockyard stack``: list, show, register, use and delete stacks."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from dockyard._urls import mask_password
from dockyard.cli._common import console, esc

app = typer.Typer(
    help="Manage stacks (orchestrator + artifact store + metadata store).", no_args_is_help=True
)


def _config() -> Any:
    from dockyard.settings import find_project_root
    from dockyard.stacks.config import ProjectConfig

    return ProjectConfig.load(find_project_root())


def _component(comps: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    """A stack's config of ``kind``; a core kind left out of the config is its default."""
    from dockyard.stacks.config import DEFAULT_STACK_CONFIG

    return comps.get(kind) or DEFAULT_STACK_CONFIG.get(kind, {})


def _options(pairs: list[str]) -> dict[str, Any]:
    from dockyard.pipelines.params import parse_cli_params

    return parse_cli_params(pairs)


@app.command("list")
def list_stacks() -> None:
    """List stacks; the active one is marked."""
    config = _config()
    table = Table("", "stack", "orchestrator", "artifact store", "metadata store", box=None)
    for name, comps in config.stacks.items():
        orchestrator = _component(comps, "orchestrator")
        artifacts = _component(comps, "artifact_store")
        metadata = _component(comps, "metadata_store")
        table.add_row(
            "*" if name == config.active_stack else "",
            esc(name),
            esc(orchestrator["flavor"]),
            esc(artifacts.get("path", artifacts["flavor"])),
            esc(mask_password(str(metadata.get("url", metadata["flavor"])))),
        )
    console.print(table)


@app.command("show")
def show(name: str | None = typer.Argument(None, help="Stack (default: the active one).")) -> None:
    """Show a stack's components and their options."""
    from dockyard.stacks.config import COMPONENT_TYPES

    config = _config()
    name = name or config.active_stack
    comps = config.stack(name)
    active = " (active)" if name == config.active_stack else ""
    console.print(f"Stack [bold]{esc(name)}[/]{active}")
    for kind in dict.fromkeys([*COMPONENT_TYPES, *comps]):
        options = _component(comps, kind)
        opts = ", ".join(
            f"{k}={mask_password(str(v))}" for k, v in options.items() if k != "flavor"
        )
        line = f"  {esc(f'{kind:<15}')} {esc(options['flavor'])}"
        console.print(line + (f"  [dim]{esc(opts)}[/]" if opts else ""))


@app.command("register")
def register(
    name: str = typer.Argument(..., help="Name of the new stack."),
    orchestrator: str = typer.Option("local", "--orchestrator", "-o", help="Orchestrator flavor."),
    orchestrator_option: list[str] = typer.Option([], "--orchestrator-option", help="KEY=VALUE"),
    artifact_store: str = typer.Option(
        "local", "--artifact-store", "-a", help="Artifact store flavor."
    ),
    artifact_path: str | None = typer.Option(
        None, "--artifact-path", help="Folder or fsspec URL (s3://bucket/prefix)."
    ),
    artifact_option: list[str] = typer.Option([], "--artifact-option", help="KEY=VALUE"),
    metadata_url: str | None = typer.Option(
        None, "--metadata-url", help="SQLAlchemy URL (sqlite:///file.db, postgresql+psycopg://...)."
    ),
    event_bus: str | None = typer.Option(
        None,
        "--event-bus",
        help="Bus for dockyard's own events and triggers: redis://HOST:PORT, "
        "nats://HOST:PORT, amqp://USER:PASS@HOST:PORT/, kafka://HOST:PORT.",
    ),
    activate: bool = typer.Option(False, "--use", help="Make it the active stack."),
) -> None:
    """Register a stack from component flavors (checked against installed plug-ins)."""
    from dockyard import _plugins
    from dockyard.errors import StackError
    from dockyard.stacks.config import check_stack_name

    check_stack_name(name)
    config = _config()
    if name in config.stacks:
        raise StackError(f"Stack {name!r} exists already; delete it first or pick another name.")
    _plugins.load("dockyard.orchestrators", orchestrator)
    _plugins.load("dockyard.artifact_stores", artifact_store)
    components = {
        "orchestrator": {"flavor": orchestrator, **_options(orchestrator_option)},
        "artifact_store": {
            "flavor": artifact_store,
            "path": artifact_path or f"artifacts-{name}",
            **_options(artifact_option),
        },
        "metadata_store": {"flavor": "sql", "url": metadata_url or f"sqlite:///metadata-{name}.db"},
    }
    if event_bus:
        from urllib.parse import urlsplit

        from dockyard.events.bus import bus_class

        bus_class(event_bus)  # an unknown scheme is refused, naming the known ones
        components["event_bus"] = {"flavor": urlsplit(event_bus).scheme, "url": event_bus}
    config.register(name, components)
    if activate:
        config.active_stack = name
    config.save()
    console.print(
        f"Registered stack [bold]{esc(name)}[/]" + (" and made it active." if activate else ".")
    )


@app.command("use")
def use(name: str = typer.Argument(..., help="Stack to make active.")) -> None:
    """Make a stack the active one."""
    config = _config()
    config.stack(name)
    config.active_stack = name
    config.save()
    console.print(f"Active stack: [bold]{esc(name)}[/]")


@app.command("delete")
def delete(name: str = typer.Argument(..., help="Stack to delete.")) -> None:
    """Delete a stack from the project config (its stored data is left alone)."""
    config = _config()
    config.delete(name)
    config.save()
    console.print(f"Deleted stack {name}.", markup=False)
