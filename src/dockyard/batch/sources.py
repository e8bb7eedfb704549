"""Inputs of a batch job and their deterministic chunks.

An input is a lake table (``lake://zone/name[@version]``), a Delta table's folder, or a
parquet or CSV file or folder of them. :func:`plan_chunks` cuts it into chunks that
depend only on the input (its pinned version) and the options, never on time or chance:
the files in path order, each file's row groups grouped up to ``chunk_rows`` rows (a
larger row group is cut into row ranges; CSV files into row ranges). A chunk's id is its
index in that order, so a job restarted on the same input finds the same chunks.

:func:`read_chunk` reads one chunk in any process (a Dask worker included): a
:class:`Source` and a :class:`Chunk` are small frozen dataclasses, pickled to workers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import BatchError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

    from dockyard.stacks.stack import Stack

__all__ = [
    "ROW_POSITION",
    "Chunk",
    "Source",
    "is_local",
    "iter_chunk",
    "plan_chunks",
    "read_chunk",
    "resolve_source",
    "resolve_table",
    "source_schema",
]

#: The id column of an output row when the job names none: the row's input position.
ROW_POSITION = "row_position"


@dataclass(frozen=True)
class Source:
    """Where an input is, resolved so that any process can read it.

    ``location`` is a table URI (``kind == "delta"``) or a file or folder path.
    """

    uri: str
    kind: str  # delta | parquet | csv
    location: str
    version: int | None = None
    storage_options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """One deterministic piece of an input: rows ``offset .. offset + length`` of the
    selected row groups of one file (all of them when ``row_groups`` is None)."""

    chunk_id: str
    path: str
    row_groups: tuple[int, ...] | None
    offset: int
    length: int
    row_base: int
    partition: tuple[tuple[str, Any], ...] = ()


def is_local(location: str) -> bool:
    """Whether ``location`` is a path on this machine (no URL scheme, or file://)."""
    return "://" not in location or location.startswith("file://")


def _local_path(location: str) -> str:
    return location.removeprefix("file://")


def resolve_table(text: str, stack: Stack | None) -> tuple[str, str, dict[str, str], int | None]:
    """``lake://zone/name[@v]`` or a Delta folder -> (display uri, table uri, options, v).

    Raises:
        BatchError: not a lake reference or a folder path.
    """
    if text.startswith("lake://"):
        import dockyard.lake as lake_api

        ref = lake_api.parse_ref(text)
        lake = lake_api.open(stack)
        return f"lake://{ref.name}", lake.table_uri(ref.name), lake.storage_options, ref.version
    if "://" in text and not text.startswith("file://"):
        return text, text, {}, None
    path = str(Path(_local_path(text)).expanduser().resolve())
    return path, path, {}, None


def resolve_source(text: str, stack: Stack | None, version: int | None = None) -> Source:
    """The :class:`Source` named by ``text``, its version pinned (latest unless given).

    Raises:
        BatchError: no such file, folder or table, or a version it does not have.
    """
    if text.startswith("lake://") or not is_local(text):
        uri, table_uri, options, pinned = resolve_table(text, stack)
        if version is not None and pinned is not None and version != pinned:
            raise BatchError(
                f"The input {text!r} names version {pinned} but --input-version is {version}; "
                "give one of them."
            )
        version = version if version is not None else pinned
        return Source(uri, "delta", table_uri, _pin(uri, table_uri, options, version), options)
    path = Path(_local_path(text)).expanduser().resolve()
    if not path.exists():
        raise BatchError(
            f"The input {text!r} does not exist; give lake://ZONE/NAME, a parquet or CSV file, "
            "or a folder of them."
        )
    if (path / "_delta_log").is_dir():
        return Source(str(path), "delta", str(path), _pin(str(path), str(path), {}, version))
    if version is not None:
        raise BatchError(f"--input-version {version} needs a Delta table input; {text!r} is files.")
    files = _files(path)
    if not files:
        raise BatchError(f"The input folder {text!r} holds no .parquet or .csv file.")
    kinds = {"csv" if f.suffix.lower() == ".csv" else "parquet" for f in files}
    if len(kinds) > 1:
        raise BatchError(f"The input folder {text!r} mixes parquet and CSV files; give one kind.")
    return Source(str(path), kinds.pop(), str(path))


def _files(path: Path) -> list[Path]:
    if path.is_file():
        if path.suffix.lower() not in (".parquet", ".csv", ".pq"):
            raise BatchError(
                f"Cannot read {str(path)!r}: batch inputs are .parquet or .csv files, a folder "
                "of them, a Delta table or lake://ZONE/NAME."
            )
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in (".parquet", ".csv", ".pq")
        and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)
    )


