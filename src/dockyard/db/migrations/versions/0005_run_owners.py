"""Metadata: who runs a run (owner pid and host) and when it last said it was alive.

Revision ID: 0005
Revises: 0004

A run's status is written by the process that runs it; one killed (SIGKILL, a lost
machine) or cut off from the database at its end never writes it, and its run would read
``running`` forever. With the owner and a heartbeat recorded, the store reports such a
run as ``crashed``. Runs recorded before this revision have neither (NULL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("owner_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("owner_host", sa.String(255), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner_host")
        batch.drop_column("owner_pid")
