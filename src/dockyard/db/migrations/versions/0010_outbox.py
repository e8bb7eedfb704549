"""The outbox of dockyard's own events (the shared kernel's table).

Revision ID: 0010
Revises: 0009

Each store records the events of its changes here in the change's own transaction (a run
finished, a version registered, an alias moved, a rollout decision); the events context
sends them to the stack's bus and marks them sent, so a bus that is down never fails a
change and never loses its event.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("source", sa.String(512), nullable=False),
        sa.Column("subject", sa.String(512), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("id", name="uq_outbox_id"),
    )
    op.create_index("ix_outbox_sent_at_seq", "outbox", ["sent_at", "seq"])


def downgrade() -> None:
    op.drop_index("ix_outbox_sent_at_seq", table_name="outbox")
    op.drop_table("outbox")
