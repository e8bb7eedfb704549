"""SQLAlchemy models of the metadata store: the tables and nothing else.

These classes describe the schema for :mod:`dockyard.metadata.sql_store` and for Alembic's
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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class Base(DeclarativeBase):
    """Declarative base of the metadata tables."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonType}


class Pipeline(Base):
    __tablename__ = "pipelines"

    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    created_at: Mapped[datetime]


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    pipeline: Mapped[str] = mapped_column(
        sa.String(255), sa.ForeignKey("pipelines.name", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(sa.String(16))
    stack: Mapped[str] = mapped_column(sa.String(255))
    params: Mapped[dict[str, Any]]
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        # Ascending: both SQLite and PostgreSQL walk a b-tree backwards for "newest first".
        sa.Index("ix_runs_created_at", "created_at"),
        sa.Index("ix_runs_pipeline_created_at", "pipeline", "created_at"),
    )


class StepRun(Base):
    __tablename__ = "step_runs"

    id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    run_id: Mapped[str] = mapped_column(
        sa.String(ID_LENGTH), sa.ForeignKey("runs.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(16))
    cache_key: Mapped[str | None] = mapped_column(sa.String(128))
    cache_hit: Mapped[bool]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(sa.Float)
    attempts: Mapped[int]
    error: Mapped[str | None] = mapped_column(sa.Text)
    #: When the record was written; orders a run's steps and picks the newest cache hit.
    recorded_at: Mapped[datetime]

    __table_args__ = (
        sa.UniqueConstraint("run_id", "name", name="uq_step_runs_run_id_name"),
        sa.Index("ix_step_runs_cache_key_recorded_at", "cache_key", "recorded_at"),
    )


class StepLog(Base):
    __tablename__ = "step_logs"

    step_run_id: Mapped[str] = mapped_column(
        sa.String(ID_LENGTH), sa.ForeignKey("step_runs.id", ondelete="CASCADE"), primary_key=True
    )
    text: Mapped[str] = mapped_column(sa.Text)


class Artifact(Base):
    __tablename__ = "artifacts"

    id: Mapped[str] = mapped_column(sa.String(ID_LENGTH), primary_key=True)
    uri: Mapped[str] = mapped_column(sa.Text)
    content_hash: Mapped[str] = mapped_column(sa.String(128))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    data_type: Mapped[str] = mapped_column(sa.String(255))
    materializer: Mapped[str] = mapped_column(sa.String(255))
    materializer_version: Mapped[str] = mapped_column(sa.String(64))
    unsafe: Mapped[bool]
    created_at: Mapped[datetime]

    __table_args__ = (
        sa.UniqueConstraint(
            "content_hash",
            "data_type",
            "materializer",
            name="uq_artifacts_content_hash_data_type_materializer",
        ),
    )


class LineageEdge(Base):
    """One input or output of a step run: ``direction`` is ``input`` or ``output``."""

    __tablename__ = "lineage"

    step_run_id: Mapped[str] = mapped_column(
        sa.String(ID_LENGTH), sa.ForeignKey("step_runs.id", ondelete="CASCADE"), primary_key=True
    )
    direction: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    #: Order of the name among the step's inputs (or outputs), as the caller gave them.
    position: Mapped[int]
    artifact_id: Mapped[str] = mapped_column(
        sa.String(ID_LENGTH), sa.ForeignKey("artifacts.id"), index=True
    )

    __table_args__ = (sa.CheckConstraint("direction IN ('input', 'output')", name="direction"),)
