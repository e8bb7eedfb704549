"""Batch scoring jobs and their chunks.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "batch_jobs",
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("model_ref", sa.String(255), nullable=False),
        sa.Column("input_uri", sa.Text(), nullable=False),
        sa.Column("input_version", sa.Integer(), nullable=True),
        sa.Column("output_uri", sa.Text(), nullable=False),
        sa.Column("rejects_uri", sa.Text(), nullable=False),
        sa.Column("options", _JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("output_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_batch_jobs"),
    )
    op.create_index("ix_batch_jobs_updated_at", "batch_jobs", ["updated_at"], unique=False)
    op.create_table(
        "batch_chunks",
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("chunk_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "chunk_id", name="pk_batch_chunks"),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["batch_jobs.job_id"],
            name="fk_batch_chunks_job_id_batch_jobs",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("batch_chunks")
    op.drop_index("ix_batch_jobs_updated_at", table_name="batch_jobs")
    op.drop_table("batch_jobs")
