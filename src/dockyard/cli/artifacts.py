"""``dockyard artifacts``: inspect an artifact and its lineage, or export its bytes."""

from __future__ import annotations

from pathlib import Path

import typer

from dockyard.cli._common import console, esc, stack

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
        console.print(f"  {label:<13} {value}", markup=False)
    for label, rows in (("produced by", lineage.produced_by), ("consumed by", lineage.consumed_by)):
        for run_id, step, _ in rows:
            console.print(f"  {label:<13} run {run_id[:8]} step {step}", markup=False)


@app.command("get")
def get(
    artifact_id: str = typer.Argument(..., help="Artifact id or unique prefix."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write the stored bytes to."),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Write an artifact's stored bytes (JSON, .npy, parquet, skops...) to a file."""
    from dockyard.errors import ArtifactError

    if output.is_dir():
        raise ArtifactError(
            f"--output {output} is a folder; give the file to write, "
            f"e.g. -o {output / (artifact_id[:8] + '.bin')}"
        )
    s = stack(stack_name)
    record = s.metadata_store.get_artifact(artifact_id)
    data = s.artifact_store.get(record.uri)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArtifactError(
            f"Cannot create the folder {output.parent} for --output: "
            f"{exc.strerror or exc} ({exc.filename}). Pick another path."
        ) from exc
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise ArtifactError(
            f"Cannot write {output}: {exc.strerror or exc}. Pick another path."
        ) from exc
    console.print(f"Wrote {len(data)} bytes ({record.materializer}) to {output}", markup=False)


@app.command("verify")
def verify(
    run_id: str | None = typer.Option(
        None, "--run", help="Only the artifacts this run read or wrote (default: all)."
    ),
    stack_name: str | None = typer.Option(None, "--stack", "-s"),
) -> None:
    """Read artifacts back and check their hashes: find missing or damaged bytes before a
    cached rerun or a deployment trips on them. Exit status 1 when any is found."""
    from dockyard.pipelines.artifact_io import verify_artifacts

    s = stack(stack_name)
    checked = [0]

    def count(_record: object) -> None:
        checked[0] += 1

    problems = verify_artifacts(s.metadata_store, s.artifact_store, run_id=run_id, on_checked=count)
    for p in problems:
        console.print(f"[red]{p.problem}[/] {p.artifact_id[:12]} {esc(p.message)}", soft_wrap=True)
    if problems:
        console.print(f"{len(problems)} of {checked[0]} artifacts have a problem.")
        raise typer.Exit(1)
    console.print(f"All {checked[0]} artifacts verified.")
