"""The output side of a job: chunk files, and commits that make them part of a table.

Exactly-once rests on three rules:

* a chunk's rows go to one file whose name is derived from ``(job_id, chunk_id)``
  (:func:`chunk_file`), written by whoever scores the chunk (a Dask worker included),
  rewritten whole when the chunk is scored again: an idempotent write;
* only the driver commits, one Delta transaction per chunk, which adds the file *and*
  records the chunk it holds (custom commit metadata ``dockyard.batch.chunks``, plus the
  job's application transaction, ``CommitProperties(app_transactions=...)``). The commit
  is atomic: a chunk is in the table with all its rows or not at all;
* a restarted job asks the table which of its chunks it holds (:meth:`Committer.committed`)
  and scores only the others; files of chunks never committed are not in the table's
  log, so readers never see them, and the rerun overwrites them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.batch.sources import is_local
from dockyard.errors import BatchError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs

__all__ = [
    "JOB_KEY",
    "ChunkFile",
    "ChunkWriter",
    "Committer",
    "OutputTable",
    "chunk_file",
    "write_chunk_file",
]

#: Commit metadata keys: the job id, and the chunks a commit holds ({id: [rows, rejected]}).
JOB_KEY = "dockyard.batch.job_id"
CHUNKS_KEY = "dockyard.batch.chunks"


@dataclass(frozen=True)
class OutputTable:
    """A Delta table a job writes to (its predictions or its rejects)."""

    uri: str  # display: lake://predictions/churn or a path
    location: str  # the table's URI
    storage_options: dict[str, str]


@dataclass(frozen=True)
class ChunkFile:
    """A written, not yet committed, chunk file."""

    path: str  # relative to the table's root
    size: int
    rows: int
    schema: pa.Schema


def chunk_file(job_id: str, chunk_id: str) -> str:
    """The file name of a chunk's rows, relative to the table root: never random."""
    return f"batch-{job_id}-{chunk_id}.parquet"


def _filesystem(table: OutputTable) -> tuple[pafs.FileSystem, str]:
    import pyarrow.fs as pafs

    if is_local(table.location):
        root = table.location.removeprefix("file://")
        return pafs.LocalFileSystem(), root
    from deltalake.fs import DeltaStorageHandler

    return pafs.PyFileSystem(DeltaStorageHandler(table.location, table.storage_options)), ""


class ChunkWriter:
    """Streams a chunk's rows into its file; :meth:`close` returns the :class:`ChunkFile`
    (None when no row was written: an empty chunk adds no file)."""

    def __init__(self, table: OutputTable, job_id: str, chunk_id: str) -> None:
        self._fs, root = _filesystem(table)
        self.name = chunk_file(job_id, chunk_id)
        self._root = root
        self._path = f"{root}/{self.name}" if root else self.name
        # Written under a temporary name and renamed: a reader of a half-written file (a
        # process killed mid-write) would fail; a rename is atomic on a local folder.
        self._tmp = f"{self._path}.tmp" if root else self._path
        self._writer: Any = None
        self._stream: Any = None
        self._schema: pa.Schema | None = None
        self.rows = 0

    def write(self, data: pa.Table) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:
            if self._root:
                self._fs.create_dir(self._root, recursive=True)
            self._stream = self._fs.open_output_stream(self._tmp)
            self._schema = data.schema
            import pyarrow as pa

            # Dictionary encoding only for the text columns (the model's name, the job id:
            # one value each) and statistics only for the id (the first column): on the
            # numeric columns both cost more than the rest of the write (measured in
            # benchmarks/bench_batch.py: 30 ms against 5 ms for 100,000 rows).
            text = [f.name for f in data.schema if pa.types.is_string(f.type)]
            self._writer = pq.ParquetWriter(
                self._stream,
                data.schema,
                compression="snappy",
                use_dictionary=text,
                write_statistics=[data.schema.names[0]],
            )
        self._writer.write_table(data)
        self.rows += data.num_rows

    def close(self) -> ChunkFile | None:
        if self._writer is None or self._schema is None:
            return None
        self._writer.close()
        self._stream.close()
        if self._tmp != self._path:
            self._fs.move(self._tmp, self._path)
        size = self._fs.get_file_info(self._path).size or 0
        return ChunkFile(self.name, int(size), self.rows, self._schema)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._stream.close()


def write_chunk_file(table: OutputTable, job_id: str, chunk_id: str, data: pa.Table) -> ChunkFile:
    """Write ``data`` to the chunk's file in ``table``'s folder (replacing it if there)."""
    writer = ChunkWriter(table, job_id, chunk_id)
    writer.write(data)
    file = writer.close()
    if file is None:  # pragma: no cover - write() opened it
        raise BatchError(f"chunk {chunk_id}: nothing written")
    return file


