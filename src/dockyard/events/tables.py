"""Tables of the triggers (migration 0011): definitions with their marks, and fired runs.

Imported only by :mod:`dockyard.events.trigger_sql` (an import-linter contract checks it).
"""

from __future__ import annotations

import sqlalchemy as sa

from dockyard.db.types import METADATA, JsonType, UtcDateTime

__all__ = ["trigger_runs", "triggers"]

triggers = sa.Table(
    "triggers",
    METADATA,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("source", sa.String(512), nullable=False),
    sa.Column("argv", JsonType, nullable=False),
    sa.Column("debounce_s", sa.Float, nullable=False),
    sa.Column("stack", sa.String(255), nullable=True),
    # What the trigger has answered: a dataset version, an outbox seq, a message count.
    sa.Column("mark", sa.BigInteger, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_fired_at", UtcDateTime(), nullable=True),
)

trigger_runs = sa.Table(
    "trigger_runs",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "trigger",
        sa.String(255),
        sa.ForeignKey("triggers.name", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("reason", JsonType, nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("ended_at", UtcDateTime(), nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("output_tail", sa.Text, nullable=False),
    sa.Index("ix_trigger_runs_trigger_started_at", "trigger", "started_at"),
)
