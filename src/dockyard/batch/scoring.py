"""The chunk function: read one chunk, validate, predict, write its file. Runs anywhere.

:func:`score_chunk` is what the local executor calls in the driver and what Dask workers
run: everything it needs travels in a :class:`ChunkTask` (pickled), the model is loaded
once per process from its :class:`~dockyard.runtime.spec.RuntimeSpec` (the shared
runtime, never a loader of our own), and it *never commits*: it returns a
:class:`ChunkResult` for the driver to commit. Writing the same chunk twice writes the
same file, so a worker re-running a task after a crash does no harm.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.batch.output import ChunkFile, ChunkWriter, OutputTable, write_chunk_file
from dockyard.batch.sources import ROW_POSITION, Chunk, Source, iter_chunk
from dockyard.errors import InvalidInputError, ServingError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from dockyard.runtime.model import ModelRuntime
    from dockyard.runtime.spec import RuntimeSpec

__all__ = ["ChunkResult", "ChunkTask", "score_chunk"]


@dataclass(frozen=True)
class ChunkTask:
    """Everything one chunk needs, in any process."""

    job_id: str
    chunk: Chunk
    source: Source
    model: RuntimeSpec
    output: OutputTable
    rejects: OutputTable
    id_column: str | None
    filter: pc.Expression | None = None
    filter_columns: tuple[str, ...] = ()
    write_rejects: bool = True
    batch_rows: int = 100_000  # rows validated and predicted at a time (flat memory)


@dataclass(frozen=True)
class ChunkResult:
    """What scoring a chunk gave: its file (to commit), rejects, or the error."""

    chunk_id: str
    rows: int
    rejected: int
    seconds: float
    file: ChunkFile | None = None
    rejects_file: ChunkFile | None = None
    error: str | None = None


#: Models loaded in this process (a worker scores many chunks of one job with one copy).
_RUNTIMES: dict[tuple[str, int, bool, str], ModelRuntime] = {}
_RUNTIMES_LOCK = threading.Lock()


def _runtime(spec: RuntimeSpec) -> ModelRuntime:
    key = (spec.name, spec.version, spec.predict_proba, spec.artifact.uri)
    with _RUNTIMES_LOCK:
        runtime = _RUNTIMES.get(key)
        if runtime is None:
            if len(_RUNTIMES) >= 4:  # bounded: a long-lived worker serves many jobs
                _RUNTIMES.pop(next(iter(_RUNTIMES)))
            runtime = _RUNTIMES[key] = spec.load()
        return runtime


def score_chunk(task: ChunkTask) -> ChunkResult:
    """Score one chunk and write its output file; errors are returned, not raised."""
    started = time.perf_counter()
    chunk_id = task.chunk.chunk_id
    writer = ChunkWriter(task.output, task.job_id, chunk_id)
    try:
        runtime = _runtime(task.model)
        names = list(runtime.signature.column_names)
        wanted = list(dict.fromkeys([*names, *([task.id_column] if task.id_column else [])]))
        wanted += [c for c in task.filter_columns if c not in wanted]
        rejected: list[pa.Table] = []
        position = task.chunk.row_base
        for table in iter_chunk(task.source, task.chunk, wanted, task.batch_rows):
            ids = _ids(task, table, position)
            position += table.num_rows
            if task.filter is not None:
                kept = table.append_column("__id", ids).filter(task.filter)
                table, ids = kept.drop_columns(["__id"]), kept.column("__id")
            _score_batch(task, runtime, table, ids, names, writer, rejected)
        file = writer.close()
        rejects_file = None
        n_rejected = sum(t.num_rows for t in rejected)
        if rejected and task.write_rejects:
            import pyarrow as pa

            rejects_file = write_chunk_file(
                task.rejects, task.job_id, chunk_id, pa.concat_tables(rejected)
            )
        rows = file.rows if file is not None else 0
        seconds = time.perf_counter() - started
        return ChunkResult(chunk_id, rows, n_rejected, seconds, file, rejects_file)
    except ServingError as exc:  # the model raised: the version is named in the message
        writer.abort()
        return ChunkResult(chunk_id, 0, 0, time.perf_counter() - started, error=str(exc))
    except Exception as exc:  # an error boundary: one chunk's failure never stops a job
        writer.abort()
        message = f"chunk {chunk_id} failed: {type(exc).__name__}: {exc}"
        return ChunkResult(chunk_id, 0, 0, time.perf_counter() - started, error=message)


def _ids(task: ChunkTask, table: pa.Table, position: int) -> Any:
    import numpy as np
    import pyarrow as pa

    if task.id_column:
        return table.column(task.id_column)
    # From numpy, not a Python range: pa.array(range(...)) of 100,000 positions took ~14 ms,
    # 15% of a chunk's scoring in benchmarks/bench_batch.py; this takes ~0.1 ms.
    positions = np.arange(position, position + table.num_rows, dtype=np.int64)
    return pa.chunked_array([pa.array(positions)])


def _score_batch(
    task: ChunkTask,
    runtime: ModelRuntime,
    table: pa.Table,
    ids: Any,
    names: list[str],
    writer: ChunkWriter,
    rejected: list[pa.Table],
) -> None:
    import pyarrow as pa

    if table.num_rows == 0:
        return
    columns = {n: table.column(n).to_numpy() for n in names}
    try:
        batch = _validate(runtime, columns, table.num_rows)
    except InvalidInputError:
        bad, reasons = runtime.validator.invalid_rows(columns)
        if not bad.any():
            raise
        good = ~bad
        rejected.append(_rejects_table(task, runtime, ids, bad, reasons))
        if not good.any():
            return
        batch = runtime.validator.columns_to_batch({n: v[good] for n, v in columns.items()})
        ids = ids.filter(pa.array(good))
    predictions = runtime.predict_batch(batch)
    writer.write(_output_table(task, runtime, ids, predictions))


def _validate(runtime: ModelRuntime, columns: dict[str, Any], rows: int) -> Any:
    """The validated batch of a chunk's columns.

    One float matrix (the common case) is filled column by column into a Fortran-order
    array, whose columns are contiguous: stacking 30 columns of 100,000 rows into rows
    (``np.column_stack``, what :meth:`Validator.columns_to_batch` does) costs about 20 ms,
    this about 4 ms; the checks are the validator's own (:meth:`Validator.array_to_batch`).
    """
    import numpy as np

    arrays = list(columns.values())
    dtypes = {a.dtype for a in arrays}
    if not runtime.signature.is_matrix or len(dtypes) != 1 or arrays[0].dtype.kind != "f":
        return runtime.validator.columns_to_batch(columns)
    matrix = np.empty((rows, len(arrays)), dtype=arrays[0].dtype, order="F")
    for i, values in enumerate(arrays):
        matrix[:, i] = values
    return runtime.validator.array_to_batch(matrix)


def _id_field(task: ChunkTask) -> str:
    return task.id_column or ROW_POSITION


def _constant(value: Any, n: int, type_: pa.DataType) -> pa.Array:
    """A column of ``n`` times ``value``."""
    import numpy as np
    import pyarrow as pa

    raw = str(value).encode()
    if pa.types.is_string(type_) and n * len(raw) < 2**31:
        # Built from its buffers: pa.repeat of a string takes ~30 ms for 100,000 rows
        # (a third of a chunk's scoring in benchmarks/bench_batch.py), this ~1 ms.
        offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(raw))
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(raw * n))
    return pa.repeat(pa.scalar(value, type=type_), n) if n else pa.array([], type=type_)


def _output_table(
    task: ChunkTask, runtime: ModelRuntime, ids: Any, predictions: np.ndarray
) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    n = len(ids)
    data: dict[str, Any] = {_id_field(task): ids}
    if task.model.predict_proba:
        probs = np.asarray(predictions, dtype=np.float64)
        classes = getattr(runtime.model, "classes_", None)
        labels = list(classes) if classes is not None else list(range(probs.shape[1]))
        data["prediction"] = pa.array(np.asarray(labels)[probs.argmax(axis=1)])
        for i, label in enumerate(labels):
            data[f"proba_{label}"] = pa.array(probs[:, i], type=pa.float64())
    elif predictions.ndim == 1:
        data["prediction"] = pa.array(predictions)
    else:
        flat = predictions.reshape(n, -1)
        data["prediction"] = pa.FixedSizeListArray.from_arrays(
            pa.array(flat.reshape(-1)), flat.shape[1]
        )
    data["model_name"] = _constant(runtime.name, n, pa.string())
    data["model_version"] = _constant(runtime.version, n, pa.int64())
    data["job_id"] = _constant(task.job_id, n, pa.string())
    return pa.table(data)


def _rejects_table(
    task: ChunkTask, runtime: ModelRuntime, ids: Any, bad: np.ndarray, reasons: list[str | None]
) -> pa.Table:
    import pyarrow as pa

    n = int(bad.sum())
    return pa.table(
        {
            _id_field(task): ids.filter(pa.array(bad)),
            "reason": pa.array([r for r, b in zip(reasons, bad, strict=True) if b], pa.string()),
            "chunk_id": _constant(task.chunk.chunk_id, n, pa.string()),
            "model_name": _constant(runtime.name, n, pa.string()),
            "model_version": _constant(runtime.version, n, pa.int64()),
            "job_id": _constant(task.job_id, n, pa.string()),
        }
    )