def _open(table: OutputTable) -> Any:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(table.location, storage_options=table.storage_options or None)
    except TableNotFoundError:
        return None


def _delta_fields(schema: Any) -> list[tuple[str, str]]:
    return [(f["name"], json.dumps(f["type"])) for f in json.loads(schema.to_json())["fields"]]


class Committer:
    """The driver's handle on one output table: opened once, kept current, committing.

    Only the driver holds one (workers only write files), so each table of a job has one
    committer.
    """

    def __init__(self, table: OutputTable) -> None:
        self.table = table
        self._dt = _open(table)

    def version(self) -> int | None:
        """The table's newest version, or None when it does not exist yet."""
        return None if self._dt is None else int(self._dt.version())

    def committed(self, job_id: str) -> dict[str, tuple[int, int]]:
        """The chunks of ``job_id`` the table holds: {chunk_id: (rows, rejected)}.

        Read from the commits' metadata, and from the table's files too (a chunk's file
        name says its job and chunk), so a table whose old log entries were cleaned up
        still tells.
        """
        dt = self._dt
        if dt is None:
            return {}
        found: dict[str, tuple[int, int]] = {}
        for commit in dt.history():  # bounded: the table's commits
            if commit.get(JOB_KEY) != job_id:
                continue
            raw = commit.get(CHUNKS_KEY)
            chunks = json.loads(raw) if isinstance(raw, str) else (raw or {})
            for chunk_id, figures in chunks.items():
                found[chunk_id] = (int(figures[0]), int(figures[1]))
        prefix = f"batch-{job_id}-"
        for path in dt.file_uris():
            name = path.rsplit("/", 1)[-1]
            if name.startswith(prefix) and name.endswith(".parquet"):
                found.setdefault(name[len(prefix) : -len(".parquet")], (-1, -1))
        return found

    def commit(
        self,
        job_id: str,
        chunk_id: str,
        file: ChunkFile,
        *,
        rejected: int = 0,
        extra: dict[str, str] | None = None,
    ) -> int:
        """Add one chunk's file in one transaction recording it; the new version."""
        return self.commit_many(job_id, [(chunk_id, file, rejected)], extra=extra)

    def commit_many(
        self,
        job_id: str,
        chunks: list[tuple[str, ChunkFile, int]],
        *,
        extra: dict[str, str] | None = None,
    ) -> int:
        """Add the files of ``chunks`` ((chunk_id, file, rejected) each) in one
        transaction recording them all; returns the new version.

        Creates the table on its first chunk. Raises BatchError when the table exists
        with other columns than the chunks' (another model's output, say), naming them.
        """
        if not chunks:
            raise BatchError("nothing to commit")
        file = chunks[0][1]
        from deltalake import CommitProperties, DeltaTable, Transaction
        from deltalake.schema import Schema as DeltaSchema
        from deltalake.transaction import AddAction

        table = self.table
        schema = DeltaSchema.from_arrow(file.schema)
        if self._dt is None:
            try:
                self._dt = DeltaTable.create(
                    table.location,
                    schema,
                    mode="ignore",
                    storage_options=table.storage_options or None,
                )
            except Exception as exc:  # delta-rs raises several types for a bad location
                raise BatchError(f"Cannot create the output table {table.uri}: {exc}") from exc
        dt = self._dt
        have, want = _delta_fields(dt.schema()), _delta_fields(schema)
        if have != want:
            raise BatchError(
                f"The output table {table.uri} has columns {', '.join(n for n, _ in have)} but "
                f"this job writes {', '.join(n for n, _ in want)} (with other types or order); "
                "give another --output, or the same model and options that wrote it."
            )
        app_id = f"dockyard.batch/{job_id}"
        previous = dt.transaction_version(app_id) or 0
        now = int(time.time() * 1000)
        actions = []
        for _, f, _ in chunks:
            if _delta_fields(DeltaSchema.from_arrow(f.schema)) != want:
                raise BatchError(f"The chunk files of job {job_id} have different columns.")
            stats = json.dumps({"numRecords": f.rows})
            actions.append(AddAction(f.path, f.size, {}, now, True, stats))
        held = {chunk_id: [f.rows, rejected] for chunk_id, f, rejected in chunks}
        metadata = {JOB_KEY: job_id, CHUNKS_KEY: json.dumps(held)}
        metadata.update(extra or {})
        dt.create_write_transaction(
            actions,
            "append",
            dt.schema(),
            commit_properties=CommitProperties(
                custom_metadata=metadata,
                app_transactions=[Transaction(app_id=app_id, version=previous + 1)],
            ),
        )
        dt.update_incremental()  # the snapshot moves on: the next commit reads its txn
        return int(dt.version())
