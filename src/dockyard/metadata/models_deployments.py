"""Tables of deployments and their rollout events (migration 0003).

::

    deployments      name              gateway host/port, the controller's state (JSON)
                                       with its revision, a waiting operator command,
                                       the agent's pid and heartbeat
    rollout_events   id (autoincrement) deployment -> kind, reason, figures (JSON)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.metadata.models import Base


class Deployment(Base):
    __tablename__ = "deployments"

    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    host: Mapped[str] = mapped_column(sa.String(255))
    port: Mapped[int] = mapped_column(sa.Integer)
    state: Mapped[dict[str, Any]]
    revision: Mapped[int] = mapped_column(sa.Integer)
    command: Mapped[dict[str, Any] | None]
    agent_pid: Mapped[int | None] = mapped_column(sa.Integer)
    heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RolloutEvent(Base):
    __tablename__ = "rollout_events"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(
        sa.String(255), sa.ForeignKey("deployments.name", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(sa.String(32))
    reason: Mapped[str] = mapped_column(sa.Text)
    figures: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    __table_args__ = (sa.Index("ix_rollout_events_deployment_id", "deployment", "id"),)
