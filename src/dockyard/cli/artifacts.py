"""``dockyard artifacts``: inspect an artifact and its lineage, or export its bytes."""

from __future__ import annotations

from pathlib import Path

import typer

from dockyard.cli._common import console, stack

app = typer.Typer(help="Inspect and export artifacts.", no_args_is_help=True)


@app.command("show")
def show(
    artifact_id: str = typer.Argument(..., help="Artifact id or unique prefix."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Show an artifact: type, materializer, size, hash, and lineage."""
    md = stack(stack_name).metadata_store
    lineage = md.get_lineage(artifact_id)
    a = lineage.artifact
    console.print(f"Artifact [bold]{a.id}[/]")
    for label, value in (
        ("type", a.data_type),
        ("materializer", f"{a.materializer} v{a.materializer_version}"),
        ("size", f"{a.size} bytes"),
        ("sha256", a.content_hash),
        ("uri", a.uri),
        ("safe to load", "no (pickle: needs --trust-pickle)" if a.unsafe else "yes"),
    ):
        console.print(f"  {label:<13} {value}")
    for label, rows in (("produced by", lineage.produced_by), ("consumed by", lineage.consumed_by)):
        for run_id, step, _ in rows:
            console.print(f"  {label:<13} run {run_id[:8]} step {step}")


@app.command("get")
def get(
    artifact_id: str = typer.Argument(..., help="Artifact id or unique prefix."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write the stored bytes to."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Write an artifact's stored bytes (JSON, .npy, parquet, skops...) to a file."""
    s = stack(stack_name)
    record = s.metadata_store.get_artifact(artifact_id)
    data = s.artifact_store.get(record.uri)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    console.print(f"Wrote {len(data)} bytes ({record.materializer}) to {output}")
