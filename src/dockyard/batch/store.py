"""The batch context's port: scoring jobs and the outcome of each of their chunks.

A job is named by its id (``--job-id``, or one derived from the model and the input).
Its record keeps what makes it *the same job* on a rerun (model name and version, input,
pinned input version, output, options) and its progress figures. Which chunks are in the
output is decided by the output Delta table's log alone (the commit that adds a chunk's
rows also records the chunk); the chunk records here are a view of it for ``dockyard
batch status`` and keep the errors of failed chunks.

Example::

    store = SqlBatchStore("sqlite:///:memory:")
    store.create_job(BatchJobSpec(job_id="nightly-1", ...), chunks_total=10)
    store.record_chunk("nightly-1", "c00000", status="done", rows=100_000)
    store.finish_job("nightly-1", status="succeeded")
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

__all__ = ["BatchChunkRecord", "BatchJobRecord", "BatchJobSpec", "BatchStore"]


@dataclass(frozen=True, slots=True)
class BatchJobSpec:
    """What identifies a job: a rerun with the same id must match it field by field."""

    job_id: str
    model_name: str
    model_version: int
    model_ref: str
    input_uri: str
    input_version: int | None
    output_uri: str
    rejects_uri: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchJobRecord:
    """A job, its identity and its figures so far."""

    spec: BatchJobSpec
    status: str  # running | succeeded | failed
    chunks_total: int
    chunks_done: int
    chunks_failed: int
    rows: int
    rejected: int
    seconds: float
    created_at: datetime
    updated_at: datetime
    output_version: int | None = None

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds > 0 else None


@dataclass(frozen=True, slots=True)
class BatchChunkRecord:
    """One chunk of a job: done (in the output) or failed (with the error)."""

    job_id: str
    chunk_id: str
    status: str  # done | failed
    rows: int
    rejected: int
    seconds: float
    error: str | None
    updated_at: datetime


class BatchStore(ABC):
    """Where batch jobs are recorded (the ``batch_store`` stack component)."""

    flavor: ClassVar[str]

    @abstractmethod
    def create_job(self, spec: BatchJobSpec, *, chunks_total: int) -> BatchJobRecord:
        """Record a new job (status ``running``); a job id that exists is an error."""

    @abstractmethod
    def get_job(self, job_id: str) -> BatchJobRecord | None:
        """The job, or None when no job has this id."""

    @abstractmethod
    def list_jobs(self, limit: int = 50) -> list[BatchJobRecord]:
        """The most recently updated jobs first."""

    @abstractmethod
    def record_chunk(
        self,
        job_id: str,
        chunk_id: str,
        *,
        status: str,
        rows: int = 0,
        rejected: int = 0,
        seconds: float = 0.0,
        error: str | None = None,
    ) -> None:
        """Set one chunk's outcome (replacing an earlier one) and the job's figures."""

    @abstractmethod
    def list_chunks(self, job_id: str) -> list[BatchChunkRecord]:
        """The chunks with an outcome, in chunk order."""

    @abstractmethod
    def set_job_status(
        self,
        job_id: str,
        status: str,
        *,
        seconds: float | None = None,
        output_version: int | None = None,
        chunks_total: int | None = None,
    ) -> BatchJobRecord:
        """Set a job's status (``running`` again on a resume) and, optionally, figures."""

    def describe(self) -> dict[str, Any]:
        return {"flavor": self.flavor}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the store holds."""