def _pin(uri: str, table_uri: str, options: dict[str, str], version: int | None) -> int:
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    try:
        table = DeltaTable(table_uri, storage_options=options or None)
    except TableNotFoundError as exc:
        raise BatchError(
            f"The input table {uri} does not exist; list datasets with: dockyard lake ls"
        ) from exc
    except (DeltaError, OSError) as exc:
        raise BatchError(f"Cannot open the input table {uri}: {exc}") from exc
    latest = table.version()
    if version is None:
        return latest
    if not 0 <= version <= latest:
        raise BatchError(
            f"The input table {uri} has no version {version}; its versions are 0..{latest} "
            f"(see dockyard lake history)."
        )
    return version


# --- datasets, cached per process (a worker reads many chunks of one input) -------------


def _key(source: Source) -> tuple[Any, ...]:
    return (
        source.kind,
        source.location,
        source.version,
        tuple(sorted(source.storage_options.items())),
    )


_DATASETS: dict[tuple[Any, ...], Any] = {}
_FILESYSTEMS: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def _cached(cache: dict[tuple[Any, ...], Any], source: Source, make: Any) -> Any:
    key = _key(source)
    with _LOCK:
        if key not in cache:
            if len(cache) >= 8:  # bounded: a worker process outlives many jobs
                cache.pop(next(iter(cache)))
            cache[key] = make(source)
        return cache[key]


def _dataset(source: Source) -> pads.Dataset:
    return _cached(_DATASETS, source, _open_dataset)


def _filesystem(source: Source) -> pafs.FileSystem:
    return _cached(_FILESYSTEMS, source, _open_filesystem)


def _open_dataset(source: Source) -> pads.Dataset:
    import pyarrow.dataset as pads

    if source.kind == "delta":
        from deltalake import DeltaTable

        table = DeltaTable(
            source.location, version=source.version, storage_options=source.storage_options or None
        )
        return table.to_pyarrow_dataset()
    files = [str(p) for p in _files(Path(source.location))]
    return pads.dataset(files, format="csv" if source.kind == "csv" else "parquet")


def _open_filesystem(source: Source) -> pafs.FileSystem:
    import pyarrow.fs as pafs

    if is_local(source.location):
        return pafs.LocalFileSystem()
    from deltalake.fs import DeltaStorageHandler

    return pafs.PyFileSystem(DeltaStorageHandler(source.location, source.storage_options))


def _full_path(source: Source, path: str) -> str:
    if source.kind == "delta" and is_local(source.location):
        return os.path.join(_local_path(source.location), path)
    return path


def source_schema(source: Source) -> pa.Schema:
    """The input's columns and types (partition columns included)."""
    return _dataset(source).schema


def plan_chunks(
    source: Source, chunk_rows: int, filter: pc.Expression | None = None
) -> list[Chunk]:
    """Cut ``source`` into chunks of at most about ``chunk_rows`` rows, deterministically.

    Files a filter rules out by partition values or statistics are left out.
    """
    import pyarrow.dataset as pads

    if chunk_rows < 1:
        raise BatchError(f"--chunk-rows must be at least 1, got {chunk_rows}.")
    dataset = _dataset(source)
    fragments = sorted(
        dataset.get_fragments(filter=filter) if filter is not None else dataset.get_fragments(),
        key=lambda f: f.path,
    )
    chunks: list[Chunk] = []
    base = 0

    def add(path: str, groups: tuple[int, ...] | None, offset: int, length: int, part: Any) -> None:
        chunks.append(
            Chunk(f"c{len(chunks):06d}", path, groups, offset, length, base + offset, part)
        )

    for fragment in fragments:
        keys = pads.get_partition_keys(fragment.partition_expression)
        part = tuple(sorted(keys.items()))
        if source.kind == "csv":
            total = _count_csv_rows(fragment)
            for offset in range(0, total, chunk_rows):
                add(fragment.path, None, offset, min(chunk_rows, total - offset), part)
            base += total
            continue
        sizes = [rg.num_rows for rg in fragment.row_groups]
        group: list[int] = []
        group_rows = 0
        for index, n in enumerate(sizes):
            # A row group is never cut (a reader decodes it from its start): a larger one
            # is a chunk of its own, streamed in batches of chunk_rows when scored.
            if group and group_rows + n > chunk_rows:
                add(fragment.path, tuple(group), 0, group_rows, part)
                base += group_rows
                group, group_rows = [], 0
            group.append(index)
            group_rows += n
        if group:
            add(fragment.path, tuple(group), 0, group_rows, part)
            base += group_rows
    return chunks


