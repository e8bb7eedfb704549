"""``dockyard.batch.run``: a batch scoring job, exactly once, resumable.

The driver (this module) pins the input's version, cuts it into deterministic chunks,
asks the output table which chunks the job already holds, and scores the others through
an executor (:mod:`~dockyard.batch.executors`); each result is committed by the driver
alone, one Delta transaction per chunk (:mod:`~dockyard.batch.output`). The job's record
in the metadata database (:class:`~dockyard.batch.store.BatchStore`) holds its identity,
so a rerun with the same ``job_id`` and other options is refused, and its figures for
``dockyard batch status``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.batch.executors import Executor, dask_client, parse_executor, run_tasks
from dockyard.batch.filters import parse_filter, to_expression
from dockyard.batch.output import Committer, OutputTable
from dockyard.batch.scoring import ChunkResult, ChunkTask, _runtime
from dockyard.batch.sources import (
    Chunk,
    Source,
    is_local,
    plan_chunks,
    resolve_source,
    resolve_table,
    source_schema,
)
from dockyard.batch.store import BatchJobRecord, BatchJobSpec, BatchStore
from dockyard.errors import BatchError

if TYPE_CHECKING:
    from dockyard.runtime.spec import RuntimeSpec
    from dockyard.stacks.stack import Stack

__all__ = ["JobProgress", "JobStatus", "JobSummary", "run", "status"]

#: Chunks the local executor scores at once, on threads: reading parquet, numpy's checks,
#: the model's BLAS calls and writing parquet release the GIL, so two chunks overlap on
#: two cores (1.19 M -> 1.50 M rows/s in benchmarks/bench_batch.py); memory stays flat
#: (two chunks decoded at a time, whatever the input's size).
LOCAL_IN_FLIGHT = 2

#: The most chunks one commit holds: what a kill can lose is at most this many chunks' work.
_COMMIT_GROUP = 32

_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class JobProgress:
    """Figures of a running job, handed to ``progress`` after each chunk."""

    job_id: str
    chunks_total: int
    chunks_done: int
    chunks_failed: int
    rows: int
    rejected: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class JobSummary:
    """What a :func:`run` did. ``rows``/``rejected``/``seconds`` are this run's."""

    job_id: str
    model_name: str
    model_version: int
    input: str
    input_version: int | None
    output: str
    output_version: int | None
    rejects: str
    chunks_total: int
    chunks_done: int
    chunks_skipped: int
    chunks_failed: int
    rows: int
    rejected: int
    seconds: float
    errors: tuple[tuple[str, str], ...] = ()
    nothing_to_do: bool = False

    @property
    def status(self) -> str:
        return "failed" if self.chunks_failed else "succeeded"

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        """One paragraph for people."""
        model = f"{self.model_name}:{self.model_version}"
        if self.nothing_to_do:
            return (
                f"Job {self.job_id} is already complete: {self.chunks_total} chunks of "
                f"{self.input} scored by {model} are in {self.output}; nothing to do."
            )
        text = (
            f"Job {self.job_id}: {self.rows:,} rows scored by {model} in {self.seconds:.1f} s "
            f"({self.rows_per_second:,.0f} rows/s) into {self.output} version "
            f"{self.output_version}; chunks {self.chunks_done + self.chunks_skipped}/"
            f"{self.chunks_total} done ({self.chunks_skipped} already committed)"
        )
        if self.rejected:
            text += f", {self.rejected:,} rows refused into {self.rejects}"
        if self.chunks_failed:
            text += (
                f", {self.chunks_failed} chunks failed (rerun with --job-id {self.job_id} "
                "to retry them)"
            )
        return text + "."


@dataclass(frozen=True)
class JobStatus:
    """A job's record with its chunks' errors (for ``dockyard batch status``)."""

    job: BatchJobRecord
    errors: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _stack(stack: Stack | str | None) -> Stack:
    from dockyard.stacks.stack import Stack, load_stack

    return stack if isinstance(stack, Stack) else load_stack(stack)


def _rejects_name(output: str) -> str:
    base = output.rstrip("/")
    if base.startswith("lake://"):
        return base.split("@", 1)[0] + "__rejects"
    return base + "__rejects"


