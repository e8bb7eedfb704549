"""Events: triggers (a dataset version, a topic message or a dockyard event starts a
pipeline run) and the runs they started.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(512), nullable=False),
        sa.Column("argv", _JSON, nullable=False),
        sa.Column("debounce_s", sa.Float(), nullable=False),
        sa.Column("stack", sa.String(255), nullable=True),
        sa.Column("mark", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_triggers"),
    )
    op.create_table(
        "trigger_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(255), nullable=False),
        sa.Column("reason", _JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("output_tail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trigger_runs"),
        sa.ForeignKeyConstraint(
            ["trigger"],
            ["triggers.name"],
            name="fk_trigger_runs_trigger_triggers",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_trigger_runs_trigger_started_at", "trigger_runs", ["trigger", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_trigger_runs_trigger_started_at", table_name="trigger_runs")
    op.drop_table("trigger_runs")
    op.drop_table("triggers")
