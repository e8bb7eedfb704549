"""``dockyard lake``: list, inspect and import the datasets of the stack's lake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from dockyard.cli._common import ago, console, err_console, esc, stack

if TYPE_CHECKING:
    import pyarrow as pa

    from dockyard.lake.base import Lake

app = typer.Typer(
    help="Datasets of the stack's data lake: Delta tables and file datasets, named ZONE/NAME "
    "(zones raw, curated, features, predictions by default).",
    no_args_is_help=True,
)

_STACK = typer.Option(None, "--stack", "-s", help="Stack whose lake to use (default: active).")
#: Inputs at least this big get a progress bar.
_LARGE_BYTES = 8 << 20
_CSV_BLOCK = 4 << 20


def _lake(stack_name: str | None) -> Lake:
    from dockyard.lake import open as open_lake

    return open_lake(stack(stack_name))


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


@app.command("ls")
def ls(
    zone: str | None = typer.Argument(None, help="Only this zone (raw, curated, ...)."),
    stack_name: str | None = _STACK,
) -> None:
    """List the datasets of one zone, or of every zone."""
    lake = _lake(stack_name)
    datasets = lake.list(zone)
    if not datasets:
        where = f"zone {zone}" if zone else "the lake"
        console.print(
            f"No datasets in {esc(where)} ({esc(lake.url)}). Add one with: "
            "dockyard lake import ZONE/NAME FILE.parquet"
        )
        return
    table = Table("dataset", "kind", "version", box=None)
    for d in datasets:
        table.add_row(esc(d.name), d.kind, str(d.version))
    console.print(table)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Dataset, ZONE/NAME."), stack_name: str | None = _STACK
) -> None:
    """Show a dataset: kind, schema, partitions, versions, size and rows."""
    d = _lake(stack_name).describe(_name(name))
    console.print(f"Dataset [bold]{esc(d.name)}[/] ({d.kind})  version {d.version}")
    rows = "unknown" if d.rows is None else f"{d.rows:,}"
    for label, value in (
        ("url", d.url),
        (
            "versions",
            f"{len(d.versions)} ({d.versions[0]}..{d.versions[-1]})" if d.versions else "-",
        ),
        ("updated", ago(d.updated)),
        ("size", f"{_size(d.size_bytes)} in {d.files} file{'s' if d.files != 1 else ''}"),
        ("rows" if d.kind == "table" else "files", rows),
        ("partitioned by", ", ".join(d.partition_by) or "-"),
    ):
        console.print(f"  {label:<15} {value}", markup=False)
    table = Table("column", "type", box=None, title="schema", title_justify="left")
    for column, type_ in d.schema:
        table.add_row(esc(column), esc(type_))
    console.print(table)


@app.command("head")
def head(
    name: str = typer.Argument(..., help="Dataset, ZONE/NAME."),
    rows: int = typer.Option(
        20, "-n", "--rows", min=1, help="How many rows (files for a file dataset)."
    ),
    version: int | None = typer.Option(
        None, "--version", "-v", min=0, help="Version to read (default: latest)."
    ),
    stack_name: str | None = _STACK,
) -> None:
    """Print the first rows of a table (or the first files of a file dataset)."""
    lake = _lake(stack_name)
    name = _name(name)
    info = lake.describe(name)
    if info.kind == "files":
        table = Table("path", "size", "content type", "sha256", box=None)
        for f in lake.files(name, version)[:rows]:
            table.add_row(esc(f.path), _size(f.size), esc(f.content_type), f.sha256[:12])
        console.print(table)
        return
    from dockyard.lake.api import head as first_rows

    got = first_rows(lake, name, rows, version)
    columns = [c for c, _ in info.schema]
    table = Table(*(esc(c) for c in columns), box=None)
    for row in got:
        table.add_row(*(esc(_cell(row.get(c))) for c in columns))
    console.print(table)
    if not got:
        console.print("(no rows)")


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


@app.command("history")
def history(
    name: str = typer.Argument(..., help="Dataset, ZONE/NAME."), stack_name: str | None = _STACK
) -> None:
    """List every version of a dataset: when, which operation, rows (or files) added."""
    versions = _lake(stack_name).history(_name(name))
    table = Table("version", "committed", "operation", "added", box=None)
    for v in versions:
        added = "-" if v.rows_added is None else f"{v.rows_added:,}"
        table.add_row(
            str(v.version), v.timestamp.strftime("%Y-%m-%d %H:%M:%S"), esc(v.operation), added
        )
    console.print(table)


@app.command("import")
def import_(
    name: str = typer.Argument(..., help="Table to write, ZONE/NAME (created if missing)."),
    source: Path = typer.Argument(
        ..., help="A .parquet or .csv file, or a folder of them (read as one dataset)."
    ),
    mode: str = typer.Option("append", "--mode", "-m", help="append, or overwrite the table."),
    partition_by: list[str] = typer.Option(
        [], "--partition-by", "-p", help="Partition column of a new table (repeatable)."
    ),
    stack_name: str | None = _STACK,
) -> None:
    """Import a parquet or CSV file, or a folder of them, into a table.

    The input is streamed in record batches (memory stays flat whatever its size), with a
    progress bar on inputs of 8 MiB or more. Append to an existing table (the columns must
    match), or --mode overwrite it.
    """
    from dockyard.errors import LakeError

    if mode not in ("append", "overwrite"):
        raise LakeError(f"--mode {mode!r}: use append or overwrite.")
    if not source.exists():
        raise LakeError(f"Cannot import {source}: no such file or folder.")
    lake = _lake(stack_name)
    name = _name(name)
    reader, total, unit = _open_source(source)
    large = _bytes_of(source) >= _LARGE_BYTES
    rows = [0]
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]import[/] " + esc(name)),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} " + unit),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not large,
    )
    with progress:
        task = progress.add_task("import", total=total)

        def counted() -> Iterator[pa.RecordBatch]:
            for batch, done in reader:
                rows[0] += batch.num_rows
                progress.update(task, completed=done)
                yield batch

        import pyarrow as pa

        stream = pa.RecordBatchReader.from_batches(_peek_schema(source), counted())
        version = lake.write(
            name,
            stream,
            mode="overwrite" if mode == "overwrite" else "append",
            partition_by=partition_by or None,
        )
    console.print(f"Imported {rows[0]:,} rows into {esc(name)} (version {version}).")


def _name(text: str) -> str:
    """A ``lake://`` reference is accepted where a name is asked for."""
    return text.removeprefix("lake://")


