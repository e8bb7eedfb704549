"""Schedules from Python: what ``dockyard schedule ...`` does.

Schedules live in the active stack's ``schedule_store`` (the metadata database by
default); pass ``store=`` to use another. ``stack=`` of :func:`add` is the stack the
scheduled command runs on (``DOCKYARD_STACK`` of its process), not where the schedule is
kept.

Example::

    from dockyard import schedules

    schedules.add("nightly", "0 2 * * *", ["run", "train.py:training", "-p", "n=10"])
    schedules.add("score", "30 3 * * *", ["batch", "run", "churn@production",
                  "--input", "lake://curated/customers", "--output", "lake://predictions/churn"],
                  timezone="Europe/Madrid", catch_up="skip")
    for s in schedules.list_schedules():
        print(s.name, s.next_due_at, s.last_outcome)
    schedules.history("nightly")[0].outcome      # "succeeded"
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dockyard.schedules.commands import check_command, check_name
from dockyard.schedules.store import ScheduleDraft, ScheduleRecord, ScheduleRunRecord
from dockyard.schedules.timing import check_catch_up, decide, next_slot, parse_cron, zone

if TYPE_CHECKING:
    from dockyard.schedules.store import ScheduleStore

__all__ = [
    "add",
    "default_store",
    "due",
    "history",
    "list_schedules",
    "pause",
    "remove",
    "resume",
]

#: How late a slot may be and still be on time, for ``due()`` (the scheduler uses its own,
#: from its tick).
DEFAULT_GRACE = timedelta(minutes=1)


def default_store() -> ScheduleStore:
    """The active stack's schedule store."""
    from dockyard.stacks.stack import load_stack

    store: ScheduleStore = load_stack().component("schedule_store")
    return store


def _check_stack(name: str) -> None:
    """An unknown stack is refused now, not at 02:00 (UnknownStackError names the known)."""
    from dockyard.settings import find_project_root
    from dockyard.stacks.config import ProjectConfig

    ProjectConfig.load(find_project_root()).stack(name)


def _now() -> datetime:
    return datetime.now(UTC)


def add(
    name: str,
    cron: str,
    command: Sequence[str],
    *,
    timezone: str = "UTC",
    catch_up: str = "once",
    stack: str | None = None,
    store: ScheduleStore | None = None,
) -> ScheduleRecord:
    """Add a schedule that runs dockyard ``command`` (argv, without ``dockyard``).

    Args:
        cron: a cron expression, read by croniter in ``timezone``.
        command: e.g. ``["run", "train.py:training", "-p", "n=10"]``; the first word
            must be a schedulable command (``dockyard.schedules.SCHEDULABLE_COMMANDS``).
        catch_up: ``once`` (runs missed while no scheduler ran run once when one starts)
            or ``skip`` (they are not run).
        stack: the stack the command runs on (default: the scheduler's active stack).

    Raises:
        ScheduleError: a bad name, cron, timezone, policy or command, or a name in use.
        UnknownStackError: ``stack`` is not a stack of the project.
    """
    check_name(name)
    expression = parse_cron(cron, name=name)
    zone(timezone, name=name)
    check_catch_up(catch_up, name=name)
    argv = check_command(command, name=name)
    if stack is not None:
        _check_stack(stack)
    now = _now()
    draft = ScheduleDraft(name, expression, timezone, argv, catch_up, stack)
    return (store or default_store()).create_schedule(
        draft, next_due_at=next_slot(expression, timezone, now), now=now
    )


def list_schedules(*, store: ScheduleStore | None = None) -> list[ScheduleRecord]:
    """Every schedule, by name."""
    return (store or default_store()).list_schedules()


def remove(name: str, *, store: ScheduleStore | None = None) -> None:
    """Delete a schedule and its history. UnknownScheduleError when there is none."""
    (store or default_store()).delete_schedule(name)


def pause(name: str, *, store: ScheduleStore | None = None) -> ScheduleRecord:
    """Stop running a schedule until :func:`resume` (a run in progress finishes)."""
    return (store or default_store()).set_paused(name, True, now=_now())


def resume(name: str, *, store: ScheduleStore | None = None) -> ScheduleRecord:
    """Run a paused schedule again from its next slot (slots passed while paused are
    not caught up: pausing said they were not wanted)."""
    s = store or default_store()
    record = s.get_schedule(name)
    if not record.paused:
        return record
    now = _now()
    following = next_slot(record.cron, record.timezone, now)
    return s.set_paused(name, False, now=now, next_due_at=following)


def due(now: datetime | None = None, *, store: ScheduleStore | None = None) -> list[ScheduleRecord]:
    """The unpaused schedules a scheduler would act on at ``now`` (run, or skip under
    the ``skip`` policy), by name."""
    when = now or _now()
    return [
        r
        for r in (store or default_store()).list_schedules()
        if not r.paused
        and decide(
            r.next_due_at, r.cron, r.timezone, r.catch_up, now=when, grace=DEFAULT_GRACE
        ).action
        != "wait"
    ]


def history(
    name: str, *, limit: int = 20, store: ScheduleStore | None = None
) -> list[ScheduleRunRecord]:
    """The newest ``limit`` runs of schedule ``name``, newest first."""
    return (store or default_store()).list_runs(name, limit)
