"""``dockyard models``: list, show, alias and delete registered model versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from dockyard.cli._common import ago, console, esc, stack

if TYPE_CHECKING:
    from dockyard.registry.store import ModelRegistryStore

app = typer.Typer(help="Inspect and manage registered models.", no_args_is_help=True)


def _registry(stack_name: str | None) -> ModelRegistryStore:
    return stack(stack_name).registry_store


@app.command("list")
def list_models(stack_name: str | None = typer.Option(None, "--stack", "-s")) -> None:
    """List models with their latest version and aliases."""
    models = _registry(stack_name).list_models()
    if not models:
        console.print(
            "No models yet. Register one from a step with dockyard.register_model(...) "
            "or by returning dockyard.Model."
        )
        return
    table = Table("model", "latest", "versions", "aliases", "updated", box=None)
    for m in models:
        aliases = ", ".join(f"{a}->{v}" for a, v in sorted(m.aliases.items()))
        table.add_row(
            esc(m.name), str(m.latest_version), str(m.versions), esc(aliases), ago(m.updated_at)
        )
    console.print(table)


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME (all versions), NAME:VERSION or NAME@ALIAS."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Show a model's versions, or one version's metrics, signature and lineage."""
    from dockyard.registry.lineage import training_datasets
    from dockyard.registry.model import artifact_missing, broken_artifact_error
    from dockyard.registry.refs import ModelRef, resolve

    s = stack(stack_name)
    store = s.registry_store
    parsed = ModelRef.parse(ref)
    if parsed.version is None and parsed.alias is None:
        versions = store.list_model_versions(parsed.name)
        table = Table("version", "aliases", "metrics", "run", "step", "created", "", box=None)
        broken = []
        for v in versions:
            metrics = ", ".join(f"{k}={_num(x)}" for k, x in v.metrics.items())
            missing = artifact_missing(v, s)
            if missing:
                broken.append(v.ref)
            table.add_row(
                str(v.version),
                esc(", ".join(v.aliases)),
                esc(metrics),
                (v.run_id or "-")[:8],
                esc(v.step or "-"),
                ago(v.created_at),
                "[red]bytes missing[/]" if missing else "",
            )
        console.print(f"Model [bold]{esc(parsed.name)}[/]")
        console.print(table)
        if broken:
            console.print(
                f"[red]{esc(', '.join(broken))}: the model's stored bytes are missing[/]; "
                f"dockyard models show {esc(broken[0])} says how to repair it.",
                soft_wrap=True,
            )
        return
    v = resolve(parsed, store)
    console.print(
        f"Model [bold]{esc(v.ref)}[/]"
        + (f"  aliases: {esc(', '.join(v.aliases))}" if v.aliases else "")
    )
    say = console.print
    if v.description:
        say(f"  {v.description}", markup=False)
    say(f"  created      {ago(v.created_at)}")
    missing = artifact_missing(v, s)
    say(f"  artifact     {v.artifact_id}" + ("  [red]bytes missing[/]" if missing else ""))
    say(f"  produced by  run {(v.run_id or '-')[:8]} step {v.step or '-'}", markup=False)
    for key, value in v.metrics.items():
        say(f"  metric       {key} = {_num(value)}", markup=False)
    if v.signature is not None:
        sig = v.signature
        cols = ", ".join(f"{c.name}:{c.dtype}" for c in sig.inputs)
        if not cols and sig.n_features:
            cols = f"{sig.n_features} features (no names)"
        say(f"  inputs       {cols or '-'}", markup=False)
        if sig.outputs:
            outputs = ", ".join(f"{o.name}:{o.dtype}" for o in sig.outputs)
            say(f"  outputs      {outputs}", markup=False)
    reqs = ", ".join(f"{k}=={x}" for k, x in v.requirements.items())
    say(f"  requires     {reqs}", markup=False)
    if v.run_id and v.step:
        try:
            step_run = s.metadata_store.get_step_run(v.run_id, v.step)
        except KeyError:
            step_run = None
        if step_run is not None:
            inputs = ", ".join(f"{n}={a[:12]}" for n, a in step_run.inputs.items())
            say(
                f"  step inputs  {inputs or '-'}  (dockyard runs show {v.run_id[:8]})", markup=False
            )
    trained_on = ", ".join(use.ref for use in training_datasets(v, s))
    if trained_on:
        say(f"  trained on   {trained_on}", markup=False)
    if missing:
        artifact = s.metadata_store.get_artifact(v.artifact_id)
        error = broken_artifact_error(v.ref, artifact, run_id=v.run_id, aliases=v.aliases)
        console.print(f"[red]{esc(error)}[/]", soft_wrap=True)


def _num(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command("alias")
def alias(
    ref: str = typer.Argument(..., help="NAME:VERSION to point the alias at."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="e.g. production, staging."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Point an alias at a version (moving it from any other version)."""
    from dockyard.errors import RegistryError
    from dockyard.registry.refs import ModelRef

    parsed = ModelRef.parse(ref)
    if parsed.version is None:
        raise RegistryError(f"Name the version to alias: {parsed.name}:VERSION, not {ref!r}.")
    _registry(stack_name).set_alias(parsed.name, alias_name, parsed.version)
    console.print(f"{alias_name} -> {parsed.name}:{parsed.version}", markup=False)


@app.command("delete")
def delete(
    ref: str = typer.Argument(..., help="NAME:VERSION to delete."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Delete a model version (refused while an alias or a deployment uses it)."""
    from dockyard.registry import delete_model_version
    from dockyard.registry.refs import ModelRef

    parsed = ModelRef.parse(ref)
    delete_model_version(parsed, stack(stack_name))
    console.print(f"Deleted {parsed.name}:{parsed.version}.", markup=False)
