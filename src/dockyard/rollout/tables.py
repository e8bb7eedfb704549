"""Tables of the rollout context: deployments and their rollout events (migration 0003).

Imported only by :mod:`dockyard.rollout.sql_store` (an import-linter contract checks it).

::

    deployments      name              gateway host/port, the controller's state (JSON)
                                       with its revision, a waiting operator command,
                                       the agent's pid and heartbeat, its secrets (0004)
    rollout_events   id (autoincrement) deployment -> kind, reason, figures (JSON)
"""

from __future__ import annotations

import sqlalchemy as sa

from dockyard.db.types import METADATA, JsonType, UtcDateTime

__all__ = ["deployments", "rollout_events"]

deployments = sa.Table(
    "deployments",
    METADATA,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("state", JsonType, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("command", JsonType, nullable=True),
    # Never part of a record: read only through DeploymentStore.secrets() (migration 0004).
    sa.Column("secrets", JsonType, nullable=True),
    sa.Column("agent_pid", sa.Integer, nullable=True),
    sa.Column("heartbeat_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

rollout_events = sa.Table(
    "rollout_events",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "deployment",
        sa.String(255),
        sa.ForeignKey("deployments.name", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("figures", JsonType, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_rollout_events_deployment_id", "deployment", "id"),
)
