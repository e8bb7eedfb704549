"""Tables of the metadata context: runs, step runs, artifacts and lineage.

SQLAlchemy Core tables on the one :data:`~dockyard.db.types.METADATA`; imported only by
:mod:`dockyard.metadata.sql_store` (an import-linter contract checks it), which returns
the frozen records of :mod:`dockyard.metadata.base`. The schema itself is created and
changed only by the migrations in ``dockyard/db/migrations/versions`` (0001, 0005, 0009): change a
table here, then write the matching migration (see :mod:`dockyard.db.migrate`).

Tables::

    pipelines   name                      one row per pipeline name ever run
    runs        id (uuid4 hex)            one execution of a pipeline, its owner and heartbeat
    step_runs   id (uuid4 hex)            one execution (or cache hit) of a step in a run
    step_logs   step_run_id               captured output, apart so listings never load it
    artifacts   id (sha256 prefix)        deduplicated by (content_hash, data_type, materializer)
    lineage     step_run_id, direction, name -> artifact_id
    dataset_lineage  step_run_id, direction, dataset, version   lake datasets (0009)
"""

from __future__ import annotations

import sqlalchemy as sa

from dockyard.db.types import (
    ID_LENGTH,
    METADATA,
    JsonType,
    id_column,
    stable_id,
    time_column,
)

__all__ = [
    "ID_LENGTH",
    "artifact_id",
    "artifacts",
    "dataset_lineage",
    "lineage",
    "pipelines",
    "runs",
    "step_logs",
    "step_runs",
]


def artifact_id(content_hash: str, data_type: str, materializer: str) -> str:
    """The stable id of an artifact: the same bytes, type and materializer, the same id."""
    return stable_id(content_hash, data_type, materializer)


pipelines = sa.Table(
    "pipelines",
    METADATA,
    sa.Column("name", sa.String(255), primary_key=True),
    time_column("created_at"),
)

runs = sa.Table(
    "runs",
    METADATA,
    id_column("id", primary_key=True),
    sa.Column(
        "pipeline",
        sa.String(255),
        sa.ForeignKey("pipelines.name", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("stack", sa.String(255), nullable=False),
    sa.Column("params", JsonType, nullable=False),
    sa.Column("spec", JsonType, nullable=False),
    time_column("created_at"),
    time_column("ended_at", nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    # The process that runs it and its last sign of life (migration 0005): a running run
    # whose owner is gone reads as crashed. NULL for runs recorded before 0005.
    sa.Column("owner_pid", sa.Integer, nullable=True),
    sa.Column("owner_host", sa.String(255), nullable=True),
    time_column("heartbeat_at", nullable=True),
    # Ascending: both SQLite and PostgreSQL walk a b-tree backwards for "newest first".
    sa.Index("ix_runs_created_at", "created_at"),
    sa.Index("ix_runs_pipeline_created_at", "pipeline", "created_at"),
)

step_runs = sa.Table(
    "step_runs",
    METADATA,
    id_column("id", primary_key=True),
    id_column("run_id", sa.ForeignKey("runs.id", ondelete="CASCADE")),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("cache_key", sa.String(128), nullable=True),
    sa.Column("cache_hit", sa.Boolean, nullable=False),
    time_column("started_at", nullable=True),
    time_column("ended_at", nullable=True),
    sa.Column("duration_s", sa.Float, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    # When the record was written; orders a run's steps and picks the newest cache hit.
    time_column("recorded_at"),
    sa.UniqueConstraint("run_id", "name", name="uq_step_runs_run_id_name"),
    sa.Index("ix_step_runs_cache_key_recorded_at", "cache_key", "recorded_at"),
)

step_logs = sa.Table(
    "step_logs",
    METADATA,
    id_column("step_run_id", sa.ForeignKey("step_runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
)

artifacts = sa.Table(
    "artifacts",
    METADATA,
    id_column("id", primary_key=True),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(128), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("data_type", sa.String(255), nullable=False),
    sa.Column("materializer", sa.String(255), nullable=False),
    sa.Column("materializer_version", sa.String(64), nullable=False),
    sa.Column("unsafe", sa.Boolean, nullable=False),
    time_column("created_at"),
    sa.UniqueConstraint(
        "content_hash",
        "data_type",
        "materializer",
        name="uq_artifacts_content_hash_data_type_materializer",
    ),
)

#: One input or output of a step run: ``direction`` is ``input`` or ``output``.
lineage = sa.Table(
    "lineage",
    METADATA,
    id_column("step_run_id", sa.ForeignKey("step_runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("direction", sa.String(8), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    # Order of the name among the step's inputs (or outputs), as the caller gave them.
    sa.Column("position", sa.Integer, nullable=False),
    id_column("artifact_id", sa.ForeignKey("artifacts.id"), index=True),
    sa.CheckConstraint("direction IN ('input', 'output')", name="direction"),
)

#: A lake dataset version a step read (``input``) or wrote (``output``); migration 0009.
#: ``dataset`` is ``ZONE/NAME``: the lake is the stack's, as the run's is.
dataset_lineage = sa.Table(
    "dataset_lineage",
    METADATA,
    id_column("step_run_id", sa.ForeignKey("step_runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("direction", sa.String(8), primary_key=True),
    sa.Column("dataset", sa.String(300), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
    # Order of first use within the step.
    sa.Column("position", sa.Integer, nullable=False),
    sa.CheckConstraint("direction IN ('input', 'output')", name="direction"),
    sa.Index("ix_dataset_lineage_dataset_version", "dataset", "version"),
)