def _bytes_of(source: Path) -> int:
    if source.is_file():
        return source.stat().st_size
    return sum(p.stat().st_size for p in source.rglob("*") if p.is_file())


def _format_of(source: Path) -> str:
    from dockyard.errors import LakeError

    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    suffixes = {p.suffix.lower() for p in files if not p.name.startswith((".", "_"))}
    if suffixes <= {".parquet", ".pq"} and suffixes:
        return "parquet"
    if suffixes == {".csv"}:
        return "csv"
    raise LakeError(
        f"Cannot import {source}: give a .parquet or .csv file, or a folder holding only one "
        f"of those (found {', '.join(sorted(suffixes)) or 'no files'})."
    )


def _peek_schema(source: Path) -> pa.Schema:
    import pyarrow.dataset as pds

    return pds.dataset(str(source), format=_format_of(source)).schema


def _open_source(source: Path) -> tuple[Iterator[tuple[pa.RecordBatch, int]], int, str]:
    """Batches of ``source`` with a progress figure each, the figure's total and unit."""
    import pyarrow.dataset as pds

    fmt = _format_of(source)
    if fmt == "parquet":
        dataset = pds.dataset(str(source), format="parquet")
        total = dataset.count_rows()

        def parquet() -> Iterator[tuple[pa.RecordBatch, int]]:
            done = 0
            for batch in dataset.to_batches(batch_size=65_536):
                done += batch.num_rows
                yield batch, done

        return parquet(), total, "rows"
    files = [source] if source.is_file() else sorted(source.rglob("*.csv"))
    total_bytes = sum(f.stat().st_size for f in files)

    def csv() -> Iterator[tuple[pa.RecordBatch, int]]:
        import pyarrow.csv as pcsv

        # pyarrow's own reader streams a few blocks ahead (a Python file object would be
        # read whole); each batch is one block of text, which gives the progress.
        schema = _peek_schema(source)
        read = pcsv.ReadOptions(block_size=_CSV_BLOCK)
        convert = pcsv.ConvertOptions(column_types=schema)
        before = 0
        for path in files:
            size = path.stat().st_size
            done = 0
            for batch in pcsv.open_csv(str(path), read_options=read, convert_options=convert):
                done = min(size, done + _CSV_BLOCK)
                yield batch, before + done
            before += size

    return csv(), total_bytes, "bytes"
