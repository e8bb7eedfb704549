"""The SQL schedule store: schedules and their runs on a :class:`Database`.

It reads and writes only the schedules context's tables (:mod:`dockyard.schedules.tables`),
on the same database as the runs the schedules start. The claim of a run is one
``UPDATE ... WHERE next_due_at = ? AND NOT paused AND (running_run IS NULL OR
lease_until < ?)``: the database, not the caller, decides which scheduler got the slot
(SQLite serializes writers, taken with ``BEGIN IMMEDIATE``; PostgreSQL re-checks the
condition on the locked row).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dockyard.db.store import SqlStore
from dockyard.errors import ScheduleError, UnknownScheduleError
from dockyard.schedules import tables
from dockyard.schedules.store import (
    ScheduleDraft,
    ScheduleRecord,
    ScheduleRunRecord,
    ScheduleStore,
)

__all__ = ["SqlScheduleStore"]

_schedules = tables.schedules
_runs = tables.schedule_runs
_HINT = "List schedules with: dockyard schedule list"


def _record(row: Any) -> ScheduleRecord:
    return ScheduleRecord(
        name=row.name,
        cron=row.cron,
        timezone=row.timezone,
        argv=tuple(row.argv or ()),
        catch_up=row.catch_up,
        stack=row.stack,
        paused=bool(row.paused),
        next_due_at=row.next_due_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_run_at=row.last_run_at,
        last_outcome=row.last_outcome,
        running_run=row.running_run,
    )


def _run(row: Any) -> ScheduleRunRecord:
    return ScheduleRunRecord(
        id=row.id,
        schedule=row.schedule,
        due_at=row.due_at,
        started_at=row.started_at,
        outcome=row.outcome,
        runner=row.runner,
        ended_at=row.ended_at,
        exit_code=row.exit_code,
        output_tail=row.output_tail or "",
    )


class SqlScheduleStore(SqlStore, ScheduleStore):
    """Schedules and their runs on SQLAlchemy (SQLite or PostgreSQL).

    Args:
        database: the shared :class:`~dockyard.db.Database`, or a URL to open one for
            this store alone.
        **options: database options when ``database`` is a URL.
    """

    @staticmethod
    def _missing(name: str) -> UnknownScheduleError:
        return UnknownScheduleError(f"No schedule named {name!r}. {_HINT}")

    def create_schedule(
        self, draft: ScheduleDraft, *, next_due_at: datetime, now: datetime
    ) -> ScheduleRecord:
        values = {
            "name": draft.name,
            "cron": draft.cron,
            "timezone": draft.timezone,
            "argv": list(draft.argv),
            "catch_up": draft.catch_up,
            "stack": draft.stack,
            "paused": False,
            "next_due_at": next_due_at,
            "last_run_at": None,
            "last_outcome": None,
            "running_run": None,
            "lease_until": None,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.database.transaction() as conn:
                conn.execute(_schedules.insert(), values)
        except sa.exc.IntegrityError as exc:
            raise ScheduleError(
                f"A schedule named {draft.name!r} exists already. Pick another name, or "
                f"remove it first with: dockyard schedule remove {draft.name}"
            ) from exc
        return self.get_schedule(draft.name)

    def get_schedule(self, name: str) -> ScheduleRecord:
        with self.database.transaction() as conn:
            row = conn.execute(sa.select(_schedules).where(_schedules.c.name == name)).first()
        if row is None:
            raise self._missing(name)
        return _record(row)

    def list_schedules(self) -> list[ScheduleRecord]:
        with self.database.transaction() as conn:
            rows = conn.execute(sa.select(_schedules).order_by(_schedules.c.name)).all()
        return [_record(row) for row in rows]

    def delete_schedule(self, name: str) -> None:
        with self.database.transaction(write=True) as conn:
            # Explicitly, as well as by cascade: SQLite needs foreign_keys=ON for that.
            conn.execute(_runs.delete().where(_runs.c.schedule == name))
            result = conn.execute(_schedules.delete().where(_schedules.c.name == name))
            if result.rowcount == 0:
                raise self._missing(name)

    def set_paused(
        self, name: str, paused: bool, *, now: datetime, next_due_at: datetime | None = None
    ) -> ScheduleRecord:
        values: dict[str, Any] = {"paused": paused, "updated_at": now}
        if next_due_at is not None:
            values["next_due_at"] = next_due_at
        with self.database.transaction(write=True) as conn:
            result = conn.execute(
                _schedules.update().where(_schedules.c.name == name).values(**values)
            )
            if result.rowcount == 0:
                raise self._missing(name)
        return self.get_schedule(name)

    def claim(
        self,
        name: str,
        *,
        expected_due_at: datetime,
        due_at: datetime,
        next_due_at: datetime,
        run_id: str,
        runner: str,
        now: datetime,
        lease_until: datetime,
        outcome: str = "running",
        output_tail: str = "",
    ) -> ScheduleRunRecord | None:
        running = outcome == "running"
        with self.database.transaction(write=True) as conn:
            result = conn.execute(
                _schedules.update()
                .where(
                    _schedules.c.name == name,
                    _schedules.c.next_due_at == expected_due_at,
                    _schedules.c.paused == sa.false(),
                    sa.or_(
                        _schedules.c.running_run.is_(None),
                        _schedules.c.lease_until < now,
                    ),
                )
                .values(
                    next_due_at=next_due_at,
                    running_run=run_id if running else None,
                    lease_until=lease_until if running else None,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return None
            # Holding the claim means no other run of this schedule is alive: one still
            # marked running lost its scheduler (its lease expired).
            conn.execute(
                _runs.update()
                .where(_runs.c.schedule == name, _runs.c.outcome == "running")
                .values(
                    outcome="lost",
                    ended_at=now,
                    output_tail="the scheduler running it stopped before it ended",
                )
            )
            conn.execute(
                _runs.insert(),
                {
                    "id": run_id,
                    "schedule": name,
                    "due_at": due_at,
                    "started_at": now,
                    "ended_at": None if running else now,
                    "outcome": outcome,
                    "exit_code": None,
                    "output_tail": output_tail,
                    "runner": runner,
                },
            )
            row = conn.execute(sa.select(_runs).where(_runs.c.id == run_id)).one()
        return _run(row)

    def renew(self, run_id: str, *, lease_until: datetime) -> bool:
        with self.database.transaction(write=True) as conn:
            result = conn.execute(
                _schedules.update()
                .where(_schedules.c.running_run == run_id)
                .values(lease_until=lease_until)
            )
        return bool(result.rowcount == 1)

    def finish(
        self,
        run_id: str,
        outcome: str,
        *,
        exit_code: int | None,
        output_tail: str,
        now: datetime,
    ) -> ScheduleRunRecord:
        with self.database.transaction(write=True) as conn:
            row = conn.execute(sa.select(_runs).where(_runs.c.id == run_id)).first()
            if row is None:
                raise ScheduleError(f"No scheduled run {run_id!r} to finish. {_HINT}")
            conn.execute(
                _runs.update()
                .where(_runs.c.id == run_id)
                .values(outcome=outcome, ended_at=now, exit_code=exit_code, output_tail=output_tail)
            )
            conn.execute(
                _schedules.update()
                .where(_schedules.c.name == row.schedule)
                .values(last_run_at=row.started_at, last_outcome=outcome)
            )
            conn.execute(
                _schedules.update()
                .where(_schedules.c.name == row.schedule, _schedules.c.running_run == run_id)
                .values(running_run=None, lease_until=None)
            )
            row = conn.execute(sa.select(_runs).where(_runs.c.id == run_id)).one()
        return _run(row)

    def list_runs(self, name: str, limit: int = 20) -> list[ScheduleRunRecord]:
        with self.database.transaction() as conn:
            exists = conn.execute(
                sa.select(_schedules.c.name).where(_schedules.c.name == name)
            ).first()
            if exists is None:
                raise self._missing(name)
            rows = conn.execute(
                sa.select(_runs)
                .where(_runs.c.schedule == name)
                .order_by(_runs.c.started_at.desc(), _runs.c.id.desc())
                .limit(max(1, limit))
            ).all()
        return [_run(row) for row in rows]