def _default_job_id(model: str, version: int, identity: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", model)[:80]
    return f"{safe}-v{version}-{digest}"


def _differences(old: BatchJobSpec, new: BatchJobSpec) -> list[str]:
    out = []
    if (old.model_name, old.model_version) != (new.model_name, new.model_version):
        out.append(
            f"model: it scored with {old.model_name}:{old.model_version}, this run asks for "
            f"{new.model_name}:{new.model_version} ({new.model_ref})"
        )
    for label, a, b in (
        ("input", old.input_uri, new.input_uri),
        ("input version", old.input_version, new.input_version),
        ("output", old.output_uri, new.output_uri),
        ("rejects", old.rejects_uri, new.rejects_uri),
    ):
        if a != b:
            out.append(f"{label}: it used {a}, this run {b}")
    for key in sorted(set(old.options) | set(new.options)):
        if old.options.get(key) != new.options.get(key):
            out.append(
                f"{key}: it used {old.options.get(key)!r}, this run {new.options.get(key)!r}"
            )
    return out


def _check_remote(executor: Executor, source: Source, tables: list[OutputTable], art: Any) -> None:
    if not executor.remote:
        return
    local = [source.uri] if is_local(source.location) else []
    local += [t.uri for t in tables if is_local(t.location)]
    root = str(art.get("path", "")) if isinstance(art, dict) else ""
    if root and is_local(root):
        local.append(f"the artifact store {root}")
    if local:
        raise BatchError(
            f"The scheduler {executor} is on another machine, but {', '.join(local)} "
            "is a local folder its workers cannot reach; put the lake and artifacts on shared "
            "storage (s3://...), or use --executor dask for a cluster on this machine."
        )


def run(
    model_ref: str,
    *,
    input: str,
    output: str,
    id_column: str | None = None,
    chunk_rows: int = 100_000,
    executor: str = "local",
    job_id: str | None = None,
    input_version: int | None = None,
    filter: str | None = None,
    rejects: str | None = None,
    predict_proba: bool = False,
    stack: Stack | str | None = None,
    trust_pickle: bool = False,
    progress: Callable[[JobProgress], None] | None = None,
) -> JobSummary:
    """Score ``input`` with ``model_ref`` into the Delta table ``output``, exactly once.

    Args:
        model_ref: ``churn``, ``churn:3`` or ``churn@production`` (the version used is
            recorded in every output row and in the job).
        input: ``lake://zone/name[@version]``, a Delta table folder, a parquet or CSV file
            or a folder of them.
        output: ``lake://zone/name`` or a Delta table folder (created on first use).
        id_column: the input column copied to each output row (default: the row's input
            position, in column ``row_position``).
        chunk_rows: rows per chunk, about: a chunk is whole parquet row groups (a larger
            row group is a chunk of its own, streamed chunk_rows at a time).
        executor: ``local``, ``dask`` (a local cluster of 2 worker processes) or
            ``dask://HOST:PORT`` (a running scheduler).
        job_id: name the job to resume it; default: derived from the model version, the
            input and its version, the output and the options (the same command resumes).
        input_version: score this version of a table input (default: the latest, pinned
            at the job's start; a resumed job keeps its pinned version).
        filter: ``"region = 'EU' and age >= 18"`` (see :mod:`dockyard.batch.filters`).
        rejects: where rows the signature refuses go (default: ``OUTPUT__rejects``).
        predict_proba: add a ``proba_<class>`` column per class.
        trust_pickle: allow a pickled model (it can run code when loaded).
        progress: called after each chunk with a :class:`JobProgress`.

    Raises:
        BatchError: bad input or options, a job id reused with another model or input, an
            unreachable scheduler.
        ModelNotFoundError: no such model version.
    """
    started = time.perf_counter()
    if not isinstance(chunk_rows, int) or isinstance(chunk_rows, bool) or chunk_rows < 1:
        raise BatchError(f"chunk_rows must be a whole number >= 1, got {chunk_rows!r}.")
    if job_id is not None and not _JOB_ID.match(job_id):
        raise BatchError(
            f"Bad job id {job_id!r}: use letters, digits, '.', '_' or '-' (up to 128, "
            "starting with a letter or digit)."
        )
    how = parse_executor(executor)
    s = _stack(stack)
    store: BatchStore = s.batch_store
    from dockyard.runtime.spec import RuntimeSpec

    spec = RuntimeSpec.resolve(model_ref, s, trust_pickle=trust_pickle, predict_proba=predict_proba)
    runtime = _runtime(spec)
    names = list(runtime.signature.column_names)
    if not names:
        raise BatchError(
            f"Model {spec.label} has no input column names in its signature; batch scoring "
            "reads input columns by name. Register it with a signature (columns)."
        )
    previous = store.get_job(job_id) if job_id else None
    if previous is not None and input_version is None:
        input_version = previous.spec.input_version  # a resumed job keeps its pinned input
    source = resolve_source(input, s, input_version)
    columns = list(source_schema(source).names)
    missing = [n for n in names if n not in columns]
    if missing:
        raise BatchError(
            f"The input {source.uri} lacks the model's input columns {', '.join(missing)} "
            f"(model {spec.label} takes {', '.join(names)}; the input has {', '.join(columns)})."
        )
    if id_column is not None and id_column not in columns:
        raise BatchError(
            f"The id column {id_column!r} is not in the input {source.uri}; its columns are "
            f"{', '.join(columns)}."
        )
    conditions = parse_filter(filter) if filter is not None else []
    expression = to_expression(conditions, columns) if conditions else None
    out_uri, out_loc, out_opts, _ = resolve_table(output, s)
    rej_uri, rej_loc, rej_opts, _ = resolve_table(rejects or _rejects_name(output), s)
    out_table = OutputTable(out_uri, out_loc, out_opts)
    rej_table = OutputTable(rej_uri, rej_loc, rej_opts)
    _check_remote(how, source, [out_table, rej_table], spec.artifact_store)
    options = {
        "id_column": id_column,
        "chunk_rows": chunk_rows,
        "filter": filter,
        "predict_proba": predict_proba,
    }
    if job_id is None:
        identity = {
            "model": spec.label,
            "input": source.uri,
            "version": source.version,
            "output": out_uri,
            "rejects": rej_uri,
            **options,
        }
        job_id = _default_job_id(spec.name, spec.version, identity)
        previous = store.get_job(job_id)
    job_spec = BatchJobSpec(
        job_id=job_id,
        model_name=spec.name,
        model_version=spec.version,
        model_ref=str(model_ref),
        input_uri=source.uri,
        input_version=source.version,
        output_uri=out_uri,
        rejects_uri=rej_uri,
        options=options,
    )
    if previous is not None:
        diffs = _differences(previous.spec, replace_ref(job_spec, previous.spec.model_ref))
        if diffs:
            raise BatchError(
                f"Job {job_id} exists with other settings; refused ({'; '.join(diffs)}). "
                "Give another --job-id for a new job."
            )
    chunks = plan_chunks(source, chunk_rows, expression)
    with ExitStack() as resources:
        client = None
        if how.address is not None:  # a scheduler is reached before the job is recorded
            client = resources.enter_context(dask_client(how))
        return _drive(
            resources,
            store,
            how,
            client,
            previous,
            job_spec,
            spec,
            source,
            chunks,
            out_table,
            rej_table,
            id_column,
            expression,
            tuple(c.column for c in conditions),
            progress,
            started,
        )


def _drive(
    resources: ExitStack,
    store: BatchStore,
    how: Executor,
    client: Any,
    previous: BatchJobRecord | None,
    job_spec: BatchJobSpec,
    spec: RuntimeSpec,
    source: Source,
    chunks: list[Chunk],
    out_table: OutputTable,
    rej_table: OutputTable,
    id_column: str | None,
    expression: Any,
    filter_columns: tuple[str, ...],
    progress: Callable[[JobProgress], None] | None,
    started: float,
) -> JobSummary:
    """Score the chunks the output does not hold yet, committing each as it completes."""
    job_id = job_spec.job_id
    out_uri, rej_uri = out_table.uri, rej_table.uri
    if previous is None:
        store.create_job(job_spec, chunks_total=len(chunks))
    out_commits, rej_commits = Committer(out_table), Committer(rej_table)
    committed = out_commits.committed(job_id)
    rejects_committed = rej_commits.committed(job_id)
    recorded = {c.chunk_id: c for c in store.list_chunks(job_id)}
    for chunk_id, (rows, rejected) in committed.items():  # reconcile a kill before recording
        if chunk_id not in recorded or recorded[chunk_id].status != "done":
            store.record_chunk(
                job_id, chunk_id, status="done", rows=max(rows, 0), rejected=max(rejected, 0)
            )
    # A chunk whose rows were all filtered out or refused adds no file: done in the store.
    empty_done = {c for c, r in recorded.items() if r.status == "done" and r.rows == 0}
    done = set(committed) | empty_done
    pending = [c for c in chunks if c.chunk_id not in done]
    skipped = len(chunks) - len(pending)
    base_seconds = previous.seconds if previous is not None else 0.0
    if not pending:
        store.set_job_status(job_id, "succeeded", chunks_total=len(chunks))
        return JobSummary(
            job_id,
            spec.name,
            spec.version,
            source.uri,
            source.version,
            out_uri,
            out_commits.version(),
            rej_uri,
            len(chunks),
            0,
            skipped,
            0,
            0,
            0,
            time.perf_counter() - started,
            nothing_to_do=True,
        )
    store.set_job_status(job_id, "running", chunks_total=len(chunks))
    tasks = (
        ChunkTask(
            job_id=job_id,
            chunk=chunk,
            source=source,
            model=spec,
            output=out_table,
            rejects=rej_table,
            id_column=id_column,
            filter=expression,
            filter_columns=filter_columns,
            write_rejects=chunk.chunk_id not in rejects_committed,
            batch_rows=int(job_spec.options["chunk_rows"]),
        )
        for chunk in pending
    )
    rows = rejected = done_now = failed = 0
    errors: list[tuple[str, str]] = []
    output_version = out_commits.version()
    extra = {
        "dockyard.batch.model": spec.label,
        "dockyard.batch.input": f"{source.uri}@{source.version}",
    }

    def commit(results: list[ChunkResult]) -> None:
        """Commit the chunks scored since the last commit, in one transaction per table."""
        nonlocal rows, rejected, done_now, failed, output_version
        ok = []
        for result in results:
            if result.error is None:
                ok.append(result)
                continue
            failed += 1
            errors.append((result.chunk_id, result.error))
            store.record_chunk(
                job_id, result.chunk_id, status="failed", seconds=result.seconds, error=result.error
            )
        if not ok:
            return
        refused = [(r.chunk_id, r.rejects_file, 0) for r in ok if r.rejects_file is not None]
        scored = [(r.chunk_id, r.file, r.rejected) for r in ok if r.file is not None]
        try:
            if refused:  # first: a chunk in the output has its rejects committed
                rej_commits.commit_many(job_id, refused, extra=extra)
            if scored:
                output_version = out_commits.commit_many(job_id, scored, extra=extra)
        except BatchError:
            raise
        except Exception as exc:  # a commit that failed: the chunks are retried on a rerun
            for r in ok:
                failed += 1
                message = f"chunk {r.chunk_id}: commit failed: {type(exc).__name__}: {exc}"
                errors.append((r.chunk_id, message))
                store.record_chunk(job_id, r.chunk_id, status="failed", error=message)
            return
        for r in ok:
            done_now += 1
            rows += r.rows
            rejected += r.rejected
            store.record_chunk(
                job_id,
                r.chunk_id,
                status="done",
                rows=r.rows,
                rejected=r.rejected,
                seconds=r.seconds,
            )

    def report() -> None:
        if progress is not None:
            progress(
                JobProgress(
                    job_id,
                    len(chunks),
                    skipped + done_now,
                    failed,
                    rows,
                    rejected,
                    time.perf_counter() - started,
                )
            )

    report()
    try:
        in_flight = LOCAL_IN_FLIGHT
        if how.kind == "dask" and client is None:  # a local cluster, only for work to do
            client = resources.enter_context(dask_client(how))
        if client is not None:
            in_flight = 2 * max(1, len(client.scheduler_info().get("workers", {})))
        # One commit in flight while the next chunks are scored (a commit is Delta log
        # I/O and a database write, mostly outside the GIL): still one committer. Chunks
        # scored while a commit runs wait, and go together in the next transaction (at
        # most _COMMIT_GROUP), so small chunks do not pay a commit each.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-commit") as pool:
            last: Future[None] | None = None
            waiting: list[ChunkResult] = []
            for result in run_tasks(tasks, how, client, in_flight=in_flight):
                waiting.append(result)
                if last is not None and not last.done() and len(waiting) < _COMMIT_GROUP:
                    continue
                if last is not None:
                    last.result()
                    report()
                last, waiting = pool.submit(commit, waiting), []
            if last is not None:
                last.result()
            if waiting:
                commit(waiting)
            report()
    finally:
        seconds = time.perf_counter() - started
        store.set_job_status(
            job_id,
            "failed" if failed or done_now + skipped < len(chunks) else "succeeded",
            seconds=base_seconds + seconds,
            output_version=output_version,
        )
    return JobSummary(
        job_id,
        spec.name,
        spec.version,
        source.uri,
        source.version,
        out_uri,
        output_version,
        rej_uri,
        len(chunks),
        done_now,
        skipped,
        failed,
        rows,
        rejected,
        seconds,
        tuple(errors),
    )


def replace_ref(spec: BatchJobSpec, model_ref: str) -> BatchJobSpec:
    """``spec`` with another model reference text (the alias may be written differently;
    the version it resolves to is what identifies the job)."""
    from dataclasses import replace

    return replace(spec, model_ref=model_ref)


def status(job_id: str | None = None, *, stack: Stack | str | None = None) -> JobStatus:
    """A job's record and the errors of its failed chunks (the latest job by default).

    Raises:
        BatchError: no such job (or no job at all).
    """
    store: BatchStore = _stack(stack).batch_store
    if job_id is None:
        jobs = store.list_jobs(limit=1)
        if not jobs:
            raise BatchError("No batch job yet. Start one with: dockyard batch run MODEL ...")
        job = jobs[0]
    else:
        found = store.get_job(job_id)
        if found is None:
            raise BatchError(f"No batch job {job_id!r}. List jobs with: dockyard batch status")
        job = found
    errors = tuple(
        (c.chunk_id, c.error or "") for c in store.list_chunks(job.job_id) if c.status == "failed"
    )
    return JobStatus(job, errors)


def list_jobs(*, stack: Stack | str | None = None, limit: int = 20) -> list[BatchJobRecord]:
    """The most recent jobs first."""
    store: BatchStore = _stack(stack).batch_store
    return store.list_jobs(limit=limit)
