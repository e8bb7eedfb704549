"""When a schedule is due, and what a scheduler does about it: pure functions, no I/O.

The cron expression is parsed by ``croniter`` (never by hand) in the schedule's timezone,
so ``0 2 * * *`` in ``Europe/Madrid`` is 02:00 Madrid time on both sides of a daylight
saving change. Every time handed out is timezone-aware UTC.

**Missed runs** (the scheduler was down, or busy with a long run, when slots passed):

- ``once`` (the default): the slots missed are run **once**, as soon as the scheduler is
  back, not once per slot; then the schedule goes on from the next slot after now.
- ``skip``: missed slots are not run. A slot counts as missed once it is more than the
  scheduler's grace period (at least a minute) in the past; the next run is the next slot.

Example::

    parse_cron("0 2 * * *", name="nightly")              # raises ScheduleError if bad
    decide(next_due, "0 2 * * *", "UTC", "once", now=now, grace=timedelta(minutes=1))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from dockyard.errors import ScheduleError

__all__ = [
    "CATCH_UP_POLICIES",
    "MAX_COUNTED_MISSES",
    "Decision",
    "check_catch_up",
    "decide",
    "latest_slot",
    "next_slot",
    "parse_cron",
    "zone",
]

#: The missed-run policies, the default first.
CATCH_UP_POLICIES = ("once", "skip")
#: Missed slots are counted up to this many (a minutely schedule down for a month would
#: otherwise cost 40,000 iterations to count); the message then says "at least".
MAX_COUNTED_MISSES = 1000

_EXAMPLE = (
    "Use five fields, minute hour day-of-month month day-of-week, "
    "e.g. '0 2 * * *' (every day at 02:00) or '*/15 * * * *' (every 15 minutes)"
)


def _where(name: str | None) -> str:
    return f" for schedule {name!r}" if name else ""


def parse_cron(expression: str, *, name: str | None = None) -> str:
    """``expression`` stripped, checked by croniter.

    Raises:
        ScheduleError: it does not parse; the message names it, croniter's reason and
            an example.
    """
    from croniter import CroniterError, croniter

    text = (expression or "").strip()
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC))
    except (CroniterError, ValueError, KeyError) as exc:
        reason = str(exc).rstrip(".") or type(exc).__name__
        raise ScheduleError(
            f"Invalid cron expression {expression!r}{_where(name)}: {reason}. {_EXAMPLE}."
        ) from exc
    return text


def zone(timezone: str, *, name: str | None = None) -> tzinfo:
    """The IANA timezone called ``timezone`` (``UTC``, ``Europe/Madrid``).

    Raises:
        ScheduleError: no such timezone.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(
            f"Unknown timezone {timezone!r}{_where(name)}: use an IANA name such as 'UTC' "
            "or 'Europe/Madrid'."
        ) from exc


def check_catch_up(policy: str, *, name: str | None = None) -> str:
    """``policy`` if it is a missed-run policy; ScheduleError otherwise."""
    if policy not in CATCH_UP_POLICIES:
        raise ScheduleError(
            f"Unknown missed-run policy {policy!r}{_where(name)}: use "
            f"{' or '.join(CATCH_UP_POLICIES)} (once: runs missed while the scheduler "
            "was down run once on start; skip: they are not run)."
        )
    return policy


def next_slot(cron: str, timezone: str, after: datetime) -> datetime:
    """The first slot of ``cron`` strictly after ``after``, in UTC."""
    from croniter import croniter

    start = after.astimezone(zone(timezone))
    found: datetime = croniter(cron, start).get_next(datetime)
    return found.astimezone(UTC)


def latest_slot(cron: str, timezone: str, at: datetime) -> datetime:
    """The last slot of ``cron`` at or before ``at``, in UTC."""
    from croniter import croniter

    start = at.astimezone(zone(timezone))
    found: datetime = croniter(cron, start).get_prev(datetime)
    # get_prev is strictly before: ``at`` itself may be a slot.
    following = next_slot(cron, timezone, found)
    return following if following <= at else found.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do about one schedule at ``now``.

    Attributes:
        action: ``wait`` (not due), ``run`` (run the slot ``due_at``) or ``skip``
            (missed slots are dropped, per the ``skip`` policy).
        due_at: the slot run or the last slot skipped (None when waiting).
        missed: slots passed since the stored due time, counted up to
            :data:`MAX_COUNTED_MISSES` (1 when only the current slot is due).
        next_due_at: the due time to store after acting (the next slot after ``now``).
    """

    action: Literal["wait", "run", "skip"]
    due_at: datetime | None
    missed: int
    next_due_at: datetime


def _count(cron: str, timezone: str, first: datetime, last: datetime) -> int:
    count, slot = 1, first
    while count < MAX_COUNTED_MISSES:
        slot = next_slot(cron, timezone, slot)
        if slot > last:
            break
        count += 1
    return count


def decide(
    next_due_at: datetime,
    cron: str,
    timezone: str,
    catch_up: str,
    *,
    now: datetime,
    grace: timedelta,
) -> Decision:
    """Whether a schedule whose next slot is ``next_due_at`` runs at ``now``.

    Args:
        grace: how late a slot may be and still count as on time under ``skip`` (a
            scheduler wakes a little after a slot; that is not a miss).
    """
    if now < next_due_at:
        return Decision("wait", None, 0, next_due_at)
    last = latest_slot(cron, timezone, now)
    if last < next_due_at:  # the stored time is not a slot (the cron changed): run it
        last = next_due_at
    missed = _count(cron, timezone, next_due_at, last)
    following = next_slot(cron, timezone, now)
    if catch_up == "skip" and now - last > grace:
        return Decision("skip", last, missed, following)
    return Decision("run", last, missed, following)
