"""Schedules: cron schedules of dockyard commands and the runs the scheduler made.

Revision ID: 0007
Revises: 0006

Table ``schedules`` holds each schedule's cron, timezone, command (argv), missed-run
policy, pause flag, next due time and the claim of the run in progress (``running_run``
with a lease), so that two scheduler processes never run one schedule at once. Table
``schedule_runs`` records every run the scheduler made (or skipped) with its outcome.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("cron", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("argv", _JSON, nullable=False),
        sa.Column("catch_up", sa.String(16), nullable=False),
        sa.Column("stack", sa.String(255), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(16), nullable=True),
        sa.Column("running_run", sa.String(32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_schedules"),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("schedule", sa.String(255), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("output_tail", sa.Text(), nullable=False),
        sa.Column("runner", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedule_runs"),
        sa.ForeignKeyConstraint(
            ["schedule"],
            ["schedules.name"],
            name="fk_schedule_runs_schedule_schedules",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_schedule_runs_schedule_started_at",
        "schedule_runs",
        ["schedule", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_schedule_runs_schedule_started_at", table_name="schedule_runs")
    op.drop_table("schedule_runs")
    op.drop_table("schedules")
