"""``SqlTriggerStore``: triggers and their runs on the stack's database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dockyard.db.store import SqlStore
from dockyard.errors import TriggerError, UnknownTriggerError
from dockyard.events import tables
from dockyard.events.trigger_store import (
    TriggerDraft,
    TriggerRecord,
    TriggerRunRecord,
    TriggerStore,
)

__all__ = ["SqlTriggerStore"]

_triggers = tables.triggers
_runs = tables.trigger_runs


class SqlTriggerStore(SqlStore, TriggerStore):
    """Triggers on SQLAlchemy (SQLite or PostgreSQL), over the stack's database."""

    def add_trigger(self, draft: TriggerDraft, *, mark: int) -> TriggerRecord:
        now = self.database.now()
        row = {
            "name": draft.name,
            "kind": draft.kind,
            "source": draft.source,
            "argv": list(draft.argv),
            "debounce_s": float(draft.debounce_s),
            "stack": draft.stack,
            "mark": int(mark),
            "created_at": now,
            "last_fired_at": None,
        }
        try:
            with self.database.transaction() as conn:
                conn.execute(_triggers.insert(), row)
        except sa.exc.IntegrityError:
            raise TriggerError(
                f"A trigger named {draft.name!r} exists already; remove it first "
                f"(dockyard trigger remove {draft.name}) or pick another name."
            ) from None
        return _record(row)

    def get_trigger(self, name: str) -> TriggerRecord:
        with self.database.transaction() as conn:
            row = conn.execute(sa.select(_triggers).where(_triggers.c.name == name)).first()
        if row is None:
            raise UnknownTriggerError(
                f"No trigger named {name!r}. List them: dockyard trigger list"
            )
        return _record(row._asdict())

    def list_triggers(self) -> list[TriggerRecord]:
        with self.database.transaction() as conn:
            rows = conn.execute(sa.select(_triggers).order_by(_triggers.c.name)).all()
        return [_record(r._asdict()) for r in rows]

    def remove_trigger(self, name: str) -> None:
        with self.database.transaction() as conn:
            gone = conn.execute(_triggers.delete().where(_triggers.c.name == name)).rowcount
        if not gone:
            raise UnknownTriggerError(
                f"No trigger named {name!r}. List them: dockyard trigger list"
            )

    def fire(
        self,
        name: str,
        *,
        expected_mark: int,
        mark: int,
        reason: Mapping[str, Any],
        run_id: str,
        now: datetime,
    ) -> TriggerRunRecord | None:
        with self.database.transaction() as conn:
            moved = conn.execute(
                _triggers.update()
                .where(_triggers.c.name == name, _triggers.c.mark == expected_mark)
                .values(mark=int(mark), last_fired_at=now)
            ).rowcount
            if moved != 1:
                return None
            run = TriggerRunRecord(run_id, name, dict(reason), now)
            conn.execute(
                _runs.insert(),
                {
                    "id": run_id,
                    "trigger": name,
                    "reason": dict(reason),
                    "started_at": now,
                    "ended_at": None,
                    "outcome": "running",
                    "exit_code": None,
                    "output_tail": "",
                },
            )
        return run

    def finish_run(
        self, run_id: str, outcome: str, *, exit_code: int | None, output_tail: str, now: datetime
    ) -> TriggerRunRecord:
        with self.database.transaction() as conn:
            conn.execute(
                _runs.update()
                .where(_runs.c.id == run_id)
                .values(outcome=outcome, exit_code=exit_code, output_tail=output_tail, ended_at=now)
            )
            row = conn.execute(sa.select(_runs).where(_runs.c.id == run_id)).one()
        return _run(row._asdict())

    def list_runs(self, name: str | None = None, *, limit: int = 20) -> list[TriggerRunRecord]:
        stmt = sa.select(_runs).order_by(_runs.c.started_at.desc(), _runs.c.id).limit(limit)
        if name is not None:
            stmt = stmt.where(_runs.c.trigger == name)
        with self.database.transaction() as conn:
            return [_run(r._asdict()) for r in conn.execute(stmt)]


def _record(row: Mapping[str, Any]) -> TriggerRecord:
    return TriggerRecord(
        name=row["name"],
        kind=row["kind"],
        source=row["source"],
        argv=tuple(row["argv"]),
        debounce_s=float(row["debounce_s"]),
        stack=row["stack"],
        mark=int(row["mark"]),
        created_at=row["created_at"],
        last_fired_at=row["last_fired_at"],
    )


def _run(row: Mapping[str, Any]) -> TriggerRunRecord:
    return TriggerRunRecord(
        id=row["id"],
        trigger=row["trigger"],
        reason=dict(row["reason"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        outcome=row["outcome"],
        exit_code=row["exit_code"],
        output_tail=row["output_tail"],
    )
