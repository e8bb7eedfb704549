"""``dockyard trigger``: runs started by data, messages or dockyard's own events."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from dockyard.cli._common import ago, console, err_console, esc, stack

app = typer.Typer(
    help="Start a pipeline run when a dataset version lands, a message arrives on a topic, "
    "or a dockyard event matches (run them with: dockyard triggers).",
    no_args_is_help=True,
)

TRIGGERS_HELP = "Watch the triggers and start their runs, in the foreground (SIGTERM stops)."


@app.command("add")
def add(
    name: str = typer.Argument(..., help="The trigger's name."),
    run: str = typer.Option(..., "--run", help="FILE_OR_MODULE:PIPELINE to run."),
    param: list[str] = typer.Option([], "--param", "-p", help="Pipeline parameter KEY=VALUE."),
    on_dataset: str | None = typer.Option(
        None, "--on-dataset", help="A lake dataset: a new version starts a run."
    ),
    on_topic: str | None = typer.Option(
        None, "--on-topic", help="A topic on the stack's bus: messages start a run."
    ),
    on_event: str | None = typer.Option(
        None, "--on-event", help="A dockyard event type or glob (dockyard.model.drift_detected)."
    ),
    debounce: float = typer.Option(
        5.0, "--debounce", min=0, help="Seconds of quiet before a burst of changes starts one run."
    ),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Add a trigger; it answers what happens from now on."""
    from dockyard.events.trigger_api import add_trigger

    record = add_trigger(
        name,
        run=run,
        on_dataset=on_dataset,
        on_topic=on_topic,
        on_event=on_event,
        params=param,
        debounce_s=debounce,
        stack=stack_name,
        run_stack=stack_name,
    )
    console.print(
        f"Trigger {record.name}: on {record.kind} {record.source}, runs dockyard "
        f"{' '.join(record.argv)} (debounce {record.debounce_s:g} s). Start watching with: "
        "dockyard triggers",
        markup=False,
        soft_wrap=True,
    )


@app.command("list")
def list_(stack_name: str | None = typer.Option(None, "--stack", "-s")) -> None:
    """The triggers, and when each last fired."""
    from dockyard.events.trigger_api import list_triggers

    records = list_triggers(stack_name)
    if not records:
        console.print(
            "No triggers. Add one with: dockyard trigger add NAME --on-dataset ... --run ..."
        )
        return
    table = Table("trigger", "on", "source", "runs", "debounce", "last fired", box=None)
    for r in records:
        fired = ago(r.last_fired_at) if r.last_fired_at else "-"
        table.add_row(
            esc(r.name), r.kind, esc(r.source), esc(" ".join(r.argv)), f"{r.debounce_s:g} s", fired
        )
    console.print(table)


@app.command("remove")
def remove(
    name: str = typer.Argument(...), stack_name: str | None = typer.Option(None, "--stack", "-s")
) -> None:
    """Remove a trigger (the runs it started stay)."""
    from dockyard.events.trigger_api import remove_trigger

    remove_trigger(name, stack_name)
    console.print(f"Removed trigger {name}.", markup=False)


@app.command("history")
def history(
    name: str | None = typer.Argument(None, help="One trigger (default: all)."),
    limit: int = typer.Option(20, "--limit", "-n", min=1),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """The runs triggers started: what triggered each, and how it ended."""
    runs = stack(stack_name).trigger_store.list_runs(name, limit=limit)
    table = Table("run", "trigger", "started", "outcome", "triggered by", box=None)
    for r in runs:
        cause = json.dumps({k: v for k, v in r.reason.items() if k != "trigger"}, sort_keys=True)
        table.add_row(r.id[:8], esc(r.trigger), ago(r.started_at), r.outcome, esc(cause))
    console.print(table)


def triggers(
    tick: float = typer.Option(1.0, "--tick", min=0.05, help="Seconds between looks."),
    once: bool = typer.Option(False, "--once", help="Look once, run what is due, exit."),
    max_wait: float = typer.Option(
        60.0, "--max-wait", min=0, help="A source that never rests fires after this long."
    ),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Watch every trigger and start the runs they call for, until SIGTERM."""
    from dockyard.events.triggers import TriggerLoop, install_signal_handlers

    loop = TriggerLoop(
        stack(stack_name),
        tick_s=tick,
        max_wait_s=max_wait,
        report=lambda line: err_console.print(line, markup=False, highlight=False),
    )
    install_signal_handlers(loop)
    started = loop.serve(once=once)
    console.print(f"Triggers stopped; {len(started)} run(s) started.", markup=False)
