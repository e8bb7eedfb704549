"""Initial schema: pipelines, runs, step runs, step logs, artifacts, lineage.

Revision ID: 0001
Revises:
Create Date: 2024-06-01

The tables are written out here, not derived from ``models.py``: a migration must keep
meaning what it meant when it shipped, whatever the models become later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_ID = 32
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_pipelines"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stack", sa.String(255), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(
            ["pipeline"],
            ["pipelines.name"],
            name="fk_runs_pipeline_pipelines",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_index("ix_runs_pipeline_created_at", "runs", ["pipeline", "created_at"])
    op.create_table(
        "step_runs",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("run_id", sa.String(_ID), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cache_key", sa.String(128), nullable=True),
        sa.Column("cache_hit", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_step_runs"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_step_runs_run_id_runs", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("run_id", "name", name="uq_step_runs_run_id_name"),
    )
    op.create_index(
        "ix_step_runs_cache_key_recorded_at",
        "step_runs",
        ["cache_key", "recorded_at"],
    )
    op.create_table(
        "step_logs",
        sa.Column("step_run_id", sa.String(_ID), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("step_run_id", name="pk_step_logs"),
        sa.ForeignKeyConstraint(
            ["step_run_id"],
            ["step_runs.id"],
            name="fk_step_logs_step_run_id_step_runs",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data_type", sa.String(255), nullable=False),
        sa.Column("materializer", sa.String(255), nullable=False),
        sa.Column("materializer_version", sa.String(64), nullable=False),
        sa.Column("unsafe", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_artifacts"),
        sa.UniqueConstraint(
            "content_hash",
            "data_type",
            "materializer",
            name="uq_artifacts_content_hash_data_type_materializer",
        ),
    )
    op.create_table(
        "lineage",
        sa.Column("step_run_id", sa.String(_ID), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.String(_ID), nullable=False),
        sa.PrimaryKeyConstraint("step_run_id", "direction", "name", name="pk_lineage"),
        sa.ForeignKeyConstraint(
            ["step_run_id"],
            ["step_runs.id"],
            name="fk_lineage_step_run_id_step_runs",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.id"], name="fk_lineage_artifact_id_artifacts"
        ),
        sa.CheckConstraint("direction IN ('input', 'output')", name="ck_lineage_direction"),
    )
    op.create_index("ix_lineage_artifact_id", "lineage", ["artifact_id"])


def downgrade() -> None:
    op.drop_table("lineage")
    op.drop_table("artifacts")
    op.drop_table("step_logs")
    op.drop_table("step_runs")
    op.drop_table("runs")
    op.drop_table("pipelines")
