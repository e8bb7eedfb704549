"""``dockyard runs``: list runs, show one run's DAG and steps, print a step's logs."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.tree import Tree

from dockyard.cli._common import ago, console, esc, seconds, stack, styled

app = typer.Typer(help="Inspect pipeline runs.", no_args_is_help=True)


@app.command("list")
def list_runs(
    pipeline: str | None = typer.Option(None, "--pipeline", help="Only runs of this pipeline."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs, newest first."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """List the newest runs."""
    runs = stack(stack_name).metadata_store.list_runs(pipeline=pipeline, limit=limit)
    if not runs:
        console.print("No runs yet. Start one with: dockyard run FILE:PIPELINE")
        return
    table = Table("run", "pipeline", "status", "started", "duration", box=None)
    for r in runs:
        table.add_row(
            r.id[:8], esc(r.pipeline), styled(r.status), ago(r.created_at), seconds(r.duration_s)
        )
    console.print(table)


@app.command("show")
def show_run(
    run_id: str = typer.Argument(..., help="Run id or unique prefix."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Show a run: its DAG, and each step's status, duration, cache hit and outputs."""
    md = stack(stack_name).metadata_store
    run = md.get_run(run_id)
    steps = {s.name: s for s in md.list_step_runs(run.id)}
    console.print(
        f"Run [bold]{run.id}[/]  pipeline [bold]{esc(run.pipeline)}[/]  {styled(run.status)}  "
        f"stack {esc(run.stack)}  started {ago(run.created_at)}"
    )
    if run.params:
        console.print(
            "params: " + ", ".join(f"{k}={v!r}" for k, v in run.params.items()), markup=False
        )
    if run.error:
        console.print(f"[red]error:[/] {esc(run.error)}")
    triggered_by = (run.spec.get("extra") or {}).get("triggered_by")
    if triggered_by:
        console.print(f"triggered by: {json.dumps(triggered_by, sort_keys=True)}", markup=False)

    invocations = run.spec.get("invocations", {})
    tree = Tree("[bold]DAG[/]")
    for name, inv in invocations.items():
        ups = sorted({v[0] for v in inv.get("inputs", {}).values()} | set(inv.get("after", [])))
        tree.add(esc(name) + (f" [dim]<- {esc(', '.join(ups))}[/]" if ups else ""))
    console.print(tree)

    table = Table("step", "status", "duration", "cache", "attempts", "outputs", box=None)
    for name in invocations or steps:
        s = steps.get(name)
        if s is None:
            label = "pending" if run.status == "running" else "not run"
            table.add_row(esc(name), styled(label), "-", "", "", "")
            continue
        outs = ", ".join(f"{k}={v[:8]}" for k, v in s.outputs.items())
        table.add_row(
            esc(name),
            styled(s.status),
            seconds(s.duration_s),
            "hit" if s.cache_hit else "",
            str(s.attempts),
            esc(outs),
        )
    console.print(table)
    uses = md.list_dataset_uses(run.id)
    if uses:
        datasets = Table(
            "step", "dataset", "", box=None, title="lake datasets", title_justify="left"
        )
        for use in uses:
            way = "read" if use.direction == "input" else "wrote"
            datasets.add_row(esc(use.step or "-"), esc(use.ref), way)
        console.print(datasets)
    for s in steps.values():
        if s.status == "failed" and s.error:
            console.print(f"[red]{esc(s.name)} failed:[/]\n{esc(s.error)}")


@app.command("logs")
def logs(
    run_id: str = typer.Argument(..., help="Run id or unique prefix."),
    step: str = typer.Argument(..., help="Step name."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Print what a step printed and logged."""
    md = stack(stack_name).metadata_store
    run = md.get_run(run_id)
    md.get_step_run(run.id, step)  # a clear error for an unknown step
    text = md.get_step_logs(run.id, step)
    console.print(text.rstrip() if text else f"(step {step} printed nothing)", markup=False)
