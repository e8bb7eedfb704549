"""The SQL batch store: jobs and chunks on the stack's :class:`Database`.

It reads and writes only the batch context's tables (:mod:`dockyard.batch.tables`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dockyard.batch import tables
from dockyard.batch.store import BatchChunkRecord, BatchJobRecord, BatchJobSpec, BatchStore
from dockyard.db.store import SqlStore
from dockyard.errors import BatchError

__all__ = ["SqlBatchStore"]

_jobs = tables.batch_jobs
_chunks = tables.batch_chunks


class SqlBatchStore(SqlStore, BatchStore):
    """Batch jobs on SQLAlchemy (SQLite or PostgreSQL).

    Args:
        database: the shared :class:`~dockyard.db.Database`, or a URL to open one.
        **options: database options when ``database`` is a URL.
    """

    def create_job(self, spec: BatchJobSpec, *, chunks_total: int) -> BatchJobRecord:
        now = self.database.now()
        values = {
            "job_id": spec.job_id,
            "model_name": spec.model_name,
            "model_version": spec.model_version,
            "model_ref": spec.model_ref,
            "input_uri": spec.input_uri,
            "input_version": spec.input_version,
            "output_uri": spec.output_uri,
            "rejects_uri": spec.rejects_uri,
            "options": dict(spec.options),
            "status": "running",
            "chunks_total": chunks_total,
            "seconds": 0.0,
            "output_version": None,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.database.transaction(write=True) as conn:
                conn.execute(_jobs.insert(), values)
        except sa.exc.IntegrityError as exc:
            raise BatchError(f"A batch job {spec.job_id!r} exists already.") from exc
        return self._get(spec.job_id)

    def _records(self, conn: sa.Connection, rows: list[Any]) -> list[BatchJobRecord]:
        if not rows:
            return []
        ids = [r.job_id for r in rows]
        figures: dict[str, dict[str, int]] = {
            i: {"done": 0, "failed": 0, "rows": 0, "rejected": 0} for i in ids
        }
        counts = conn.execute(
            sa.select(
                _chunks.c.job_id,
                _chunks.c.status,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(_chunks.c.rows), 0),
                sa.func.coalesce(sa.func.sum(_chunks.c.rejected), 0),
            )
            .where(_chunks.c.job_id.in_(ids))
            .group_by(_chunks.c.job_id, _chunks.c.status)
        ).all()
        for job_id, status, n, rows_sum, rejected_sum in counts:
            f = figures[job_id]
            if status == "done":
                f["done"] = int(n)
                f["rows"] = int(rows_sum)
                f["rejected"] = int(rejected_sum)
            else:
                f["failed"] = int(n)
        out = []
        for r in rows:
            f = figures[r.job_id]
            spec = BatchJobSpec(
                job_id=r.job_id,
                model_name=r.model_name,
                model_version=r.model_version,
                model_ref=r.model_ref,
                input_uri=r.input_uri,
                input_version=r.input_version,
                output_uri=r.output_uri,
                rejects_uri=r.rejects_uri,
                options=dict(r.options or {}),
            )
            out.append(
                BatchJobRecord(
                    spec=spec,
                    status=r.status,
                    chunks_total=r.chunks_total,
                    chunks_done=f["done"],
                    chunks_failed=f["failed"],
                    rows=f["rows"],
                    rejected=f["rejected"],
                    seconds=float(r.seconds),
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                    output_version=r.output_version,
                )
            )
        return out

    def get_job(self, job_id: str) -> BatchJobRecord | None:
        with self.database.transaction() as conn:
            rows = conn.execute(sa.select(_jobs).where(_jobs.c.job_id == job_id)).all()
            found = self._records(conn, list(rows))
        return found[0] if found else None

    def list_jobs(self, limit: int = 50) -> list[BatchJobRecord]:
        with self.database.transaction() as conn:
            rows = conn.execute(
                sa.select(_jobs).order_by(_jobs.c.updated_at.desc()).limit(limit)
            ).all()
            return self._records(conn, list(rows))

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
        now = self.database.now()
        values = {
            "status": status,
            "rows": rows,
            "rejected": rejected,
            "seconds": seconds,
            "error": error,
            "updated_at": now,
        }
        with self.database.transaction(write=True) as conn:
            updated = conn.execute(
                _chunks.update()
                .where(_chunks.c.job_id == job_id, _chunks.c.chunk_id == chunk_id)
                .values(**values)
            )
            if updated.rowcount == 0:
                conn.execute(_chunks.insert(), {"job_id": job_id, "chunk_id": chunk_id, **values})
            conn.execute(_jobs.update().where(_jobs.c.job_id == job_id).values(updated_at=now))

    def list_chunks(self, job_id: str) -> list[BatchChunkRecord]:
        with self.database.transaction() as conn:
            rows = conn.execute(
                sa.select(_chunks).where(_chunks.c.job_id == job_id).order_by(_chunks.c.chunk_id)
            ).all()
        return [
            BatchChunkRecord(
                job_id=r.job_id,
                chunk_id=r.chunk_id,
                status=r.status,
                rows=int(r.rows),
                rejected=int(r.rejected),
                seconds=float(r.seconds),
                error=r.error,
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    def set_job_status(
        self,
        job_id: str,
        status: str,
        *,
        seconds: float | None = None,
        output_version: int | None = None,
        chunks_total: int | None = None,
    ) -> BatchJobRecord:
        values: dict[str, Any] = {"status": status, "updated_at": self.database.now()}
        if seconds is not None:
            values["seconds"] = seconds
        if output_version is not None:
            values["output_version"] = output_version
        if chunks_total is not None:
            values["chunks_total"] = chunks_total
        with self.database.transaction(write=True) as conn:
            result = conn.execute(_jobs.update().where(_jobs.c.job_id == job_id).values(**values))
            if result.rowcount == 0:
                raise BatchError(f"No batch job {job_id!r}. List jobs with: dockyard batch status")
        return self._get(job_id)

    def _get(self, job_id: str) -> BatchJobRecord:
        job = self.get_job(job_id)
        if job is None:
            raise BatchError(f"No batch job {job_id!r}. List jobs with: dockyard batch status")
        return job
