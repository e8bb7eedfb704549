"""Tables of the batch context: scoring jobs and their chunks (migration 0008).

Imported only by :mod:`dockyard.batch.sql_store` (an import-linter contract checks it).

::

    batch_jobs     job_id            model name/version/ref, input (+ pinned version),
                                     output, rejects, options (JSON), status, figures
    batch_chunks   job_id, chunk_id  status (done | failed), rows, rejected, error
"""

from __future__ import annotations

import sqlalchemy as sa

from dockyard.db.types import METADATA, JsonType, UtcDateTime

__all__ = ["batch_chunks", "batch_jobs"]

batch_jobs = sa.Table(
    "batch_jobs",
    METADATA,
    sa.Column("job_id", sa.String(128), primary_key=True),
    sa.Column("model_name", sa.String(255), nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("model_ref", sa.String(255), nullable=False),
    sa.Column("input_uri", sa.Text, nullable=False),
    sa.Column("input_version", sa.Integer, nullable=True),
    sa.Column("output_uri", sa.Text, nullable=False),
    sa.Column("rejects_uri", sa.Text, nullable=False),
    sa.Column("options", JsonType, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("chunks_total", sa.Integer, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("output_version", sa.Integer, nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_batch_jobs_updated_at", "updated_at"),
)

batch_chunks = sa.Table(
    "batch_chunks",
    METADATA,
    sa.Column(
        "job_id",
        sa.String(128),
        sa.ForeignKey("batch_jobs.job_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("chunk_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("rejected", sa.BigInteger, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
