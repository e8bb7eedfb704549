"""SQLAlchemy models of the metadata store: the tables and nothing else.

These tables (SQLAlchemy Core, no ORM: the ORM's import alone costs the CLI ~70 ms)
describe the schema for :mod:`dockyard.metadata.sql_store` and for Alembic's
comparison test; they never leave the metadata package (the store returns the frozen
records of :mod:`dockyard.metadata.base`). The schema itself is created and changed only
by the migrations in ``dockyard/metadata/migrations/versions``: change a model here, then
write the matching migration (see :mod:`dockyard.metadata.sql_store`).

Tables::

    pipelines   name                      one row per pipeline name ever run
    runs        id (uuid4 hex)            one execution of a pipeline
    step_runs   id (uuid4 hex)            one execution (or cache hit) of a step in a run
    step_logs   step_run_id               captured output, apart so listings never load it
    artifacts   id (sha256 prefix)        deduplicated by (content_hash, data_type, materializer)
    lineage     step_run_id, direction, name -> artifact_id

Times are stored in UTC and always read back timezone-aware.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

#: Length of every id column (uuid4 hex, sha256 prefix).
ID_LENGTH = 32


def artifact_id(content_hash: str, data_type: str, materializer: str) -> str:
    """The stable id of an artifact: the same bytes, type and materializer, the same id."""
    key = "\x00".join((content_hash, data_type, materializer))
    return hashlib.sha256(key.encode()).hexdigest()[:ID_LENGTH]


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back timezone-aware.

    PostgreSQL keeps the zone (``timestamptz``); SQLite has no zone type, so the value is
    stored as naive UTC and tagged with UTC when read. A naive value given by a caller is
    taken as local time, as Python's own ``astimezone`` does.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSON everywhere, JSONB on PostgreSQL (indexable, compact).
JsonType = sa.JSON().with_variant(JSONB(), "postgresql")

# Constraint names are fixed so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Every table of the metadata store (other modules add theirs: models_registry, ...).
metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def _id(name: str, *args: Any, **kw: Any) -> sa.Column[str]:
    return sa.Column(name, sa.String(ID_LENGTH), *args, nullable=kw.pop("nullable", False), **kw)


def _time(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, UtcDateTime(), nullable=nullable)


pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    _time("created_at"),
)

runs = sa.Table(
    "runs",
    metadata,
    _id("id", primary_key=True),
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
    _time("created_at"),
    _time("ended_at", nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    # Ascending: both SQLite and PostgreSQL walk a b-tree backwards for "newest first".
    sa.Index("ix_runs_created_at", "created_at"),
    sa.Index("ix_runs_pipeline_created_at", "pipeline", "created_at"),
)

step_runs = sa.Table(
    "step_runs",
    metadata,
    _id("id", primary_key=True),
    _id("run_id", sa.ForeignKey("runs.id", ondelete="CASCADE")),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("cache_key", sa.String(128), nullable=True),
    sa.Column("cache_hit", sa.Boolean, nullable=False),
    _time("started_at", nullable=True),
    _time("ended_at", nullable=True),
    sa.Column("duration_s", sa.Float, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    # When the record was written; orders a run's steps and picks the newest cache hit.
    _time("recorded_at"),
    sa.UniqueConstraint("run_id", "name", name="uq_step_runs_run_id_name"),
    sa.Index("ix_step_runs_cache_key_recorded_at", "cache_key", "recorded_at"),
)

step_logs = sa.Table(
    "step_logs",
    metadata,
    _id("step_run_id", sa.ForeignKey("step_runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    _id("id", primary_key=True),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(128), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("data_type", sa.String(255), nullable=False),
    sa.Column("materializer", sa.String(255), nullable=False),
    sa.Column("materializer_version", sa.String(64), nullable=False),
    sa.Column("unsafe", sa.Boolean, nullable=False),
    _time("created_at"),
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
    metadata,
    _id("step_run_id", sa.ForeignKey("step_runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("direction", sa.String(8), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    # Order of the name among the step's inputs (or outputs), as the caller gave them.
    sa.Column("position", sa.Integer, nullable=False),
    _id("artifact_id", sa.ForeignKey("artifacts.id"), index=True),
    sa.CheckConstraint("direction IN ('input', 'output')", name="direction"),
)
