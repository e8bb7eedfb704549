"""Tables of the schedules context: schedules and their runs (migration 0007).

Imported only by :mod:`dockyard.schedules.sql_store` (an import-linter contract checks it).

::

    schedules       name              cron, timezone, argv (JSON), catch_up, stack, paused,
                                      next due time, last run time and outcome, and the
                                      claim of the run in progress (running_run + lease)
    schedule_runs   id                schedule -> due time, start, end, outcome, exit code,
                                      the tail of its output, the scheduler that ran it
"""

from __future__ import annotations

import sqlalchemy as sa

from dockyard.db.types import METADATA, JsonType, UtcDateTime

__all__ = ["schedule_runs", "schedules"]

schedules = sa.Table(
    "schedules",
    METADATA,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("cron", sa.String(255), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("argv", JsonType, nullable=False),
    sa.Column("catch_up", sa.String(16), nullable=False),
    sa.Column("stack", sa.String(255), nullable=True),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("next_due_at", UtcDateTime(), nullable=False),
    sa.Column("last_run_at", UtcDateTime(), nullable=True),
    sa.Column("last_outcome", sa.String(16), nullable=True),
    # The claim: the id of the run in progress, valid until lease_until (renewed while the
    # child runs). Set by one conditional UPDATE, so two schedulers never both hold it.
    sa.Column("running_run", sa.String(32), nullable=True),
    sa.Column("lease_until", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

schedule_runs = sa.Table(
    "schedule_runs",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "schedule",
        sa.String(255),
        sa.ForeignKey("schedules.name", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("due_at", UtcDateTime(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("ended_at", UtcDateTime(), nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("output_tail", sa.Text, nullable=False),
    sa.Column("runner", sa.String(255), nullable=False),
    sa.Index("ix_schedule_runs_schedule_started_at", "schedule", "started_at"),
)
