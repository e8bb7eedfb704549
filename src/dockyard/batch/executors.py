"""Where chunks are scored: in this process, or on a Dask cluster. Only the driver commits.

Both run the same :func:`~dockyard.batch.scoring.score_chunk` and hand its results back
to the driver as they complete; at most ``in_flight`` chunks are out at a time so the
driver's memory stays flat however many chunks a job has. Locally they are scored on that
many threads of the driver's process (the work releases the GIL: parquet I/O, numpy, the
model's BLAS calls).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dockyard.batch.scoring import ChunkResult, ChunkTask, score_chunk
from dockyard.errors import BatchError

__all__ = ["Executor", "parse_executor", "run_tasks"]


@dataclass(frozen=True)
class Executor:
    """``local``, ``dask`` (a LocalCluster of 2 worker processes) or a scheduler address."""

    kind: str  # local | dask
    address: str | None = None  # tcp://HOST:PORT of a running scheduler

    @property
    def remote(self) -> bool:
        """Whether the scheduler is on another machine (its workers see other disks)."""
        from dockyard._dask import is_remote

        return is_remote(self.address)

    def __str__(self) -> str:
        return self.address.replace("tcp://", "dask://") if self.address else self.kind


def parse_executor(text: str) -> Executor:
    """Read ``--executor``: ``local``, ``dask`` or ``dask://HOST:PORT``."""
    if text in ("local", "dask"):
        return Executor(text)
    if text.startswith(("dask://", "tcp://")):
        rest = text.split("://", 1)[1]
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BatchError(
                f"Bad executor {text!r}: write dask://HOST:PORT, e.g. dask://127.0.0.1:8786."
            )
        return Executor("dask", f"tcp://{host}:{port}")
    raise BatchError(f"Unknown executor {text!r}: use local, dask or dask://HOST:PORT.")


@contextmanager
def dask_client(executor: Executor) -> Iterator[Any]:
    """A client of the executor's cluster (a LocalCluster started for the job, or the
    scheduler at its address, checked reachable before any work)."""
    from dockyard._dask import open_client

    with open_client(
        executor.address,
        error=BatchError,
        unreachable=BatchError,
        what="The dask executor",
        shown=str(executor),
        fix="Start one (dask scheduler --host HOST --port PORT) or use --executor dask "
        "for a local cluster.",
    ) as client:
        yield client


def run_tasks(
    tasks: Iterable[ChunkTask], executor: Executor, client: Any = None, in_flight: int = 4
) -> Iterator[ChunkResult]:
    """Score ``tasks``, yielding each result as it completes."""
    if executor.kind == "local":
        yield from _run_local(tasks, in_flight)
        return
    import distributed

    dist: Any = distributed
    pending = iter(tasks)
    futures = dist.as_completed()
    chunk_of: dict[str, str] = {}
    for task in itertools.islice(pending, in_flight):
        futures.add(_submit(client, task, chunk_of))
    for future in futures:  # bounded: each task is added once
        yield _result(future, chunk_of.pop(future.key))
        future.release()
        following = next(pending, None)
        if following is not None:
            futures.add(_submit(client, following, chunk_of))


def _run_local(tasks: Iterable[ChunkTask], in_flight: int) -> Iterator[ChunkResult]:
    if in_flight <= 1:
        yield from map(score_chunk, tasks)
        return
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pending = iter(tasks)
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="batch-score") as pool:
        running = {pool.submit(score_chunk, t) for t in itertools.islice(pending, in_flight)}
        while running:  # bounded: each task is submitted once
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                following = next(pending, None)
                if following is not None:
                    running.add(pool.submit(score_chunk, following))


def _submit(client: Any, task: ChunkTask, chunk_of: dict[str, str]) -> Any:
    # A deterministic key: the same chunk of the same job is the same task.
    key = f"batch-{task.job_id}-{task.chunk.chunk_id}"
    chunk_of[key] = task.chunk.chunk_id
    return client.submit(score_chunk, task, key=key)


def _result(future: Any, chunk_id: str) -> ChunkResult:
    """The chunk's result; a task the cluster could not run (its workers kept dying:
    ``KilledWorker``; the task lost) fails that chunk alone, as a model error would."""
    try:
        result: ChunkResult = future.result()
    except Exception as exc:  # score_chunk returns its own errors: this is the cluster's
        return ChunkResult(
            chunk_id,
            0,
            0,
            0.0,
            error=(
                f"chunk {chunk_id} could not be scored on the Dask cluster: "
                f"{type(exc).__name__}: {exc} (rerun the job to retry it)"
            ),
        )
    return result