def _count_csv_rows(fragment: Any) -> int:
    return sum(batch.num_rows for batch in fragment.to_batches())


def read_chunk(source: Source, chunk: Chunk, columns: list[str] | None = None) -> pa.Table:
    """The rows of ``chunk`` as one table (see :func:`iter_chunk` to stream them)."""
    import pyarrow as pa

    pieces = list(iter_chunk(source, chunk, columns))
    if not pieces:
        return _empty(source, columns)
    return pa.concat_tables(pieces)


def _empty(source: Source, columns: list[str] | None) -> pa.Table:
    schema = source_schema(source)
    names = list(columns) if columns is not None else list(schema.names)
    return schema.empty_table().select(names)


def iter_chunk(
    source: Source, chunk: Chunk, columns: list[str] | None = None, batch_rows: int = 1 << 20
) -> Iterator[pa.Table]:
    """Stream the rows of ``chunk`` in tables of at most ``batch_rows`` rows (only
    ``columns`` when given; partition columns filled in), so a chunk larger than the
    batch (one big row group) never sits decoded in memory whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = source_schema(source)
    wanted = list(columns) if columns is not None else list(schema.names)
    partition = dict(chunk.partition)
    file_columns = [c for c in wanted if c not in partition]

    def finish(table: pa.Table) -> pa.Table:
        for name in wanted:
            if name in partition:
                field_type = schema.field(name).type
                value = pa.array([partition[name]] * table.num_rows).cast(field_type)
                table = table.append_column(pa.field(name, field_type), value)
        return table.select(wanted)

    if source.kind == "csv":
        yield finish(_read_csv_rows(source, chunk, file_columns))
        return
    fs = _filesystem(source)
    with fs.open_input_file(_full_path(source, chunk.path)) as handle:
        reader = pq.ParquetFile(handle)
        groups = list(chunk.row_groups) if chunk.row_groups is not None else None
        seen = 0
        end = chunk.offset + chunk.length
        for batch in reader.iter_batches(  # bounded: the chunk's row groups
            batch_size=batch_rows, row_groups=groups, columns=file_columns
        ):
            lo, hi = seen, seen + batch.num_rows
            seen = hi
            if hi <= chunk.offset:
                continue
            start = max(0, chunk.offset - lo)
            piece = batch.slice(start, min(hi, end) - lo - start)
            yield finish(pa.Table.from_batches([piece]))
            if hi >= end:
                return


def _read_csv_rows(source: Source, chunk: Chunk, columns: list[str]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    schema = source_schema(source)
    options = pcsv.ConvertOptions(column_types=schema, include_columns=columns)
    reader = pcsv.open_csv(chunk.path, convert_options=options)
    seen = 0
    pieces: list[pa.RecordBatch] = []
    end = chunk.offset + chunk.length
    for batch in reader:  # bounded: the file's rows, read once in order
        lo, hi = seen, seen + batch.num_rows
        seen = hi
        if hi <= chunk.offset:
            continue
        pieces.append(batch.slice(max(0, chunk.offset - lo), min(hi, end) - max(lo, chunk.offset)))
        if hi >= end:
            break
    return pa.Table.from_batches(pieces, schema=pa.schema([schema.field(c) for c in columns]))
