"""Metadata: the lake dataset versions each step read and wrote.

Revision ID: 0009
Revises: 0008

A step's lineage named only artifacts; a model trained on a lake table could not say
which version of it. Each row is one ``(dataset, version)`` a step run read (``input``)
or wrote (``output``), deleted with its step run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_ID = 32


def upgrade() -> None:
    op.create_table(
        "dataset_lineage",
        sa.Column("step_run_id", sa.String(_ID), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("dataset", sa.String(300), nullable=False),
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "step_run_id", "direction", "dataset", "version", name="pk_dataset_lineage"
        ),
        sa.ForeignKeyConstraint(
            ["step_run_id"],
            ["step_runs.id"],
            name="fk_dataset_lineage_step_run_id_step_runs",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("direction IN ('input', 'output')", name="ck_dataset_lineage_direction"),
    )
    op.create_index("ix_dataset_lineage_dataset_version", "dataset_lineage", ["dataset", "version"])


def downgrade() -> None:
    op.drop_index("ix_dataset_lineage_dataset_version", table_name="dataset_lineage")
    op.drop_table("dataset_lineage")
