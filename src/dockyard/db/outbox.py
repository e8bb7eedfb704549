"""The outbox: dockyard's own events, written in the same transaction as what they report.

A run that finished, a model version registered, an alias moved, a rollout decision: the
store that records the change also records the event, in the same transaction (the
transactional-outbox pattern), so an event exists exactly when its change committed, and
recording it needs no broker. Sending is separate: the events context's relay reads the
pending events in order (:meth:`Outbox.pending`), publishes each on the stack's event bus
as a CloudEvents message, and marks it sent (:meth:`Outbox.mark_sent`) once the broker
confirmed. A bus that is down delays events; it never fails the change, and nothing is
lost: the relay sends what is pending when the bus is back, oldest first.

Table (migration 0010)::

    outbox  seq (increasing), id (unique: the CloudEvent id), type, source, subject,
            time, data (JSON), sent_at (NULL until sent)

Example (inside a store's transaction)::

    with database.transaction() as conn:
        conn.execute(...)                                   # the change
        record_event(database, conn, "dockyard.model.registered",
                     source="/models/churn", subject="4", data={...}, key=("churn", 4))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from dockyard.db.types import METADATA, JsonType, stable_id, time_column

if TYPE_CHECKING:
    from dockyard.db.engine import Database

__all__ = ["Outbox", "OutboxEvent", "outbox", "record_event"]

outbox = sa.Table(
    "outbox",
    METADATA,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("type", sa.String(128), nullable=False),
    sa.Column("source", sa.String(512), nullable=False),
    sa.Column("subject", sa.String(512), nullable=True),
    time_column("time"),
    sa.Column("data", JsonType, nullable=False),
    time_column("sent_at", nullable=True),
    sa.Index("ix_outbox_sent_at_seq", "sent_at", "seq"),
)


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One recorded event: what a CloudEvent carries, and its place in the outbox."""

    seq: int
    id: str
    type: str
    source: str
    subject: str | None
    time: datetime
    data: dict[str, Any]
    sent_at: datetime | None = None


def record_event(
    database: Database,
    conn: sa.Connection,
    type: str,
    *,
    source: str,
    data: Mapping[str, Any],
    key: Iterable[Any],
    subject: str | None = None,
    time: datetime | None = None,
) -> None:
    """Add an event to the outbox on ``conn`` (the change's own transaction).

    ``key`` names the change (with ``type`` it makes the event's id): a write retried
    after a lost commit answer records the event once, not twice.
    """
    when = time or database.now()
    event_id = stable_id(type, source, *(str(k) for k in key))
    conn.execute(
        database.insert_ignore(outbox),
        {
            "id": event_id,
            "type": type,
            "source": source,
            "subject": subject,
            "time": when,
            "data": dict(data),
            "sent_at": None,
        },
    )


class Outbox:
    """Reading and acknowledging the outbox of one database (the relay's side)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def pending(self, limit: int = 100) -> list[OutboxEvent]:
        """Events not sent yet, oldest first (so each source's events keep their order)."""
        stmt = sa.select(outbox).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.seq)
        with self.database.transaction() as conn:
            return [_event(row) for row in conn.execute(stmt.limit(max(limit, 0)))]

    def recent(self, limit: int = 50, *, after: int | None = None) -> list[OutboxEvent]:
        """The newest events, sent or not, oldest of them first (``events tail`` starts
        here); ``after`` gives only events recorded after that ``seq``."""
        stmt = sa.select(outbox)
        if after is not None:
            stmt = stmt.where(outbox.c.seq > after).order_by(outbox.c.seq).limit(limit)
            with self.database.transaction() as conn:
                return [_event(row) for row in conn.execute(stmt)]
        stmt = stmt.order_by(outbox.c.seq.desc()).limit(limit)
        with self.database.transaction() as conn:
            return [_event(row) for row in reversed(conn.execute(stmt).all())]

    def mark_sent(self, seqs: Sequence[int]) -> None:
        """Record that these events reached the bus."""
        if not seqs:
            return
        now = self.database.now()
        with self.database.transaction() as conn:
            conn.execute(outbox.update().where(outbox.c.seq.in_(list(seqs))).values(sent_at=now))


def _event(row: sa.Row[Any]) -> OutboxEvent:
    return OutboxEvent(
        seq=int(row.seq),
        id=row.id,
        type=row.type,
        source=row.source,
        subject=row.subject,
        time=row.time,
        data=dict(row.data),
        sent_at=row.sent_at,
    )
